//! OpenAI's Responses API request (`POST /v1/responses`) read as the chat request it describes,
//! as llama.cpp's `server_chat_convert_responses_to_chatcmpl` does: `instructions` become the
//! system message, `input` (text or items: messages, function calls and their outputs,
//! reasoning) the conversation, function `tools` chat tools, `max_output_tokens` `max_tokens`.
//! Beyond llama.cpp, `text.format` becomes `response_format` and a named `tool_choice` the chat
//! form, and what would change the answer but cannot be done here (`previous_response_id`,
//! `background`, images, files, hosted tools, `truncation: auto`) is a 400 naming it.

use super::request::ChatRequest;
use crate::error::{Result, ServerError};
use serde_json::{json, Map, Value};

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// A Responses request as a chat request, and its `reasoning.effort` (a template variable).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsesRequest {
    pub chat: ChatRequest,
    pub reasoning_effort: Option<String>,
}

impl ResponsesRequest {
    /// Reads a Responses request body.
    pub fn from_body(body: Value) -> Result<Self> {
        let Value::Object(mut body) = body else {
            return Err(bad("the request body must be a JSON object"));
        };
        refuse_unsupported(&body)?;
        let input = body
            .remove("input")
            .ok_or_else(|| bad("'input' is required"))?;
        let mut messages = Vec::new();
        if let Some(instructions) = body.remove("instructions").filter(|v| !v.is_null()) {
            let text = instructions
                .as_str()
                .ok_or_else(|| bad("'instructions' must be a string"))?;
            messages.push(json!({"role": "system", "content": text}));
        }
        match input {
            Value::String(text) => messages.push(json!({"role": "user", "content": text})),
            Value::Array(items) => {
                for item in items {
                    push_item(&mut messages, item)?;
                }
            }
            _ => return Err(bad("'input' must be a string or array of objects")),
        }
        body.insert("messages".into(), Value::Array(messages));
        if let Some(tools) = body.remove("tools") {
            if let Some(t) = chat_tools(tools)? {
                body.insert("tools".into(), t);
            }
        }
        if let Some(choice) = body.remove("tool_choice") {
            body.insert("tool_choice".into(), chat_tool_choice(choice)?);
        }
        if let Some(n) = body.remove("max_output_tokens") {
            body.insert("max_tokens".into(), n);
        }
        if let Some(text) = body.remove("text") {
            if let Some(format) = response_format(&text)? {
                body.insert("response_format".into(), format);
            }
        }
        let reasoning_effort = match body.remove("reasoning") {
            Some(r) => r.get("effort").and_then(Value::as_str).map(String::from),
            None => None,
        };
        let chat = serde_json::from_value(Value::Object(body)).map_err(|e| bad(e.to_string()))?;
        Ok(ResponsesRequest {
            chat,
            reasoning_effort,
        })
    }
}

/// Fields that would change the answer and that this server cannot honour.
fn refuse_unsupported(body: &Map<String, Value>) -> Result<()> {
    let set = |k: &str| {
        body.get(k)
            .is_some_and(|v| !v.is_null() && v != &json!(false))
    };
    if body
        .get("previous_response_id")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(bad(
            "'previous_response_id' is not supported: responses are not stored; send the \
             conversation in 'input'",
        ));
    }
    if set("background") {
        return Err(bad("'background' responses are not supported"));
    }
    if set("conversation") {
        return Err(bad(
            "'conversation' is not supported: send the conversation in 'input'",
        ));
    }
    if body.get("truncation").and_then(Value::as_str) == Some("auto") {
        return Err(bad(
            "'truncation': \"auto\" is not supported (a prompt longer than the context is a 400)",
        ));
    }
    if body
        .get("top_logprobs")
        .and_then(Value::as_i64)
        .is_some_and(|n| n > 0)
    {
        return Err(bad(
            "'top_logprobs' is not supported on /v1/responses (use /v1/chat/completions)",
        ));
    }
    Ok(())
}

/// The text of an input or output content part list (`input_text`, `output_text`).
fn text_parts(content: &Value, assistant: bool) -> Result<Vec<Value>> {
    let parts = match content {
        Value::String(s) => return Ok(vec![json!({"type": "text", "text": s})]),
        Value::Array(parts) => parts,
        Value::Null => return Ok(Vec::new()),
        _ => return Err(bad("a message's 'content' must be a string or an array")),
    };
    parts
        .iter()
        .map(|p| {
            let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
            match (kind, p.get("text").and_then(Value::as_str)) {
                ("input_text", Some(t)) => Ok(json!({"type": "text", "text": t})),
                ("output_text", Some(t)) if assistant => Ok(json!({"type": "text", "text": t})),
                ("input_text" | "output_text", None) => {
                    Err(bad(format!("a '{kind}' content part requires 'text'")))
                }
                ("refusal", _) if assistant => {
                    let text = p.get("refusal").and_then(Value::as_str).unwrap_or("");
                    Ok(json!({"type": "text", "text": text}))
                }
                ("input_image" | "input_file" | "input_audio", _) => Err(bad(format!(
                    "'{kind}' is not supported: this server has no multimodal model support"
                ))),
                _ if assistant => Err(bad("'type' must be one of 'output_text' or 'refusal'")),
                _ => Err(bad(
                    "'type' must be one of 'input_text', 'input_image', or 'input_file'",
                )),
            }
        })
        .collect()
}

