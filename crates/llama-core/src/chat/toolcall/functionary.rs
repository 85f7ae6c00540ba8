//! Functionary: v3.1 (Llama 3.1 based) writes `<function=NAME>{...}</function>` and
//! `<|python_tag|>code`; v3.2 answers after the prompt's `>>>` with a recipient line —
//! `all\n` text, `NAME\n{...}` a call, `python\n` code — and `>>>` before the next one.

use super::json_scan::{escape_str, minify, skip_value, skip_ws, Scan};
use super::llama3::{python_tag_body, PYTHON_TAG};
use super::scan::{expect_close, held_tail, walk, Body, PCall, Walk};

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// A call whose arguments are the JSON object at `i`, then `close`.
pub(crate) fn args_object_call(s: &str, name: &str, i: usize, close: &str) -> Body {
    let i = skip_ws(s.as_bytes(), i);
    // The call shows only once its arguments have begun: the name alone may still be text.
    match s.as_bytes().get(i) {
        None => return Body::Partial { calls: vec![] },
        Some(b'{') => {}
        Some(_) => return Body::Invalid,
    }
    match skip_value(s.as_bytes(), i) {
        Scan::Invalid => Body::Invalid,
        Scan::Incomplete => Body::Partial {
            calls: vec![pcall(name, minify(&s[i..]))],
        },
        Scan::Done(e) => {
            let call = pcall(name, minify(&s[i..e]));
            match expect_close(s, e, close) {
                Some(Ok(end)) => Body::Done {
                    calls: vec![call],
                    end,
                },
                None => Body::Partial { calls: vec![call] },
                Some(Err(())) => Body::Invalid,
            }
        }
    }
}

fn pcall(name: &str, args: String) -> PCall {
    PCall {
        id: String::new(),
        name: name.to_string(),
        args,
    }
}

pub(crate) fn functionary_v31(text: &str, partial: bool) -> Walk {
    walk(text, partial, &["<function=", PYTHON_TAG], |s, i, which| {
        if which == 1 {
            return python_tag_body(s, i, partial);
        }
        let Some(close) = s[i..].find('>') else {
            let ok = s[i..].chars().all(is_name_char);
            return if ok {
                Body::Partial { calls: vec![] }
            } else {
                Body::Invalid
            };
        };
        let name = &s[i..i + close];
        if name.is_empty() || !name.chars().all(is_name_char) {
            return Body::Invalid;
        }
        args_object_call(s, name, i + close + 1, "</function>")
    })
}

/// v3.2: `text` is what follows the prompt's final `>>>`.
pub(crate) fn functionary_v32(text: &str, partial: bool) -> Walk {
    let mut out = Walk::default();
    let mut pos = 0;
    while pos < text.len() {
        let rest = &text[pos..];
        let Some(nl) = rest.find('\n') else {
            // The recipient line is not finished.
            if !partial && !rest.trim().is_empty() && rest.trim() != "all" {
                out.content.push_str(rest);
            }
            break;
        };
        let recipient = rest[..nl].trim();
        let body_at = pos + nl + 1;
        if recipient == "all" || recipient == "python" || !recipient.chars().all(is_name_char) {
            let (segment, next) = segment(text, body_at, partial);
            if recipient == "all" {
                out.content.push_str(segment);
            } else if recipient == "python" {
                let code = escape_str(segment);
                let close = if next.is_some() || !partial {
                    "\"}"
                } else {
                    ""
                };
                out.calls
                    .push(pcall("python", format!("{{\"code\":\"{code}{close}")));
            } else {
                // Not a recipient line: the rest is text.
                out.content.push_str(&text[pos..]);
                break;
            }
            match next {
                Some(n) => pos = n,
                None => break,
            }
            continue;
        }
        match args_object_call(text, recipient, body_at, "") {
            Body::Done { calls, end } => {
                out.calls.extend(calls);
                match text[end..].strip_prefix(">>>") {
                    Some(_) => pos = end + 3,
                    None if partial && ">>>".starts_with(&text[end..]) => break,
                    None => {
                        out.content.push_str(&text[end..]);
                        break;
                    }
                }
            }
            Body::Partial { calls } if partial => {
                out.calls.extend(calls);
                break;
            }
            _ => {
                out.content.push_str(&text[pos..]);
                break;
            }
        }
    }
    out
}

/// The text from `at` to the next `>>>` (and where the next recipient starts); a partial
/// text holds back a tail that may be `>>>`.
fn segment(text: &str, at: usize, partial: bool) -> (&str, Option<usize>) {
    let rest = &text[at..];
    match rest.find(">>>") {
        Some(p) => (&rest[..p], Some(at + p + 3)),
        None if partial => (
            &rest[..held_tail(rest, &[">>>"]).unwrap_or(rest.len())],
            None,
        ),
        None => (rest, None),
    }
}
