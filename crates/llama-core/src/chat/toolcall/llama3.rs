//! Llama 3.x: a bare `{"name": ..., "parameters": ...}` object anywhere in the output, and
//! with built-in tools `<|python_tag|>` followed by `tool.call(arg=value)`, a JSON call, or
//! Python code (the `python` tool, `{"code": ...}`).

use super::json_scan::{escape_str, skip_value, skip_ws, Scan};
use super::scan::{find_opener, json_call, walk_with, Body, Found, PCall, Walk, NAME_ARGUMENTS};

pub(crate) const PYTHON_TAG: &str = "<|python_tag|>";

#[derive(PartialEq)]
enum Probe {
    Match,
    Prefix,
    No,
}

/// Whether `rest` starts like a call object: `{"name": "` (optionally after
/// `"type": "function",`), llama.cpp's Llama 3 function regex.
fn probe_call_start(rest: &str) -> Probe {
    const WS: &str = "";
    let plain: &[&str] = &["{", WS, "\"name\"", WS, ":", WS, "\""];
    let typed: &[&str] = &[
        "{",
        WS,
        "\"type\"",
        WS,
        ":",
        WS,
        "\"function\"",
        WS,
        ",",
        WS,
        "\"name\"",
        WS,
        ":",
        WS,
        "\"",
    ];
    let results = [probe_seq(rest, plain), probe_seq(rest, typed)];
    if results.contains(&Probe::Match) {
        Probe::Match
    } else if results.contains(&Probe::Prefix) {
        Probe::Prefix
    } else {
        Probe::No
    }
}

/// Steps are literals; an empty step is optional whitespace.
fn probe_seq(rest: &str, steps: &[&str]) -> Probe {
    let mut i = 0;
    for step in steps {
        if step.is_empty() {
            i = skip_ws(rest.as_bytes(), i);
            continue;
        }
        let r = &rest[i..];
        if r.starts_with(step) {
            i += step.len();
        } else if step.starts_with(r) {
            return Probe::Prefix;
        } else {
            return Probe::No;
        }
    }
    Probe::Match
}

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
    for (p, _) in text[from..tag_at].match_indices('{') {
        let p = from + p;
        match probe_call_start(&text[p..]) {
            Probe::Match => return Found::At(p, p, 0),
            Probe::Prefix if partial => return Found::Held(p),
            _ => {}
        }
    }
    match tag {
        Found::At(s, e, _) => Found::At(s, e, 1),
        other => other,
    }
}

pub(crate) fn llama3(text: &str, partial: bool, builtin: bool) -> Walk {
    walk_with(
        text,
        partial,
        |t, from, p| find_llama3(t, from, p, builtin),
        |s, i, which| match which {
            0 => json_call(s, i, &NAME_ARGUMENTS, ""),
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
