//! Which tool-call format a chat template's model writes, decided from the template source
//! in the order of llama.cpp's `common_chat_templates_apply_jinja` handler chain (the
//! dedicated-family check of `families.rs` first, as llama.cpp does).

use super::grammar::ToolChoice;
use super::reasoning::think_tags;
use super::types::{ParserOptions, ReasoningFormat, ToolCallFormat};
use crate::chat::families::{detect_family, Family};
use crate::chat::{ChatTemplate, ChatTool};

/// The format for a template `source`; `tools_active`: the request has tools and
/// `tool_choice` is not `none` (without them most templates are content-only).
pub fn detect_format(source: &str, tools_active: bool) -> ToolCallFormat {
    use ToolCallFormat as F;
    let has = |s: &str| source.contains(s);
    match detect_family(source) {
        Some(Family::Qwen3Coder) => return F::Qwen3Coder,
        Some(Family::FunctionaryV32) => return F::FunctionaryV32,
        // llama.cpp parses these with dedicated handlers not ported here: their calls stay
        // text rather than being read (or constrained) in a syntax the model does not write.
        Some(_) => return F::ContentOnly,
        None => {}
    }
    if has("<arg_key>") {
        // GLM 4.x: `<tool_call>NAME<arg_key>…`, another unported dedicated format.
        F::ContentOnly
    } else if has("<｜tool▁calls▁begin｜>") {
        F::DeepSeekR1
    } else if has("<|END_THINKING|><|START_ACTION|>") {
        F::CommandR7B
    } else if has("elif thinking") && has("<|tool_call|>") {
        F::Granite
    } else if has("<tool_call>") && tools_active {
        F::Hermes
    } else if has(" functools[") {
        F::FireFunction
    } else if has("<|start_header_id|>") && has("<function=") && tools_active {
        F::FunctionaryV31
    } else if has("<|start_header_id|>ipython<|end_header_id|>") {
        F::Llama3 {
            builtin_tools: has("<|python_tag|>"),
        }
    } else if !tools_active {
        F::ContentOnly
    } else if has("[TOOL_CALLS]") {
        F::MistralNemo
    } else if has("<TOOLCALL>") {
        F::NemotronV2
    } else {
        F::Generic
    }
}

/// Whether the rendered `prompt` leaves a thinking block open (`…<think>\n`), so that the
/// output starts inside it.
pub fn thinking_forced_open(prompt: &str, format: ToolCallFormat) -> bool {
    let (open, _) = think_tags(format);
    prompt.trim_end().ends_with(open)
}

impl ParserOptions {
    /// The options for an answer to `prompt`, rendered by `template` for a request with
    /// `tools` and `tool_choice` (llama.cpp's `common_chat_templates_apply` then
    /// `common_chat_parser_params`).
    pub fn for_request(
        template: &ChatTemplate,
        prompt: &str,
        tools: &[ChatTool],
        tool_choice: &ToolChoice,
        reasoning_format: ReasoningFormat,
    ) -> Self {
        let tools_active = !tools.is_empty() && *tool_choice != ToolChoice::None;
        let format = detect_format(template.source(), tools_active);
        ParserOptions {
            format,
            reasoning_format,
            reasoning_in_content: false,
            thinking_forced_open: thinking_forced_open(prompt, format),
            parse_tool_calls: tools_active,
            tools: tools.to_vec(),
        }
    }
}
