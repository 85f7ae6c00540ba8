//! Calls written as bare JSON objects (`{"name": ..., "arguments": ...}`), possibly in a
//! ```json fence: how llama.cpp's Llama 3 and (lenient) Hermes parsers find them. When the
//! request's tool names are known, an object naming another function stays text.

use super::json_scan::skip_ws;
use super::scan::{held_tail, json_call, Body, Found, NAME_ARGUMENTS};

#[derive(PartialEq)]
pub(crate) enum Probe {
    Match,
    Prefix,
    No,
}

/// Whether `rest` starts like a call object: `{"name": "` (optionally after
/// `"type": "function",`), llama.cpp's Llama 3 function regex.
pub(crate) fn probe_call_start(rest: &str) -> Probe {
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

/// The earliest `{` in `text[from..to]` that starts a call object.
pub(crate) fn find_bare_call(text: &str, from: usize, to: usize, partial: bool) -> Found {
    for (p, _) in text[from..to].match_indices('{') {
        let p = from + p;
        match probe_call_start(&text[p..]) {
            Probe::Match => return Found::At(p, p, 0),
            Probe::Prefix if partial => return Found::Held(p),
            _ => {}
        }
    }
    Found::Nothing
}

/// The earliest ```` ``` ```` (or ```` ```json ````) fence opening a call object; the opener
/// ends before the object.
pub(crate) fn find_fenced_call(text: &str, from: usize, partial: bool, which: usize) -> Found {
    for (p, _) in text[from..].match_indices("```") {
        let p = from + p;
        let rest = &text[p + 3..];
        let lang = ["json", "xml"]
            .iter()
            .find(|l| rest.starts_with(**l))
            .map_or(0, |l| l.len());
        let at = skip_ws(text.as_bytes(), p + 3 + lang);
        let lang_prefix =
            lang == 0 && !rest.is_empty() && ["json", "xml"].iter().any(|l| l.starts_with(rest));
        match probe_call_start(&text[at..]) {
            Probe::Match => return Found::At(p, at, which),
            Probe::Prefix if partial => return Found::Held(p),
            _ if partial && lang_prefix => return Found::Held(p),
            _ => {}
        }
    }
    match partial
        .then(|| held_tail(&text[from..], &["```"]))
        .flatten()
    {
        Some(h) => Found::Held(from + h),
        None => Found::Nothing,
    }
}

/// The earlier of two finds (a held tail before a match wins: it may still become a call).
pub(crate) fn earliest(a: Found, b: Found) -> Found {
    let pos = |f: &Found| match f {
        Found::At(s, _, _) | Found::Held(s) => Some(*s),
        Found::Nothing => None,
    };
    match (pos(&a), pos(&b)) {
        (Some(x), Some(y)) if y < x => b,
        (Some(_), _) => a,
        (None, _) => b,
    }
}

/// A JSON call object at `i`, then `close`, whose name is one of `names` (any when empty).
pub(crate) fn named_call(s: &str, i: usize, close: &str, names: &[&str]) -> Body {
    match json_call(s, i, &NAME_ARGUMENTS, close) {
        Body::Done { calls, .. } | Body::Partial { calls }
            if !names.is_empty() && calls.iter().any(|c| !names.contains(&c.name.as_str())) =>
        {
            Body::Invalid
        }
        other => other,
    }
}
