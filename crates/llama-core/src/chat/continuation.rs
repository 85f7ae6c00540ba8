//! Continuing the conversation's final assistant message instead of opening a new turn
//! (llama.cpp's `continue_final_message`, which its server also turns on by itself under
//! `--prefill-assistant` when the last message is the assistant's): the messages before it are
//! rendered without a generation prompt, then the generation prompt is appended followed by
//! the message's reasoning and content, left open (`common_chat_templates_apply_jinja` and
//! `peg_generator::generate_parser` of `common/chat-auto-parser-generator.cpp`).

use serde_json::{json, Value as Json};

use super::apply::ChatInputs;
use super::continuation_families::family_continuation;
use super::message::ChatMessage;
use super::template::ChatTemplate;
use crate::error::Result;

/// What of the final message is continued (llama.cpp `common_chat_continuation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Continuation {
    /// Not continued: the final message is rendered as a complete turn.
    #[default]
    None,
    /// The reasoning when the message has only reasoning, else the content.
    Auto,
    /// The reasoning stays open (no end-of-reasoning marker, no content).
    Reasoning,
    /// The reasoning is closed and the content stays open.
    Content,
}

impl Continuation {
    /// A request's `continue_final_message`: `true`, `"reasoning_content"` or `"content"`;
    /// anything else is [`Continuation::None`] (llama.cpp `common_chat_continuation_parse`).
    pub fn parse(value: &Json) -> Self {
        match value {
            Json::Bool(true) => Continuation::Auto,
            Json::String(s) if s == "reasoning_content" => Continuation::Reasoning,
            Json::String(s) if s == "content" => Continuation::Content,
            _ => Continuation::None,
        }
    }

    /// `Auto` decided for `msg`.
    fn resolve(self, msg: &ChatMessage) -> Self {
        match self {
            Continuation::Auto
                if !msg.reasoning_content.is_empty()
                    && msg.content.is_empty()
                    && msg.content_parts.is_empty() =>
            {
                Continuation::Reasoning
            }
            Continuation::Auto => Continuation::Content,
            other => other,
        }
    }
}

/// The message's text: `content`, or its text parts joined by a blank line
/// (llama.cpp `common_chat_msg::render_content`).
pub(crate) fn render_content(msg: &ChatMessage) -> String {
    if !msg.content.is_empty() {
        return msg.content.clone();
    }
    let texts: Vec<&str> = msg
        .content_parts
        .iter()
        .filter(|p| p.kind == "text")
        .map(|p| p.text.as_str())
        .collect();
    texts.join("\n\n")
}

