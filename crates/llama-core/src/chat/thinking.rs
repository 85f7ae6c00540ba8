//! Whether `enable_thinking` defaults to on for a template: llama.cpp's server turns it on when
//! the template "supports thinking" — its dedicated handler says so, or its differential
//! autoparser (`chat-diff-analyzer.cpp`, `analyze_reasoning`) finds reasoning markers. This is
//! the autoparser's two main tests: reasoning content rendered before a marker, and a
//! generation prompt that grows (or loses) a marker when `enable_thinking` flips.

use serde_json::{json, Value as Json};

use super::apply::ChatInputs;
use super::families::{detect_family, family_supports_thinking};
use super::template::ChatTemplate;

const USER_MSG: &str = "U_USER_MSG Hello END_U";
const ASSISTANT_MSG: &str = "A_ASST_MSG I can help END_A";
const THINKING_CONTENT: &str = "REASON_PART I am thinking END_R";

/// A `<...>` or `[...]` token at the start of `s` (after whitespace).
fn starts_with_marker(s: &str) -> bool {
    let s = s.trim_start();
    let close = match s.chars().next() {
        Some('<') => '>',
        Some('[') => ']',
        _ => return false,
    };
    s[1..].contains(close)
}

fn render(t: &ChatTemplate, messages: Json, agp: bool, thinking: bool) -> Option<String> {
    let inputs = ChatInputs {
        add_generation_prompt: agp,
        ..ChatInputs::new(&[])
    };
    t.render_messages(&inputs, messages, thinking).ok()
}

/// Reasoning content shows up, followed by a closing marker.
fn reasoning_rendered(t: &ChatTemplate) -> bool {
    let user = json!({"role": "user", "content": USER_MSG});
    let with = json!({"role": "assistant", "content": ASSISTANT_MSG,
                      "reasoning_content": THINKING_CONTENT});
    let Some(out) = render(t, json!([user, with]), false, true) else {
        return false;
    };
    out.match_indices(THINKING_CONTENT)
        .any(|(pos, _)| starts_with_marker(&out[pos + THINKING_CONTENT.len()..]))
}

/// The generation prompt differs at its end when `enable_thinking` flips.
fn generation_prompt_reacts(t: &ChatTemplate) -> bool {
    let user = json!([{"role": "user", "content": USER_MSG}]);
    let (Some(off), Some(on)) = (
        render(t, user.clone(), true, false),
        render(t, user, true, true),
    ) else {
        return false;
    };
    let prefix = off
        .bytes()
        .zip(on.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let (off_rest, on_rest) = (&off[floor(&off, prefix)..], &on[floor(&on, prefix)..]);
    let (l, r) = (off_rest.trim(), on_rest.trim());
    if l.is_empty() != r.is_empty() {
        // One side only adds text, at the very end of its output.
        return true;
    }
    if l.is_empty() {
        return false;
    }
    // Both changed: one output's tail followed by extra markers in the other.
    [(&off, &on), (&on, &off)].iter().any(|(base, ext)| {
        let tail = &base[floor(base, base.len().saturating_sub(64))..];
        ext.rfind(tail).is_some_and(|pos| {
            let extra = ext[pos + tail.len()..].trim();
            !extra.is_empty() && starts_with_marker(extra)
        })
    })
}

/// Largest char boundary of `s` at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// llama.cpp's `common_chat_templates_support_enable_thinking`.
pub(crate) fn detect(t: &ChatTemplate) -> bool {
    if let Some(family) = detect_family(t.source()) {
        return family_supports_thinking(family, t.source());
    }
    reasoning_rendered(t) || generation_prompt_reacts(t)
}
