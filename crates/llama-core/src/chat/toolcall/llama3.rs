//! Llama 3.x: a bare `{"name": ..., "parameters": ...}` object anywhere in the output, and
//! with built-in tools `<|python_tag|>` followed by `tool.call(arg=value)`, a JSON call, or
//! Python code (the `python` tool, `{"code": ...}`).

use super::bare_json::{find_bare_call, named_call};
use super::json_scan::{escape_str, skip_value, Scan};
use super::scan::{find_opener, json_call, walk_with, Body, Found, PCall, Walk, NAME_ARGUMENTS};

pub(crate) const PYTHON_TAG: &str = "<|python_tag|>";

/// The earliest call object or `<|python_tag|>` (opener 1 is the tag).
fn find_llama3(text: &str, from: usize, partial: bool, builtin: bool) -> Found {
    let tag = if builtin {
        find_opener(text, from, &[PYTHON_TAG], partial)
    } else {
        Found::Nothing
    };
    let tag_at = match tag {
        Found::At(s, _, _) | Found::Held(s) => s,
        Found::Nothing => text.len(),
    };
    match find_bare_call(text, from, tag_at, partial) {
        Found::Nothing => {}
        found => return found,
    }
    match tag {
        Found::At(s, e, _) => Found::At(s, e, 1),
        other => other,
    }
}

pub(crate) fn llama3(text: &str, partial: bool, builtin: bool, names: &[&str]) -> Walk {
    walk_with(
        text,
        partial,
        |t, from, p| find_llama3(t, from, p, builtin),
        |s, i, which| match which {
            0 => named_call(s, i, "", names),
            _ => python_tag_body(s, i, partial),
        },
    )
}

/// After `<|python_tag|>`: the rest of the output is one call.
pub(crate) fn python_tag_body(s: &str, i: usize, partial: bool) -> Body {
    let rest = s[i..].trim_start();
    let start = s.len() - rest.len();
    if rest.starts_with('{') {
        return json_call(s, start, &NAME_ARGUMENTS, "");
    }
    let ident_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let after = &rest[ident_len..];
    if ident_len > 0 && after.starts_with(".call(") {
        return builtin_call(
            &rest[..ident_len],
            &after[".call(".len()..],
            s.len(),
            partial,
        );
    }
    if partial && ident_len == rest.len()
        || (ident_len > 0 && ".call(".starts_with(after)) && partial
    {
        // Still could be `tool.call(`: wait.
        return Body::Partial { calls: vec![] };
    }
    let code = escape_str(rest);
    let args = if partial {
        format!("{{\"code\":\"{code}")
    } else {
        format!("{{\"code\":\"{code}\"}}")
    };
    let call = PCall {
        id: String::new(),
        name: "python".into(),
        args,
    };
    if partial {
        Body::Partial { calls: vec![call] }
    } else {
        Body::Done {
            calls: vec![call],
            end: s.len(),
        }
    }
}

/// `name.call(arg=value)`: `{"arg": value}` once the call is closed.
fn builtin_call(name: &str, inner: &str, end: usize, partial: bool) -> Body {
    let mut call = PCall {
        id: String::new(),
        name: name.to_string(),
        args: String::new(),
    };
    let arg_len = inner
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let after = inner[arg_len..].trim_start();
    let value = after.strip_prefix('=').map(str::trim_start);
    let parsed = value.and_then(|v| match skip_value(v.as_bytes(), 0) {
        Scan::Done(e) if v[e..].trim() == ")" => {
            serde_json::from_str::<serde_json::Value>(&v[..e]).ok()
        }
        _ => None,
    });
    match parsed {
        Some(v) if arg_len > 0 => {
            call.args = serde_json::json!({ &inner[..arg_len]: v }).to_string();
            Body::Done {
                calls: vec![call],
                end,
            }
        }
        _ if partial => Body::Partial { calls: vec![call] },
        _ => Body::Invalid,
    }
}