/// Largest char boundary of `s` at or below `i`.
fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What `with` adds after the longest common prefix of the two renderings
/// (`common_chat_template_generation_prompt`).
fn tail_after_common_prefix(without: &str, with: &str) -> String {
    let prefix = without
        .bytes()
        .zip(with.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    with[floor(with, prefix)..].to_string()
}

/// A `<...>` or `[...]` marker ending exactly at the end of `s`; returns its start.
fn marker_before(s: &str) -> Option<usize> {
    let (open, close) = match s.chars().last()? {
        '>' => ('<', '>'),
        ']' => ('[', ']'),
        _ => return None,
    };
    let body = &s[..s.len() - 1];
    let start = body.rfind(open)?;
    (!body[start + 1..].contains(close)).then_some(start)
}

/// A `<...>` or `[...]` marker at the very start of `s`; returns its length.
fn marker_after(s: &str) -> Option<usize> {
    let close = match s.chars().next()? {
        '<' => '>',
        '[' => ']',
        _ => return None,
    };
    s[1..].find(close).map(|i| i + 2)
}

const USER_MSG: &str = "U_USER_MSG Hello END_U";
const ASSISTANT_MSG: &str = "A_ASST_MSG I can help END_A";
const THINKING_CONTENT: &str = "REASON_PART I am thinking END_R";

impl ChatTemplate {
    /// The reasoning markers a continuation writes (an approximation of llama.cpp's
    /// autoparser, checked on the 47 reference templates): those the template wraps rendered
    /// reasoning in, with their whitespace (bare for Laguna, as llama.cpp's patch trims them;
    /// `<think>\n` for Nemotron Nano v2's patch); the bare tags of a template that names them
    /// but drops earlier reasoning. Empty without reasoning markers.
    fn reasoning_markers(&self) -> (String, String) {
        let src = self.source();
        if src.contains("<SPECIAL_11>Assistant") {
            return ("<think>\n".into(), "</think>".into());
        }
        let (start, end) = self.wrapped_reasoning();
        if src.contains("laguna_glm_thinking") {
            return (start.trim().to_string(), end.trim().to_string());
        }
        if !start.trim().is_empty() {
            return (start, end);
        }
        for (open, close) in [
            ("<think>", "</think>"),
            ("<|START_THINKING|>", "<|END_THINKING|>"),
        ] {
            if src.contains(open) && src.contains(close) {
                return (open.into(), close.into());
            }
        }
        Default::default()
    }

    /// The analysis of `analyze_reasoning::compare_reasoning_presence`: the marker and
    /// whitespace right before rendered reasoning, and the whitespace, marker and whitespace
    /// right after it. Empty when the template shows no wrapped reasoning.
    fn wrapped_reasoning(&self) -> (String, String) {
        let messages = json!([
            {"role": "user", "content": USER_MSG},
            {"role": "assistant", "content": ASSISTANT_MSG, "reasoning_content": THINKING_CONTENT},
        ]);
        let inputs = ChatInputs {
            add_generation_prompt: false,
            ..ChatInputs::new(&[])
        };
        let Ok(out) = self.render_messages(&inputs, messages, true) else {
            return Default::default();
        };
        for (pos, _) in out.match_indices(THINKING_CONTENT) {
            let before = out[..pos].trim_end();
            let after = &out[pos + THINKING_CONTENT.len()..];
            let after_trim = after.trim_start();
            let (Some(ms), Some(ml)) = (marker_before(before), marker_after(after_trim)) else {
                continue;
            };
            let start = out[ms..pos].to_string();
            let lead = after.len() - after_trim.len();
            let rest = &after_trim[ml..];
            let trail = rest.len() - rest.trim_start().len();
            let end = after[..lead + ml + trail].to_string();
            return (start, end);
        }
        Default::default()
    }

    /// The prompt for `inputs` with its final message continued.
    pub(crate) fn apply_continuation(&self, inputs: &ChatInputs<'_>) -> Result<String> {
        let Some((last, rest)) = inputs.messages.split_last() else {
            let mut plain = inputs.clone();
            plain.continue_final_message = Continuation::None;
            plain.add_generation_prompt = false;
            return self.apply(&plain);
        };
        let mode = inputs.continue_final_message.resolve(last);
        let mut base = inputs.clone();
        base.messages = rest;
        base.continue_final_message = Continuation::None;
        base.add_generation_prompt = false;
        let prompt = self.apply(&base)?;
        if let Some(tail) = family_continuation(self.source(), &prompt, last, mode) {
            return Ok(prompt + &tail);
        }
        base.add_generation_prompt = true;
        let generation_prompt = tail_after_common_prefix(&prompt, &self.apply(&base)?);
        let mut out = prompt;
        let (start, end) = self.reasoning_markers();
        if !start.is_empty() {
            let cut = generation_prompt
                .find(&start)
                .unwrap_or(generation_prompt.len());
            out.push_str(&generation_prompt[..cut]);
            out.push_str(&start);
            out.push_str(&last.reasoning_content);
            if mode == Continuation::Content {
                out.push_str(&end);
            }
        } else {
            out.push_str(&generation_prompt);
        }
        if mode == Continuation::Content {
            out.push_str(&render_content(last));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::ContentPart;

    #[test]
    fn parse_and_resolve_follow_llama_cpp() {
        assert_eq!(Continuation::parse(&json!(true)), Continuation::Auto);
        assert_eq!(Continuation::parse(&json!(false)), Continuation::None);
        assert_eq!(
            Continuation::parse(&json!("reasoning_content")),
            Continuation::Reasoning
        );
        assert_eq!(
            Continuation::parse(&json!("content")),
            Continuation::Content
        );
        assert_eq!(Continuation::parse(&json!("other")), Continuation::None);
        let mut m = ChatMessage::new("assistant", "");
        m.reasoning_content = "r".into();
        assert_eq!(Continuation::Auto.resolve(&m), Continuation::Reasoning);
        m.content = "c".into();
        assert_eq!(Continuation::Auto.resolve(&m), Continuation::Content);
    }

    #[test]
    fn parts_are_joined_by_a_blank_line() {
        let mut m = ChatMessage::new("assistant", "");
        for t in ["Wh", "ill"] {
            m.content_parts.push(ContentPart {
                kind: "text".into(),
                text: t.into(),
            });
        }
        assert_eq!(render_content(&m), "Wh\n\nill");
    }
}
