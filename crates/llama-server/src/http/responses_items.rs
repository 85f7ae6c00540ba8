//! The output items of a streamed response as they grow: the parser's deltas become
//! `response.output_item.added` (one reasoning item, one message, one function call per call,
//! numbered by `output_index` in the order they appear), then their delta events; at the end
//! each item's done events and the items themselves for `response.completed`.

use crate::api::response::responses::{EventBody, OutputItem, OutputText, ReasoningText};
use llama_core::chat::toolcall::ChatDelta;

/// One item and what it holds so far.
#[derive(Debug, Clone)]
enum Item {
    Reasoning {
        text: String,
    },
    Message {
        text: String,
    },
    /// The parser's call `index`, its call id, name and arguments so far.
    Call {
        index: usize,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// The items of one response and their ids.
#[derive(Debug)]
pub struct Items {
    message_id: String,
    reasoning_id: String,
    items: Vec<Item>,
}

/// The id of a function call item (`fc_` + the call's id, as llama.cpp).
fn call_item_id(call_id: &str) -> String {
    format!("fc_{call_id}")
}

impl Items {
    pub fn new(message_id: String, reasoning_id: String) -> Self {
        Items {
            message_id,
            reasoning_id,
            items: Vec::new(),
        }
    }

    /// The events for one parsed delta.
    pub fn events(&mut self, d: &ChatDelta) -> Vec<EventBody> {
        let mut out = Vec::new();
        if !d.reasoning_content.is_empty() {
            let i = self.find_or_add(
                &mut out,
                |it| matches!(it, Item::Reasoning { .. }),
                || Item::Reasoning {
                    text: String::new(),
                },
            );
            if let Item::Reasoning { text } = &mut self.items[i] {
                text.push_str(&d.reasoning_content);
            }
            out.push(EventBody::ReasoningDelta {
                item_id: self.reasoning_id.clone(),
                output_index: i,
                content_index: 0,
                delta: d.reasoning_content.clone(),
            });
        }
        if !d.content.is_empty() {
            let i = self.find_or_add(
                &mut out,
                |it| matches!(it, Item::Message { .. }),
                || Item::Message {
                    text: String::new(),
                },
            );
            if let Item::Message { text } = &mut self.items[i] {
                text.push_str(&d.content);
            }
            out.push(EventBody::TextDelta {
                item_id: self.message_id.clone(),
                output_index: i,
                content_index: 0,
                delta: d.content.clone(),
                logprobs: Vec::new(),
            });
        }
        for call in &d.tool_calls {
            let is_it = |it: &Item| matches!(it, Item::Call { index, .. } if *index == call.index);
            let i = self.find_or_add(&mut out, is_it, || Item::Call {
                index: call.index,
                call_id: call.id.clone().unwrap_or_default(),
                name: call.name.clone().unwrap_or_default(),
                arguments: String::new(),
            });
            if let Item::Call {
                call_id, arguments, ..
            } = &mut self.items[i]
            {
                arguments.push_str(&call.arguments);
                if !call.arguments.is_empty() {
                    out.push(EventBody::ArgumentsDelta {
                        item_id: call_item_id(call_id),
                        output_index: i,
                        delta: call.arguments.clone(),
                    });
                }
            }
        }
        out
    }

    /// The index of the first item `is_it` accepts, adding `new()` (and announcing it) if none.
    fn find_or_add(
        &mut self,
        out: &mut Vec<EventBody>,
        is_it: impl Fn(&Item) -> bool,
        new: impl FnOnce() -> Item,
    ) -> usize {
        if let Some(i) = self.items.iter().position(is_it) {
            return i;
        }
        let item = new();
        let i = self.items.len();
        out.push(EventBody::ItemAdded {
            output_index: i,
            item: self.output(&item, "in_progress"),
        });
        if matches!(item, Item::Message { .. }) {
            out.push(EventBody::PartAdded {
                item_id: self.message_id.clone(),
                output_index: i,
                content_index: 0,
                part: OutputText::new(String::new()),
            });
        }
        self.items.push(item);
        i
    }

    /// An item as the response shows it (in progress: without its content so far).
    fn output(&self, item: &Item, status: &'static str) -> OutputItem {
        let done = status == "completed";
        match item {
            Item::Reasoning { text } => OutputItem::Reasoning {
                id: self.reasoning_id.clone(),
                summary: Vec::new(),
                content: if done {
                    vec![ReasoningText::new(text.clone())]
                } else {
                    Vec::new()
                },
                encrypted_content: String::new(),
                status,
            },
            Item::Message { text } => OutputItem::Message {
                id: self.message_id.clone(),
                status,
                role: "assistant",
                content: if done {
                    vec![OutputText::new(text.clone())]
                } else {
                    Vec::new()
                },
            },
            Item::Call {
                call_id,
                name,
                arguments,
                ..
            } => OutputItem::FunctionCall {
                id: call_item_id(call_id),
                status,
                arguments: if done {
                    arguments.clone()
                } else {
                    String::new()
                },
                call_id: call_id.clone(),
                name: name.clone(),
            },
        }
    }

    /// Every item's done events, in output order, and the finished items.
    pub fn finish(&self) -> (Vec<EventBody>, Vec<OutputItem>) {
        let mut out = Vec::new();
        let mut items = Vec::new();
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Reasoning { text } => out.push(EventBody::ReasoningDone {
                    item_id: self.reasoning_id.clone(),
                    output_index: i,
                    content_index: 0,
                    text: text.clone(),
                }),
                Item::Message { text } => {
                    let (item_id, output_index) = (self.message_id.clone(), i);
                    out.push(EventBody::TextDone {
                        item_id: item_id.clone(),
                        output_index,
                        content_index: 0,
                        text: text.clone(),
                        logprobs: Vec::new(),
                    });
                    out.push(EventBody::PartDone {
                        item_id,
                        output_index,
                        content_index: 0,
                        part: OutputText::new(text.clone()),
                    });
                }
                Item::Call {
                    call_id,
                    name,
                    arguments,
                    ..
                } => out.push(EventBody::ArgumentsDone {
                    item_id: call_item_id(call_id),
                    output_index: i,
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
            }
            let done = self.output(item, "completed");
            out.push(EventBody::ItemDone {
                output_index: i,
                item: done.clone(),
            });
            items.push(done);
        }
        (out, items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(events: &[EventBody]) -> Vec<&'static str> {
        events.iter().map(EventBody::name).collect()
    }

    #[test]
    fn text_then_a_call_become_a_message_and_a_function_call_item() {
        let mut items = Items::new("msg_1".into(), "rs_1".into());
        let [text, call, more] = crate::http::test_deltas::text_then_call();
        let mut events = items.events(&text);
        events.extend(items.events(&call));
        events.extend(items.events(&more));
        assert_eq!(
            names(&events),
            [
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
            ]
        );
        let (done, output) = items.finish();
        assert_eq!(
            names(&done),
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.function_call_arguments.done",
                "response.output_item.done",
            ]
        );
        let json = serde_json::to_string(&output).unwrap_or_default();
        assert_eq!(
            json,
            r#"[{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","annotations":[],"logprobs":[],"text":"Let me check."}]},{"type":"function_call","id":"fc_call_1","status":"completed","arguments":"{\"city\":\"Paris\"}","call_id":"call_1","name":"get_weather"}]"#
        );
    }
}
