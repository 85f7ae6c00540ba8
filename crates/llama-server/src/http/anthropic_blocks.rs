//! A streamed Anthropic message whose answer is parsed (tools, or a thought left open): the
//! parser's deltas become content blocks as llama.cpp numbers them — thinking, text, then one
//! `tool_use` block per call, each opened by `content_block_start` (a call with its id and
//! name, `input: {}`), filled by `thinking_delta` / `text_delta` / `input_json_delta`, and
//! closed by `content_block_stop` when the next one opens or the message ends.

use crate::api::response::anthropic::{BlockDelta, ContentBlock, StreamEvent};
use llama_core::chat::toolcall::ChatDelta;
use serde_json::{Map, Value};

/// What the open block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thinking,
    Text,
    /// The tool call with this index.
    Tool(usize),
}

/// The blocks of one streamed message.
#[derive(Debug, Default)]
pub struct Blocks {
    open: Option<(usize, Kind)>,
    next: usize,
}

impl Blocks {
    /// The events for one parsed delta.
    pub fn events(&mut self, d: &ChatDelta) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        if !d.reasoning_content.is_empty() {
            let index = self.ensure(Kind::Thinking, &mut out, || ContentBlock::Thinking {
                thinking: String::new(),
                signature: String::new(),
            });
            let thinking = d.reasoning_content.clone();
            out.push(delta(index, BlockDelta::ThinkingDelta { thinking }));
        }
        if !d.content.is_empty() {
            let index = self.ensure(Kind::Text, &mut out, || ContentBlock::Text {
                text: String::new(),
            });
            let text = d.content.clone();
            out.push(delta(index, BlockDelta::TextDelta { text }));
        }
        for call in &d.tool_calls {
            let block = || ContentBlock::ToolUse {
                id: call.id.clone().unwrap_or_default(),
                name: call.name.clone().unwrap_or_default(),
                input: Value::Object(Map::new()),
            };
            let index = self.ensure(Kind::Tool(call.index), &mut out, block);
            if !call.arguments.is_empty() {
                let partial_json = call.arguments.clone();
                out.push(delta(index, BlockDelta::InputJsonDelta { partial_json }));
            }
        }
        out
    }

    /// Closes the open block, if any (the end of the message).
    pub fn close(&mut self) -> Vec<StreamEvent> {
        self.open
            .take()
            .map(|(index, _)| StreamEvent::ContentBlockStop { index })
            .into_iter()
            .collect()
    }

    /// The index of the open block of `kind`, opening it (and closing another) if needed.
    fn ensure(
        &mut self,
        kind: Kind,
        out: &mut Vec<StreamEvent>,
        block: impl FnOnce() -> ContentBlock,
    ) -> usize {
        if let Some((index, open)) = self.open {
            if open == kind {
                return index;
            }
        }
        out.extend(self.close());
        let index = self.next;
        self.next += 1;
        self.open = Some((index, kind));
        out.push(StreamEvent::ContentBlockStart {
            index,
            content_block: block(),
        });
        index
    }
}

fn delta(index: usize, delta: BlockDelta) -> StreamEvent {
    StreamEvent::ContentBlockDelta { index, delta }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_then_a_call_become_two_blocks() {
        let mut b = Blocks::default();
        let [text, call, more] = crate::http::test_deltas::text_then_call();
        let mut events = b.events(&text);
        events.extend(b.events(&call));
        events.extend(b.events(&more));
        events.extend(b.close());
        let json: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .collect();
        assert_eq!(
            json,
            [
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Let me check."}}"#,
                r#"{"type":"content_block_stop","index":0}"#,
                r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"call_1","name":"get_weather","input":{}}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#,
                r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}"#,
                r#"{"type":"content_block_stop","index":1}"#,
            ]
        );
    }
}
