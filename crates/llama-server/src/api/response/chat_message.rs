//! The assistant's message in OpenAI's chat shapes, as llama.cpp writes it
//! (`common_chat_msg::to_json_oaicompat`, `server_chat_msg_diff_to_json_oaicompat`): the whole
//! `message` of a `chat.completion` with `reasoning_content` and `tool_calls`, and the `delta`
//! of a chunk carrying parts of them.

use llama_core::chat::toolcall::ChatDelta as ParsedDelta;
use llama_core::chat::ChatMessage as Parsed;
use serde::Serialize;

/// `message` of a `chat.completion` choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    /// `null` when the answer is only tool calls (OpenAI; llama.cpp writes `""`).
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
}

impl ChatMessage {
    /// A plain-text answer.
    pub fn text(content: String) -> Self {
        ChatMessage {
            role: "assistant",
            content: Some(content),
            reasoning_content: None,
            tool_calls: Vec::new(),
        }
    }

    /// A parsed answer.
    pub fn parsed(m: &Parsed) -> Self {
        let content = (!m.content.is_empty() || m.tool_calls.is_empty()).then(|| m.content.clone());
        ChatMessage {
            role: "assistant",
            content,
            reasoning_content: (!m.reasoning_content.is_empty())
                .then(|| m.reasoning_content.clone()),
            tool_calls: m
                .tool_calls
                .iter()
                .map(|c| ToolCall {
                    id: c.id.clone(),
                    kind: "function",
                    function: FunctionCall {
                        name: c.name.clone(),
                        arguments: c.arguments.clone(),
                    },
                })
                .collect(),
        }
    }
}

/// One element of `message.tool_calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall,
}

/// `function` of a [`ToolCall`]; `arguments` is JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionCall {
    pub name: String,
    pub arguments: String,
}

/// A chunk's `delta` with parts of a parsed answer: any of reasoning, text and tool calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MessageDelta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallChunk>,
}

impl MessageDelta {
    pub fn new(d: &ParsedDelta) -> Self {
        let some = |s: &String| (!s.is_empty()).then(|| s.clone());
        MessageDelta {
            reasoning_content: some(&d.reasoning_content),
            content: some(&d.content),
            tool_calls: d
                .tool_calls
                .iter()
                .map(|c| ToolCallChunk {
                    index: c.index,
                    kind: c.id.as_ref().map(|_| "function"),
                    id: c.id.clone(),
                    function: FunctionChunk {
                        name: c.name.clone(),
                        arguments: some(&c.arguments),
                    },
                })
                .collect(),
        }
    }
}

/// One element of `delta.tool_calls`: the first for a call has its id, type and name, the
/// next ones fragments of its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCallChunk {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionChunk,
}

/// `function` of a [`ToolCallChunk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionChunk {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::chat_output::{call_ids, ChatParse};
    use llama_core::chat::toolcall::{ParserOptions, StreamParser, ToolCallFormat};

    /// Qwen 2.5-Coder's answer to the weather question, as the 0.5B model writes it.
    const OUTPUT: &str = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";

    fn parse() -> ChatParse {
        ChatParse {
            opts: ParserOptions::new(ToolCallFormat::Hermes),
            id_seed: "chatcmpl-x-1".into(),
        }
    }

    #[test]
    fn a_call_only_answer_has_null_content() {
        let message = ChatMessage::parsed(&parse().message(OUTPUT));
        assert_eq!(
            serde_json::to_string(&message).expect("serializes"),
            r#"{"role":"assistant","content":null,"tool_calls":[{"id":"call_chatcmplx1_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}"#
        );
        let text = ChatMessage::parsed(&parse().message("Sunny."));
        assert_eq!(
            serde_json::to_string(&text).expect("serializes"),
            r#"{"role":"assistant","content":"Sunny."}"#
        );
    }

    #[test]
    fn streamed_deltas_add_up_to_the_whole_answer() {
        let p = parse();
        let mut stream = StreamParser::new(p.opts.clone(), call_ids(&p.id_seed));
        let mut deltas: Vec<String> = Vec::new();
        let mut push = |d: &ParsedDelta| {
            if !d.is_empty() {
                deltas.push(serde_json::to_string(&MessageDelta::new(d)).expect("serializes"));
            }
        };
        for piece in OUTPUT.split_inclusive([' ', '"', '\n']) {
            push(&stream.push(piece));
        }
        push(&stream.finish().0);
        assert_eq!(
            deltas.first().map(String::as_str),
            Some(
                r#"{"tool_calls":[{"index":0,"id":"call_chatcmplx1_0","type":"function","function":{"name":"get_weather"}}]}"#
            ),
            "{deltas:?}"
        );
        let mut args = String::new();
        for d in &deltas[1..] {
            let v: serde_json::Value = serde_json::from_str(d).expect("JSON");
            let call = &v["tool_calls"][0];
            assert!(
                call.get("id").is_none() && call["function"].get("name").is_none(),
                "{d}"
            );
            args.push_str(call["function"]["arguments"].as_str().expect("fragment"));
        }
        assert_eq!(args, r#"{"city":"Paris"}"#);
    }
}
