//! Reading a chat answer as a message: the request's tool-call/reasoning parser options travel
//! with the job, and the finished output is parsed once here, so the GenAI span can count and
//! record the tool calls and the response can use the same message. Call ids are derived from
//! the response id, so a streamed parse of the same text names its calls identically.

use llama_core::chat::toolcall::{parse, ParserOptions};
use llama_core::chat::ChatMessage;
use serde_json::json;

/// How a job's output is read as a chat message.
#[derive(Debug, Clone)]
pub struct ChatParse {
    pub opts: ParserOptions,
    /// Seeds the ids of calls the model does not name itself (see [`call_ids`]).
    pub id_seed: String,
}

impl ChatParse {
    /// The whole output as a message (calls without an id get [`call_ids`] ids).
    pub fn message(&self, text: &str) -> ChatMessage {
        let mut msg = parse(text, &self.opts);
        llama_core::chat::toolcall::fill_missing_ids(&mut msg, call_ids(&self.id_seed));
        msg
    }
}

/// Deterministic call ids for one response: `call_<seed>_<n>` for n = 0, 1, ... (llama.cpp draws
/// random ones; ours must agree between the streamed and the whole-output parse).
pub fn call_ids(seed: &str) -> impl FnMut() -> String + Send + 'static {
    let seed: String = seed.chars().filter(char::is_ascii_alphanumeric).collect();
    let mut n = 0usize;
    move || {
        let id = format!("call_{seed}_{n}");
        n += 1;
        id
    }
}

/// `parts` of the answer in `gen_ai.output.messages`: reasoning, text, then the tool calls
/// (the GenAI conventions' `reasoning`, `text` and `tool_call` parts).
pub fn output_parts(message: &ChatMessage) -> serde_json::Value {
    let mut parts = Vec::new();
    if !message.reasoning_content.is_empty() {
        parts.push(json!({"type": "reasoning", "content": message.reasoning_content}));
    }
    if !message.content.is_empty() {
        parts.push(json!({"type": "text", "content": message.content}));
    }
    for call in &message.tool_calls {
        let arguments = serde_json::from_str::<serde_json::Value>(&call.arguments)
            .unwrap_or_else(|_| json!(call.arguments));
        parts.push(
            json!({"type": "tool_call", "id": call.id, "name": call.name,
            "arguments": arguments}),
        );
    }
    serde_json::Value::Array(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llama_core::chat::toolcall::ToolCallFormat;

    #[test]
    fn hermes_output_becomes_calls_with_seeded_ids() {
        let p = ChatParse {
            opts: ParserOptions::new(ToolCallFormat::Hermes),
            id_seed: "chatcmpl-ab-1".into(),
        };
        let msg = p.message(
            "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}}\n</tool_call>\
             <tool_call>\n{\"name\": \"g\", \"arguments\": {}}\n</tool_call>",
        );
        let ids: Vec<&str> = msg.tool_calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["call_chatcmplab1_0", "call_chatcmplab1_1"]);
        assert_eq!(msg.tool_calls[0].name, "f");
        assert_eq!(msg.tool_calls[0].arguments, "{\"x\":1}");
    }
}