/// Changes the assistant message the item continues: consecutive assistant items (text, calls,
/// reasoning) are one chat message, as llama.cpp merges them.
fn with_assistant_turn(messages: &mut Vec<Value>, f: impl FnOnce(&mut Map<String, Value>)) {
    let last_is_assistant = messages
        .last()
        .is_some_and(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
    if !last_is_assistant {
        messages.push(json!({"role": "assistant"}));
    }
    if let Some(Value::Object(turn)) = messages.last_mut() {
        f(turn);
    }
}

/// Appends one `input` item to the chat messages.
fn push_item(messages: &mut Vec<Value>, item: Value) -> Result<()> {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
    let role = item.get("role").and_then(Value::as_str).unwrap_or("");
    let field = |k: &str| item.get(k).and_then(Value::as_str).map(String::from);
    match (kind, role) {
        ("" | "message", "user" | "system" | "developer") => {
            let content = text_parts(item.get("content").unwrap_or(&Value::Null), false)?;
            messages.push(json!({"role": role, "content": content}));
        }
        ("" | "message", "assistant") => {
            let parts = text_parts(item.get("content").unwrap_or(&Value::Null), true)?;
            with_assistant_turn(messages, |turn| {
                match turn.entry("content").or_insert_with(|| json!([])) {
                    Value::Array(c) => c.extend(parts),
                    other => *other = Value::Array(parts),
                }
            });
        }
        ("function_call", _) => {
            let (Some(call_id), Some(name), Some(arguments)) =
                (field("call_id"), field("name"), field("arguments"))
            else {
                return Err(bad(
                    "a 'function_call' item requires 'call_id', 'name' and 'arguments'",
                ));
            };
            let call = json!({"id": call_id, "type": "function",
                "function": {"name": name, "arguments": arguments}});
            with_assistant_turn(messages, |turn| {
                match turn.entry("tool_calls").or_insert_with(|| json!([])) {
                    Value::Array(calls) => calls.push(call),
                    other => *other = json!([call]),
                }
            });
        }
        ("function_call_output", _) => {
            let call_id = field("call_id")
                .ok_or_else(|| bad("a 'function_call_output' item requires 'call_id'"))?;
            let content = match item.get("output") {
                Some(Value::String(s)) => Value::String(s.clone()),
                Some(parts @ Value::Array(_)) => Value::Array(text_parts(parts, false)?),
                _ => return Err(bad("a 'function_call_output' item requires 'output'")),
            };
            messages.push(json!({"role": "tool", "tool_call_id": call_id, "content": content}));
        }
        ("reasoning", _) => {
            let text = item
                .get("content")
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("text"))
                .and_then(Value::as_str)
                .ok_or_else(|| bad("a 'reasoning' item requires 'content' with a 'text'"))?
                .to_owned();
            with_assistant_turn(messages, |turn| {
                turn.insert("reasoning_content".into(), Value::String(text));
            });
        }
        _ => return Err(bad("Cannot determine type of 'item'")),
    }
    Ok(())
}

/// Responses function tools (`{type, name, description, parameters, strict}`) as chat tools;
/// hosted tools (web search, file search, ...) are refused: nothing here can run them.
fn chat_tools(tools: Value) -> Result<Option<Value>> {
    let Value::Array(tools) = tools else {
        return Err(bad("'tools' must be an array of objects"));
    };
    let mut out = Vec::new();
    for tool in tools {
        let Value::Object(mut tool) = tool else {
            return Err(bad("'tools' must be an array of objects"));
        };
        match tool.remove("type").as_ref().and_then(Value::as_str) {
            Some("function") => {}
            Some(other) => {
                return Err(bad(format!(
                    "tool type '{other}' is not supported: only 'function' tools"
                )))
            }
            None => return Err(bad("a tool requires 'type'")),
        }
        out.push(json!({"type": "function", "function": tool}));
    }
    Ok((!out.is_empty()).then_some(Value::Array(out)))
}

/// `tool_choice`: the strings as they are, `{"type": "function", "name": N}` in chat's form.
fn chat_tool_choice(choice: Value) -> Result<Value> {
    match &choice {
        Value::String(_) | Value::Null => Ok(choice),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("function") => {
            let name = o
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("'tool_choice' of type 'function' requires 'name'"))?;
            Ok(json!({"type": "function", "function": {"name": name}}))
        }
        _ => Err(bad(
            "'tool_choice' must be \"auto\", \"none\", \"required\" or a function",
        )),
    }
}

/// `text.format` as a chat `response_format` (`None` for plain text).
fn response_format(text: &Value) -> Result<Option<Value>> {
    let Some(format) = text.get("format").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(json!({"type": "json_object"}))),
        Some("json_schema") => {
            let schema = format
                .get("schema")
                .ok_or_else(|| bad("'text.format' of type 'json_schema' requires 'schema'"))?;
            let mut inner = json!({"schema": schema});
            for key in ["name", "strict", "description"] {
                if let Some(v) = format.get(key) {
                    inner[key] = v.clone();
                }
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": inner})))
        }
        _ => Err(bad(
            "'text.format' must be of type 'text', 'json_object' or 'json_schema'",
        )),
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
