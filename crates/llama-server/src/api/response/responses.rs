//! OpenAI's Responses API shapes as llama.cpp's server writes them (`to_json_oaicompat_resp*`):
//! the `response` object, its output items (reasoning, message, function calls) and the named
//! stream events, each with OpenAI's `sequence_number`, and llama.cpp's `timings` and
//! `prompt_progress` on the events that carry them.

use super::llamacpp::Timings;
use crate::scheduler::job::{Progress, Summary};
use serde::Serialize;

/// `usage` of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResponseUsage {
    pub input_tokens: usize,
    pub output_tokens: usize,
    pub total_tokens: usize,
    pub input_tokens_details: InputTokensDetails,
}

/// Prompt tokens reused from the prompt cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InputTokensDetails {
    pub cached_tokens: usize,
}

impl ResponseUsage {
    pub fn from_summary(s: &Summary) -> Self {
        let u = &s.usage;
        ResponseUsage {
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            input_tokens_details: InputTokensDetails {
                cached_tokens: u.cached_tokens,
            },
        }
    }
}

/// A piece of a message's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub annotations: Vec<serde_json::Value>,
    pub logprobs: Vec<serde_json::Value>,
    pub text: String,
}

impl OutputText {
    pub fn new(text: String) -> Self {
        OutputText {
            kind: "output_text",
            annotations: Vec::new(),
            logprobs: Vec::new(),
            text,
        }
    }
}

/// A reasoning item's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasoningText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
}

impl ReasoningText {
    pub fn new(text: String) -> Self {
        ReasoningText {
            kind: "reasoning_text",
            text,
        }
    }
}

/// One item of a response's `output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// The model's thoughts (`encrypted_content` empty: nothing is encrypted here).
    Reasoning {
        id: String,
        summary: Vec<serde_json::Value>,
        content: Vec<ReasoningText>,
        encrypted_content: String,
        status: &'static str,
    },
    Message {
        id: String,
        status: &'static str,
        role: &'static str,
        content: Vec<OutputText>,
    },
    /// A tool call: `call_id` is what a `function_call_output` item answers.
    FunctionCall {
        id: String,
        status: &'static str,
        arguments: String,
        call_id: String,
        name: String,
    },
}

/// The `response` object (whole, or as the stream's first events show it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseObject {
    pub id: String,
    pub object: &'static str,
    pub created_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
    pub status: &'static str,
    pub model: String,
    pub output: Vec<OutputItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<ResponseUsage>,
}

/// What one stream event says (its `type` is the SSE event name too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum EventBody {
    #[serde(rename = "response.created")]
    Created { response: ResponseObject },
    #[serde(rename = "response.in_progress")]
    InProgress { response: ResponseObject },
    #[serde(rename = "response.output_item.added")]
    ItemAdded {
        output_index: usize,
        item: OutputItem,
    },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        item_id: String,
        output_index: usize,
        content_index: usize,
        part: OutputText,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningDelta {
        item_id: String,
        output_index: usize,
        content_index: usize,
        delta: String,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        item_id: String,
        output_index: usize,
        content_index: usize,
        delta: String,
        logprobs: Vec<serde_json::Value>,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgumentsDelta {
        item_id: String,
        output_index: usize,
        delta: String,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgumentsDone {
        item_id: String,
        output_index: usize,
        name: String,
        arguments: String,
    },
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        text: String,
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        text: String,
        logprobs: Vec<serde_json::Value>,
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        part: OutputText,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone {
        output_index: usize,
        item: OutputItem,
    },
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject },
}

impl EventBody {
    /// The SSE `event:` name (the same as `type`).
    pub fn name(&self) -> &'static str {
        match self {
            EventBody::Created { .. } => "response.created",
            EventBody::InProgress { .. } => "response.in_progress",
            EventBody::ItemAdded { .. } => "response.output_item.added",
            EventBody::PartAdded { .. } => "response.content_part.added",
            EventBody::ReasoningDelta { .. } => "response.reasoning_text.delta",
            EventBody::TextDelta { .. } => "response.output_text.delta",
            EventBody::ArgumentsDelta { .. } => "response.function_call_arguments.delta",
            EventBody::ArgumentsDone { .. } => "response.function_call_arguments.done",
            EventBody::ReasoningDone { .. } => "response.reasoning_text.done",
            EventBody::TextDone { .. } => "response.output_text.done",
            EventBody::PartDone { .. } => "response.content_part.done",
            EventBody::ItemDone { .. } => "response.output_item.done",
            EventBody::Completed { .. } => "response.completed",
        }
    }
}

/// One stream event: its body, its place in the stream, and llama.cpp's extras.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamEvent {
    #[serde(flatten)]
    pub body: EventBody,
    pub sequence_number: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_progress: Option<Progress>,
}
