//! The public vocabulary of tool-call parsing: output formats, `--reasoning-format`, and the
//! options one parse takes.

use std::fmt;
use std::str::FromStr;

use crate::chat::ChatTool;
use crate::error::Error;

/// How a model writes tool calls (the families of llama.cpp's `common/chat.cpp` handlers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToolCallFormat {
    /// No tool calls: everything is content. Also the templates llama.cpp reads with
    /// dedicated parsers not ported here (gpt-oss, Kimi K2/K3, MiniMax M3, Ling 3, GLM 4.x,
    /// Ministral 3, DeepSeek V3.2/V4, Gemma 4, LFM2, GigaChat 3, Cohere2MoE, MiniCPM5, Muse).
    ContentOnly,
    /// `{"tool_calls": [{"name", "arguments"}]}`, `{"tool_call": {...}}` or
    /// `{"response": ...}` (llama.cpp's generic fallback).
    Generic,
    /// Hermes 2 Pro / Hermes 3 / Qwen 2.5 / Granite 4: `<tool_call>{"name", "arguments"}</tool_call>`.
    Hermes,
    /// Qwen3-Coder XML: `<tool_call><function=NAME><parameter=K>V</parameter></function></tool_call>`.
    Qwen3Coder,
    /// Llama 3.x: `{"name", "parameters"}`; with `builtin_tools`, also `<|python_tag|>`.
    Llama3 { builtin_tools: bool },
    /// Functionary v3.1 (Llama 3.1): `<function=NAME>{...}</function>` and `<|python_tag|>`.
    FunctionaryV31,
    /// Functionary v3.2: `>>>NAME\n{...}`, `>>>all\n` text (the prompt ends with `>>>`).
    FunctionaryV32,
    /// FireFunction v2: ` functools[{"name", "arguments"}]`.
    FireFunction,
    /// Mistral Nemo: `[TOOL_CALLS][{"name", "arguments", "id"}]`.
    MistralNemo,
    /// Nemotron Nano v2: `<TOOLCALL>[{"name", "arguments"}]</TOOLCALL>`.
    NemotronV2,
    /// Command R7B: `<|START_ACTION|>[{"tool_call_id", "tool_name", "parameters"}]<|END_ACTION|>`,
    /// `<|START_THINKING|>` reasoning, `<|START_RESPONSE|>` text.
    CommandR7B,
    /// DeepSeek R1: `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
    /// ```json {...}```<｜tool▁call▁end｜>...`, `<think>` reasoning.
    DeepSeekR1,
    /// Granite 3.x: `<|tool_call|>[{"name", "arguments"}]`, `<think>`/`<response>`.
    Granite,
}

impl ToolCallFormat {
    /// A short name (for logs and telemetry).
    pub fn name(self) -> &'static str {
        match self {
            ToolCallFormat::ContentOnly => "content-only",
            ToolCallFormat::Generic => "generic",
            ToolCallFormat::Hermes => "hermes-2-pro",
            ToolCallFormat::Qwen3Coder => "qwen3-coder-xml",
            ToolCallFormat::Llama3 { .. } => "llama-3.x",
            ToolCallFormat::FunctionaryV31 => "functionary-v3.1-llama-3.1",
            ToolCallFormat::FunctionaryV32 => "functionary-v3.2",
            ToolCallFormat::FireFunction => "firefunction-v2",
            ToolCallFormat::MistralNemo => "mistral-nemo",
            ToolCallFormat::NemotronV2 => "nemotron-v2",
            ToolCallFormat::CommandR7B => "command-r7b",
            ToolCallFormat::DeepSeekR1 => "deepseek-r1",
            ToolCallFormat::Granite => "granite",
        }
    }
}

/// `--reasoning-format` (llama.cpp's names and meaning).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReasoningFormat {
    /// Thoughts stay in `content`, tags and all.
    None,
    /// As `deepseek` (llama.cpp's default).
    #[default]
    Auto,
    /// Thoughts go to `reasoning_content`.
    DeepSeek,
    /// Thoughts go to `reasoning_content`; when streaming they stay inline in `content`,
    /// `<think>` tags included.
    DeepSeekLegacy,
}

impl ReasoningFormat {
    /// llama.cpp's name of the format (`none`, `auto`, `deepseek`, `deepseek-legacy`).
    pub fn name(self) -> &'static str {
        match self {
            ReasoningFormat::None => "none",
            ReasoningFormat::Auto => "auto",
            ReasoningFormat::DeepSeek => "deepseek",
            ReasoningFormat::DeepSeekLegacy => "deepseek-legacy",
        }
    }
}

impl fmt::Display for ReasoningFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReasoningFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "none" => Ok(ReasoningFormat::None),
            "auto" => Ok(ReasoningFormat::Auto),
            "deepseek" => Ok(ReasoningFormat::DeepSeek),
            "deepseek-legacy" => Ok(ReasoningFormat::DeepSeekLegacy),
            other => Err(Error::ChatMessages(format!(
                "unknown reasoning format '{other}' (none, auto, deepseek, deepseek-legacy)"
            ))),
        }
    }
}

/// Everything one parse of a model's output takes (llama.cpp `common_chat_parser_params`).
#[derive(Clone, Debug)]
pub struct ParserOptions {
    pub format: ToolCallFormat,
    pub reasoning_format: ReasoningFormat,
    /// Streaming with `deepseek-legacy`: thoughts stay inline in `content`.
    pub reasoning_in_content: bool,
    /// The prompt ended inside an open thinking block (`...<think>\n`): the output starts in it.
    pub thinking_forced_open: bool,
    /// `false` when the request had no tools or `tool_choice: "none"`: calls stay text.
    pub parse_tool_calls: bool,
    /// The request's tools (Qwen3-Coder types its XML parameter values from their schemas).
    pub tools: Vec<ChatTool>,
}

impl ParserOptions {
    /// Options for `format` with llama.cpp's defaults (tool calls parsed, reasoning split).
    pub fn new(format: ToolCallFormat) -> Self {
        ParserOptions {
            format,
            reasoning_format: ReasoningFormat::Auto,
            reasoning_in_content: false,
            thinking_forced_open: false,
            parse_tool_calls: true,
            tools: Vec::new(),
        }
    }
}
