//! Anthropic's Messages API shapes as llama.cpp's server writes them (`to_json_anthropic*`):
//! the `message` object, its stream events, and `count_tokens`' answer.

use crate::scheduler::job::{FinishReason, Summary};
use llama_core::chat::ChatMessage;
use serde::Serialize;

/// Anthropic's `stop_reason` for how generation ended: `tool_use` when an answer that ended
/// by itself has tool calls (llama.cpp).
pub fn stop_reason(s: &Summary) -> &'static str {
    let calls = s.message.as_ref().is_some_and(|m| !m.tool_calls.is_empty());
    match s.finish {
        FinishReason::Eog | FinishReason::Word if calls => "tool_use",
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
    Text {
        text: String,
    },
    /// Reasoning (`signature` empty: a local model signs nothing, as llama.cpp).
    Thinking {
        thinking: String,
        signature: String,
    },
    /// A tool call; `input` is the arguments object (`{}` in `content_block_start`).
    ToolUse {
        id: String,
        name: String,
        input: serde_json::Value,
    },
}

impl ContentBlock {
    /// A parsed answer's blocks in llama.cpp's order: thinking, text, then one `tool_use` per
    /// call (arguments that are not JSON become `{}`, as llama.cpp).
    pub fn from_message(m: &ChatMessage) -> Vec<ContentBlock> {
        let mut blocks = Vec::new();
        if !m.reasoning_content.is_empty() {
            blocks.push(ContentBlock::Thinking {
                thinking: m.reasoning_content.clone(),
                signature: String::new(),
            });
        }
        if !m.content.is_empty() {
            blocks.push(ContentBlock::Text {
                text: m.content.clone(),
            });
        }
        blocks.extend(m.tool_calls.iter().map(|c| {
            ContentBlock::ToolUse {
                id: c.id.clone(),
                name: c.name.clone(),
                input: serde_json::from_str(&c.arguments)
                    .unwrap_or_else(|_| serde_json::Value::Object(Default::default())),
            }
        }));
        blocks
    }
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

    /// The finished message: its blocks (the parsed answer's, else a text block when there is
    /// text, as llama.cpp) and why it ended.
    pub fn finished(id: String, model: String, text: String, s: &Summary) -> Self {
        let mut m = Message::new(id, model, MessageUsage::from_summary(s));
        match &s.message {
            Some(parsed) => m.content = ContentBlock::from_message(parsed),
            None if !text.is_empty() => m.content.push(ContentBlock::Text { text }),
            None => {}
        }
        m.stop_reason = Some(stop_reason(s));
        m.stop_sequence = s.stop_word.clone();
        m
    }
}

/// A delta inside `content_block_delta`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    /// A piece of a `tool_use` block's arguments JSON.
    InputJsonDelta {
        partial_json: String,
    },
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
