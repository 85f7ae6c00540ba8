//! DeepSeek R1 (and V3/V3.1) calls: `<｜tool▁calls▁begin｜>` then per call
//! `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>`
//! (V3.1: `<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜>`), then
//! `<｜tool▁calls▁end｜>`.

use super::functionary::args_object_call;
use super::json_scan::skip_ws;
use super::scan::{walk, Body, PCall, Walk};

/// The spellings llama.cpp accepts for the block opener.
const OPENERS: [&str; 5] = [
    "<｜tool▁calls▁begin｜>",
    "<｜tool_calls_begin｜>",
    "<｜tool calls begin｜>",
    "<｜tool\\_calls\\_begin｜>",
    "<｜tool▁calls｜>",
];
const CALL_BEGIN: &str = "<｜tool▁call▁begin｜>";
const CALL_END: &str = "<｜tool▁call▁end｜>";
const SEP: &str = "<｜tool▁sep｜>";
const CALLS_END: &str = "<｜tool▁calls▁end｜>";

/// `Some(Ok(after))` when `lit` is at `i`, `None` when the text may still grow into it.
fn lit(s: &str, i: usize, lit: &str) -> Option<Result<usize, ()>> {
    let rest = &s[i..];
    if rest.starts_with(lit) {
        Some(Ok(i + lit.len()))
    } else if lit.starts_with(rest) {
        None
    } else {
        Some(Err(()))
    }
}

pub(crate) fn deepseek_r1(text: &str, partial: bool) -> Walk {
    walk(text, partial, &OPENERS, |s, i, _| block(s, i))
}

fn block(s: &str, i: usize) -> Body {
    let mut calls = Vec::new();
    let mut j = skip_ws(s.as_bytes(), i);
    loop {
        if j == s.len() && !calls.is_empty() {
            // Models often stop right after their last call.
            return Body::Done { calls, end: j };
        }
        match lit(s, j, CALLS_END) {
            Some(Ok(end)) => {
                return Body::Done {
                    calls,
                    end: skip_ws(s.as_bytes(), end),
                }
            }
            None => return Body::Partial { calls },
            Some(Err(())) => {}
        }
        match one_call(s, j) {
            Body::Done { calls: c, end } => {
                calls.extend(c);
                j = end;
            }
            Body::Partial { calls: c } => {
                calls.extend(c);
                return Body::Partial { calls };
            }
            _ => return Body::Invalid,
        }
    }
}

/// One `<｜tool▁call▁begin｜>…<｜tool▁call▁end｜>` at `j`, then whitespace.
fn one_call(s: &str, j: usize) -> Body {
    let partial = Body::Partial { calls: vec![] };
    let j = match lit(s, j, CALL_BEGIN) {
        Some(Ok(j)) => j,
        None => return partial,
        Some(Err(())) => return Body::Invalid,
    };
    let Some(sep) = s[j..].find(SEP) else {
        let head = &s[j..];
        let ok = !head.contains('\n') && !head.contains('{');
        return if ok { partial } else { Body::Invalid };
    };
    let head = s[j..j + sep].trim();
    let after_sep = j + sep + SEP.len();
    let (name, args_at) = if head.is_empty() || head == "function" {
        // R1: the name runs to the end of the line, then an optional ```json fence.
        let Some(nl) = s[after_sep..].find('\n') else {
            return partial;
        };
        let name = s[after_sep..after_sep + nl].trim();
        let mut k = after_sep + nl + 1;
        match lit(s, k, "```json") {
            Some(Ok(e)) => k = e,
            None => return partial,
            Some(Err(())) => {}
        }
        (name, k)
    } else {
        (head, after_sep)
    };
    if name.is_empty() {
        return Body::Invalid;
    }
    // The closing fence, if any, then the call end.
    match args_object_call(s, name, args_at, "") {
        Body::Done { calls, end } => close_call(s, end, calls),
        other => other,
    }
}

fn close_call(s: &str, end: usize, calls: Vec<PCall>) -> Body {
    let mut k = end;
    match lit(s, k, "```") {
        Some(Ok(e)) => k = skip_ws(s.as_bytes(), e),
        None => return Body::Partial { calls },
        Some(Err(())) => {}
    }
    match lit(s, k, CALL_END) {
        Some(Ok(e)) => Body::Done {
            calls,
            end: skip_ws(s.as_bytes(), e),
        },
        None => Body::Partial { calls },
        Some(Err(())) => Body::Invalid,
    }
}
