//! Streaming: the output is re-parsed as it grows (llama.cpp's partial parsing), and only
//! what extends what was already sent goes out — content, reasoning, and per call its id and
//! name first, then fragments of its arguments.

use super::parse::{parse, parse_parts};
use super::scan::PCall;
use super::types::ParserOptions;
use crate::chat::ChatMessage;

/// One tool call's part of a streamed chunk (`delta.tool_calls[i]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCallDelta {
    pub index: usize,
    /// Set on the call's first delta only.
    pub id: Option<String>,
    /// Set on the call's first delta only.
    pub name: Option<String>,
    pub arguments: String,
}

/// What a piece of output adds to the message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatDelta {
    pub reasoning_content: String,
    pub content: String,
    pub tool_calls: Vec<ToolCallDelta>,
}

impl ChatDelta {
    /// Nothing to send: no reasoning, content or tool-call delta.
    pub fn is_empty(&self) -> bool {
        self.reasoning_content.is_empty() && self.content.is_empty() && self.tool_calls.is_empty()
    }
}

/// Incremental parser for one streamed answer.
pub struct StreamParser {
    opts: ParserOptions,
    text: String,
    sent_reasoning: String,
    sent_content: String,
    sent_calls: Vec<PCall>,
    next_id: Box<dyn FnMut() -> String + Send>,
}

impl StreamParser {
    /// `next_id` names calls whose id the model does not write.
    pub fn new(opts: ParserOptions, next_id: impl FnMut() -> String + Send + 'static) -> Self {
        StreamParser {
            opts,
            text: String::new(),
            sent_reasoning: String::new(),
            sent_content: String::new(),
            sent_calls: Vec::new(),
            next_id: Box::new(next_id),
        }
    }

    /// The output generated so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Adds generated text; returns what can be sent now.
    pub fn push(&mut self, piece: &str) -> ChatDelta {
        self.text.push_str(piece);
        let (reasoning, walk) = parse_parts(&self.text, &self.opts, true);
        self.delta(&reasoning, &walk.content, &walk.calls)
    }

    /// The end of the output: the last delta and the whole message (calls carry the ids
    /// that were streamed).
    pub fn finish(&mut self) -> (ChatDelta, ChatMessage) {
        let mut msg = parse(&self.text, &self.opts);
        let calls: Vec<PCall> = msg
            .tool_calls
            .iter()
            .map(|c| PCall {
                id: c.id.clone(),
                name: c.name.clone(),
                args: c.arguments.clone(),
            })
            .collect();
        let delta = self.delta(&msg.reasoning_content, &msg.content, &calls);
        for (call, sent) in msg.tool_calls.iter_mut().zip(&self.sent_calls) {
            call.id.clone_from(&sent.id);
        }
        (delta, msg)
    }

    fn delta(&mut self, reasoning: &str, content: &str, calls: &[PCall]) -> ChatDelta {
        let mut out = ChatDelta {
            reasoning_content: extend(&mut self.sent_reasoning, reasoning),
            content: extend(&mut self.sent_content, content),
            tool_calls: Vec::new(),
        };
        for (index, call) in calls.iter().enumerate() {
            if let Some(sent) = self.sent_calls.get_mut(index) {
                let arguments = extend(&mut sent.args, &call.args);
                if !arguments.is_empty() {
                    out.tool_calls.push(ToolCallDelta {
                        index,
                        arguments,
                        ..Default::default()
                    });
                }
                continue;
            }
            let id = if call.id.is_empty() {
                (self.next_id)()
            } else {
                call.id.clone()
            };
            out.tool_calls.push(ToolCallDelta {
                index,
                id: Some(id.clone()),
                name: Some(call.name.clone()),
                arguments: call.args.clone(),
            });
            self.sent_calls.push(PCall {
                id,
                name: call.name.clone(),
                args: call.args.clone(),
            });
        }
        out
    }
}

/// The part of `now` past `sent` (nothing when `now` does not extend it: sent text cannot
/// be taken back).
fn extend(sent: &mut String, now: &str) -> String {
    match now.strip_prefix(sent.as_str()) {
        Some(more) if !more.is_empty() => {
            let more = more.to_string();
            sent.push_str(&more);
            more
        }
        _ => String::new(),
    }
}
