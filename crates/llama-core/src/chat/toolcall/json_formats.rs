//! Formats whose calls are JSON objects after a marker: Hermes/Qwen 2.5 `<tool_call>`,
//! Mistral Nemo `[TOOL_CALLS]`, Nemotron `<TOOLCALL>`, FireFunction ` functools`, Granite
//! `<|tool_call|>`, Command R7B `<|START_ACTION|>`, and the generic `{"tool_calls": ...}`.

use super::bare_json::{earliest, find_bare_call, find_fenced_call, named_call};
use super::json_scan::{decode_string, minify, scan_object, skip_ws, Scan};
use super::scan::{
    find_opener, json_call, json_call_array, walk, walk_with, Body, Found, Keys, Walk,
    NAME_ARGUMENTS,
};

const MISTRAL_KEYS: Keys = Keys {
    name: &["name"],
    args: &["arguments", "parameters"],
    id: &["id"],
};

const COMMAND_R_KEYS: Keys = Keys {
    name: &["tool_name"],
    args: &["parameters"],
    id: &["tool_call_id"],
};

/// Markers dropped from the content (they only frame the text).
fn dropped(end: usize) -> Body {
    Body::Text {
        text: String::new(),
        end,
    }
}

/// `<tool_call>{...}</tool_call>`; like llama.cpp's Hermes parser also a call object in a
/// ```json fence or bare (small models drop the tags), when it names one of the tools.
pub(crate) fn hermes(text: &str, partial: bool, names: &[&str]) -> Walk {
    let find = |t: &str, from: usize, p: bool| {
        let tag = find_opener(t, from, &["<tool_call>"], p);
        let fenced = find_fenced_call(t, from, p, 2);
        let first = earliest(tag, fenced);
        let to = match first {
            Found::At(s, _, _) | Found::Held(s) => s,
            Found::Nothing => t.len(),
        };
        match find_bare_call(t, from, to, p) {
            Found::At(s, e, _) => Found::At(s, e, 1),
            Found::Nothing => first,
            held => held,
        }
    };
    walk_with(text, partial, find, |s, i, which| match which {
        0 => json_call(s, i, &NAME_ARGUMENTS, "</tool_call>"),
        1 => named_call(s, i, "", names),
        _ => named_call(s, i, "```", names),
    })
}

pub(crate) fn mistral_nemo(text: &str, partial: bool) -> Walk {
    walk(text, partial, &["[TOOL_CALLS]"], |s, i, _| {
        json_call_array(s, i, &MISTRAL_KEYS, "")
    })
}

pub(crate) fn nemotron_v2(text: &str, partial: bool) -> Walk {
    walk(text, partial, &["<TOOLCALL>"], |s, i, _| {
        json_call_array(s, i, &NAME_ARGUMENTS, "</TOOLCALL>")
    })
}

pub(crate) fn firefunction(text: &str, partial: bool) -> Walk {
    walk(text, partial, &[" functools["], |s, i, _| {
        // The opener took the `[`: parse from it.
        json_call_array(s, i - 1, &NAME_ARGUMENTS, "")
    })
}

pub(crate) fn granite(text: &str, partial: bool) -> Walk {
    let openers = ["<|tool_call|>", "<response>", "</response>"];
    walk(text, partial, &openers, |s, i, which| match which {
        0 => json_call_array(s, i, &NAME_ARGUMENTS, ""),
        _ => dropped(i),
    })
}

pub(crate) fn command_r7b(text: &str, partial: bool) -> Walk {
    let openers = ["<|START_ACTION|>", "<|START_RESPONSE|>", "<|END_RESPONSE|>"];
    walk(text, partial, &openers, |s, i, which| match which {
        0 => json_call_array(s, i, &COMMAND_R_KEYS, "<|END_ACTION|>"),
        _ => dropped(i),
    })
}

/// llama.cpp's generic format: the whole output is one JSON object. While it is still
/// being written nothing but its calls is reported.
pub(crate) fn generic(text: &str, partial: bool) -> Walk {
    let b = text.as_bytes();
    let start = skip_ws(b, 0);
    if start == b.len() && partial {
        return Walk::default();
    }
    if b.get(start) != Some(&b'{') {
        return content(text);
    }
    let scan = scan_object(b, start);
    let closed = matches!(scan.state, Scan::Done(end) if text[end..].trim().is_empty());
    if scan.state == Scan::Invalid || (!partial && !closed) {
        return content(text);
    }
    let find = |k: &str| scan.members.iter().find(|m| m.key == k);
    if let Some(m) = find("tool_calls") {
        return calls_or_content(
            text,
            partial,
            closed,
            json_call_array(text, m.start, &NAME_ARGUMENTS, ""),
        );
    }
    if let Some(m) = find("tool_call") {
        return calls_or_content(
            text,
            partial,
            closed,
            json_call(text, m.start, &NAME_ARGUMENTS, ""),
        );
    }
    if !closed {
        return Walk::default();
    }
    match find("response").and_then(|m| Some((m.start, m.end?))) {
        Some((s, e)) if b[s] == b'"' => content(&decode_string(&b[s..e]).unwrap_or_default()),
        Some((s, e)) => content(&minify(&text[s..e])),
        None => content(text),
    }
}

fn calls_or_content(text: &str, partial: bool, closed: bool, body: Body) -> Walk {
    match body {
        Body::Done { calls, .. } if closed || partial => Walk {
            content: String::new(),
            calls,
        },
        Body::Partial { calls } if partial => Walk {
            content: String::new(),
            calls,
        },
        _ => content(text),
    }
}

fn content(text: &str) -> Walk {
    Walk {
        content: text.to_string(),
        calls: Vec::new(),
    }
}
