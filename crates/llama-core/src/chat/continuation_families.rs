//! The continuation text of llama.cpp's dedicated template handlers (`common/parsers/*.cpp`,
//! their `has_continuation()` branches): each writes its generation prompt and reasoning
//! markers by hand instead of deriving them from the template.

use super::continuation::{render_content, Continuation};
use super::families::{detect_family, Family};
use super::message::ChatMessage;

/// What a handler appends: `prefix`, `start` + reasoning, then for a content continuation
/// `end` + content.
struct Parts {
    prefix: &'static str,
    start: &'static str,
    end: &'static str,
}

fn parts(prefix: &'static str, start: &'static str, end: &'static str) -> Parts {
    Parts { prefix, start, end }
}

/// The continuation for `src`'s family, after `prompt` (the earlier messages without a
/// generation prompt); `None` for templates the generic path handles.
pub(crate) fn family_continuation(
    src: &str,
    prompt: &str,
    msg: &ChatMessage,
    mode: Continuation,
) -> Option<String> {
    let content = mode == Continuation::Content;
    let p = match detect_family(src)? {
        Family::KimiK2 => parts(
            "<|im_assistant|>assistant<|im_middle|>",
            "<think>",
            "</think>",
        ),
        Family::Lfm2 => parts("<|im_start|>assistant\n", "<think>", "</think>"),
        Family::Ministral3 => parts("", "[THINK]", "[/THINK]"),
        Family::MiniCpm5 => parts("<|im_start|>assistant\n", "<think>\n", "\n</think>\n\n"),
        Family::GptOss => parts(
            "<|start|>assistant<|channel|>analysis<|message|>",
            "",
            "<|end|><|start|>assistant<|channel|>final<|message|>",
        ),
        Family::MuseGlimmer => parts(
            "<|start|>assistant to=self<|message|>",
            "",
            "<|eom|><|start|>assistant to=user<|message|>",
        ),
        Family::Cohere2Moe => parts(
            "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
            "<|START_THINKING|>",
            "<|END_THINKING|><|START_TEXT|>",
        ),
        Family::Gemma4 => {
            let turn = if prompt.ends_with("<turn|>\n") {
                "<|turn>model\n"
            } else {
                ""
            };
            parts(turn, "<|channel>thought\n", "<channel|>")
        }
        Family::Qwen3Coder if src.contains("<think>") => {
            parts("<|im_start|>assistant\n", "<think>\n", "\n</think>\n\n")
        }
        // Without reasoning support the content follows the generation prompt at once.
        Family::Qwen3Coder => {
            return Some(format!("<|im_start|>assistant\n{}", text(msg, content)))
        }
        // These two always write the content, whatever is continued.
        Family::FunctionaryV32 => {
            let gen = "<|start_header_id|>assistant<|end_header_id|>\n\n>>>all\n";
            return Some(format!("{gen}{}", render_content(msg)));
        }
        Family::GigaChatV3 => {
            return Some(format!("assistant<|role_sep|>\n{}", render_content(msg)))
        }
        Family::DeepSeekV32 | Family::DeepSeekV4 => {
            // V4 (no `function_calls`) without reasoning only closes the think block.
            if !src.contains("function_calls") && msg.reasoning_content.is_empty() {
                return Some(format!("<｜Assistant｜></think>{}", text(msg, content)));
            }
            parts("<｜Assistant｜>", "<think>", "</think>")
        }
        Family::KimiK3 | Family::Ling3 | Family::MiniMaxM3 => return None,
    };
    let mut out = format!("{}{}{}", p.prefix, p.start, msg.reasoning_content);
    if content {
        out.push_str(p.end);
        out.push_str(&render_content(msg));
    }
    Some(out)
}

/// The message's content when the content is continued, else nothing.
fn text(msg: &ChatMessage, content: bool) -> String {
    if content {
        render_content(msg)
    } else {
        String::new()
    }
}
