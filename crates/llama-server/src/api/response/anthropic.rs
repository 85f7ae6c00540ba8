//! Anthropic's Messages API shapes as llama.cpp's server writes them (`to_json_anthropic*`):
//! the `message` object, its stream events, and `count_tokens`' answer.

use crate::scheduler::job::{FinishReason, Summary};
use serde::Serialize;

/// Anthropic's `stop_reason` for how generation ended (tool calls are not parsed here yet,
/// so `tool_use` is never reported).
pub fn stop_reason(finish: FinishReason) -> &'static str {
    match finish {
        FinishReason::Eog | FinishReason::Word => "end_turn",
        FinishReason::Length => "max_tokens",
    }
}

/// `usage` of a message: `input_tokens` excludes the tokens reused from the prompt cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MessageUsage {
    pub cache_read_input_tokens: usize,
    pub input_tokens: usize,
    pub output_tokens: usize,
}

impl MessageUsage {
    pub fn from_summary(s: &Summary) -> Self {
        MessageUsage {
            cache_read_input_tokens: s.usage.cached_tokens,
            input_tokens: s.usage.prompt_tokens - s.usage.cached_tokens.min(s.usage.prompt_tokens),
            output_tokens: s.usage.completion_tokens,
        }
    }
}

/// A content block of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text { text: String },
}

/// `{"type": "message", ...}`: a whole response, or (empty, no stop reason) in `message_start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub content: Vec<ContentBlock>,
    pub model: String,
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<String>,
    pub usage: MessageUsage,
}

impl Message {
    /// A message with no content yet.
    pub fn new(id: String, model: String, usage: MessageUsage) -> Self {
        Message {
            id,
            kind: "message",
            role: "assistant",
            content: Vec::new(),
            model,
            stop_reason: None,
            stop_sequence: None,
            usage,
        }
    }

    /// The finished message: its text (a text block only when there is text, as llama.cpp)
    /// and why it ended.
    pub fn finished(id: String, model: String, text: String, s: &Summary) -> Self {
        let mut m = Message::new(id, model, MessageUsage::from_summary(s));
        if !text.is_empty() {
            m.content.push(ContentBlock::Text { text });
        }
        m.stop_reason = Some(stop_reason(s.finish));
        m.stop_sequence = s.stop_word.clone();
        m
    }
}

/// A delta inside `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta { text: String },
}

/// `delta` of `message_delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageDelta {
    pub stop_reason: &'static str,
    pub stop_sequence: Option<String>,
}

/// `usage` of `message_delta`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutputUsage {
    pub output_tokens: usize,
}

/// One stream event; its `type` is also the SSE `event:` name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: Message,
    },
    ContentBlockStart {
        index: usize,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta,
        usage: OutputUsage,
    },
    MessageStop,
}

impl StreamEvent {
    /// The SSE `event:` name (the same as the data's `type`).
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
        }
    }
}

/// `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenCount {
    pub input_tokens: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_in_anthropic_wire_shape() {
        let usage = MessageUsage {
            cache_read_input_tokens: 0,
            input_tokens: 7,
            output_tokens: 0,
        };
        let start = StreamEvent::MessageStart {
            message: Message::new("msg-1".into(), "m".into(), usage),
        };
        assert_eq!(
            serde_json::to_string(&start).unwrap(),
            r#"{"type":"message_start","message":{"id":"msg-1","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"cache_read_input_tokens":0,"input_tokens":7,"output_tokens":0}}}"#
        );
        let delta = StreamEvent::ContentBlockDelta {
            index: 0,
            delta: BlockDelta::TextDelta { text: "hi".into() },
        };
        assert_eq!(
            serde_json::to_string(&delta).unwrap(),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#
        );
        assert_eq!(
            serde_json::to_string(&StreamEvent::MessageStop).unwrap(),
            r#"{"type":"message_stop"}"#
        );
        assert_eq!(StreamEvent::MessageStop.name(), "message_stop");
    }
}
