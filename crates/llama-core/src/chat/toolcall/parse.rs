//! One parse of a model's output (whole or so far) into reasoning, content and tool calls.

use super::deepseek::deepseek_r1;
use super::functionary::{functionary_v31, functionary_v32};
use super::json_formats::{
    command_r7b, firefunction, generic, granite, hermes, mistral_nemo, nemotron_v2,
};
use super::llama3::llama3;
use super::qwen3_coder::qwen3_coder;
use super::reasoning::split;
use super::scan::Walk;
use super::types::{ParserOptions, ToolCallFormat};
use crate::chat::{ChatMessage, ToolCall};

/// Reasoning, content and calls of `text`; `partial` while the model is still writing.
pub(crate) fn parse_parts(text: &str, opts: &ParserOptions, partial: bool) -> (String, Walk) {
    let (reasoning, rest) = split(text, opts, partial);
    (reasoning, parse_body(&rest, opts, partial))
}

fn parse_body(text: &str, opts: &ParserOptions, partial: bool) -> Walk {
    use ToolCallFormat as F;
    // Formats that frame plain text too are parsed even without tools.
    let frames_text = matches!(opts.format, F::CommandR7B | F::Granite | F::FunctionaryV32);
    if !opts.parse_tool_calls && !frames_text {
        return Walk {
            content: text.to_string(),
            calls: Vec::new(),
        };
    }
    let names: Vec<&str> = opts.tools.iter().map(|t| t.name.as_str()).collect();
    match opts.format {
        F::ContentOnly => Walk {
            content: text.to_string(),
            calls: Vec::new(),
        },
        F::Generic => generic(text, partial),
        F::Hermes => hermes(text, partial, &names),
        F::Qwen3Coder => qwen3_coder(text, partial, &opts.tools),
        F::Llama3 { builtin_tools } => llama3(text, partial, builtin_tools, &names),
        F::FunctionaryV31 => functionary_v31(text, partial),
        F::FunctionaryV32 => functionary_v32(text, partial),
        F::FireFunction => firefunction(text, partial),
        F::MistralNemo => mistral_nemo(text, partial),
        F::NemotronV2 => nemotron_v2(text, partial),
        F::CommandR7B => command_r7b(text, partial),
        F::DeepSeekR1 => deepseek_r1(text, partial),
        F::Granite => granite(text, partial),
    }
}

/// Parses a finished output into an assistant message (llama.cpp `common_chat_parse` with
/// `is_partial = false`). Calls keep the ids the model wrote (else empty: see
/// [`fill_missing_ids`]); text that is not a well-formed call stays content.
pub fn parse(text: &str, opts: &ParserOptions) -> ChatMessage {
    let (reasoning, walk) = parse_parts(text, opts, false);
    ChatMessage {
        role: "assistant".into(),
        content: walk.content,
        reasoning_content: reasoning,
        tool_calls: walk
            .calls
            .into_iter()
            .map(|c| ToolCall {
                id: c.id,
                name: c.name,
                arguments: c.args,
            })
            .collect(),
        ..Default::default()
    }
}

/// Gives every call without an id one from `next_id` (llama-server's random ids).
pub fn fill_missing_ids(msg: &mut ChatMessage, mut next_id: impl FnMut() -> String) {
    for call in msg.tool_calls.iter_mut().filter(|c| c.id.is_empty()) {
        call.id = next_id();
    }
}
