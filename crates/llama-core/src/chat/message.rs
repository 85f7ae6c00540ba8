//! Typed chat messages and tools, with llama.cpp's OpenAI-JSON parsing
//! (`common_chat_msgs_parse_oaicompat`) and its template-facing JSON (`to_json_oaicompat`).

use serde_json::{json, Map, Value as Json};

use crate::error::{Error, Result};

/// One typed part of a message's content (`{"type": "text", "text": ...}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentPart {
    /// `text` or `media_marker`.
    pub kind: String,
    pub text: String,
}

/// A tool call made by the assistant; `arguments` is the JSON text of the arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// One chat message. Empty strings mean "absent", as in llama.cpp's `common_chat_msg`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
    /// Typed content (used instead of `content` when that is empty).
    pub content_parts: Vec<ContentPart>,
    pub reasoning_content: String,
    /// `name` of a tool result message.
    pub name: String,
    pub tool_call_id: String,
    pub tool_calls: Vec<ToolCall>,
}

/// A function tool offered to the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ChatTool {
    pub name: String,
    pub description: String,
    /// JSON schema of the parameters.
    pub parameters: Json,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::ChatMessages(msg.into())
}

fn str_field(v: &Json, key: &str) -> Result<String> {
    match v.get(key) {
        None | Some(Json::Null) => Ok(String::new()),
        Some(Json::String(s)) => Ok(s.clone()),
        Some(other) => Err(invalid(format!("'{key}' must be a string, got {other}"))),
    }
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
            ..Default::default()
        }
    }

    /// Parses an OpenAI `messages` array the way llama.cpp does.
    pub fn parse_oaicompat(messages: &Json) -> Result<Vec<ChatMessage>> {
        let arr = messages.as_array().ok_or_else(|| {
            invalid(format!(
                "expected 'messages' to be an array, got {messages}"
            ))
        })?;
        arr.iter().map(Self::parse_one).collect()
    }

    fn parse_one(message: &Json) -> Result<ChatMessage> {
        if !message.is_object() {
            return Err(invalid(format!(
                "expected 'message' to be an object, got {message}"
            )));
        }
        let role = match message.get("role") {
            Some(Json::String(r)) => r.clone(),
            _ => return Err(invalid(format!("missing 'role' in message: {message}"))),
        };
        let mut msg = ChatMessage::new(role, "");
        match message.get("content") {
            None | Some(Json::Null) => {}
            Some(Json::String(s)) => msg.content = s.clone(),
            Some(Json::Array(parts)) => {
                for part in parts {
                    let kind = str_field(part, "type")?;
                    if kind != "text" && kind != "media_marker" {
                        return Err(invalid(format!("unsupported content part type: {part}")));
                    }
                    let text = str_field(part, "text")?;
                    msg.content_parts.push(ContentPart { kind, text });
                }
            }
            Some(other) => {
                return Err(invalid(format!(
                    "invalid 'content' type: expected string or array, got {other}"
                )))
            }
        }
        if let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) {
            let calls = calls
                .as_array()
                .ok_or_else(|| invalid("'tool_calls' must be an array"))?;
            for tc in calls {
                msg.tool_calls.push(parse_tool_call(tc)?);
            }
        }
        if message.get("content").is_none() && message.get("tool_calls").is_none() {
            return Err(invalid("expected 'content' or 'tool_calls'"));
        }
        msg.reasoning_content = str_field(message, "reasoning_content")?;
        msg.name = str_field(message, "name")?;
        msg.tool_call_id = str_field(message, "tool_call_id")?;
        Ok(msg)
    }

    /// Text of the content parts joined by newlines (no newline around media markers).
    pub fn concat_parts(&self) -> String {
        let mut text = String::new();
        let mut last_was_marker = false;
        for part in &self.content_parts {
            match part.kind.as_str() {
                "text" => {
                    if !last_was_marker && !text.is_empty() {
                        text.push('\n');
                    }
                    last_was_marker = false;
                }
                "media_marker" => last_was_marker = true,
                _ => continue,
            }
            text.push_str(&part.text);
        }
        text
    }

    /// The JSON object templates see (llama.cpp `common_chat_msg::to_json_oaicompat`).
    pub fn to_template_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("role".into(), Json::String(self.role.clone()));
        let content = if !self.content.is_empty() {
            Json::String(self.content.clone())
        } else if !self.content_parts.is_empty() {
            let parts = self.content_parts.iter();
            Json::Array(
                parts
                    .map(|p| json!({"type": p.kind, "text": p.text}))
                    .collect(),
            )
        } else {
            Json::String(String::new())
        };
        m.insert("content".into(), content);
        let optional = [
            ("reasoning_content", &self.reasoning_content),
            ("name", &self.name),
            ("tool_call_id", &self.tool_call_id),
        ];
        for (key, value) in optional {
            if !value.is_empty() {
                m.insert(key.into(), Json::String(value.clone()));
            }
        }
        if !self.tool_calls.is_empty() {
            let calls = self.tool_calls.iter().map(|tc| {
                let mut call = json!({
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments},
                });
                if !tc.id.is_empty() {
                    call["id"] = Json::String(tc.id.clone());
                }
                call
            });
            m.insert("tool_calls".into(), Json::Array(calls.collect()));
        }
        Json::Object(m)
    }
}

fn parse_tool_call(tc: &Json) -> Result<ToolCall> {
    if str_field(tc, "type")? != "function" {
        return Err(invalid(format!("unsupported tool call type: {tc}")));
    }
    let function = tc
        .get("function")
        .ok_or_else(|| invalid(format!("missing tool call function: {tc}")))?;
    let name = match function.get("name") {
        Some(Json::String(n)) => n.clone(),
        _ => return Err(invalid(format!("missing tool call name: {tc}"))),
    };
    let arguments = match function.get("arguments") {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => return Err(invalid(format!("missing tool call arguments: {tc}"))),
    };
    Ok(ToolCall {
        id: str_field(tc, "id")?,
        name,
        arguments,
    })
}

impl ChatTool {
    /// Parses an OpenAI `tools` array (only `type: function` tools).
    pub fn parse_oaicompat(tools: &Json) -> Result<Vec<ChatTool>> {
        if tools.is_null() {
            return Ok(Vec::new());
        }
        let arr = tools
            .as_array()
            .ok_or_else(|| invalid(format!("expected 'tools' to be an array, got {tools}")))?;
        arr.iter()
            .map(|tool| {
                if tool.get("type").and_then(Json::as_str) != Some("function") {
                    return Err(invalid(format!("unsupported tool type: {tool}")));
                }
                let f = tool
                    .get("function")
                    .ok_or_else(|| invalid(format!("missing tool function: {tool}")))?;
                let name = match f.get("name") {
                    Some(Json::String(n)) => n.clone(),
                    _ => return Err(invalid(format!("missing tool name: {tool}"))),
                };
                Ok(ChatTool {
                    name,
                    description: str_field(f, "description")?,
                    parameters: f.get("parameters").cloned().unwrap_or_else(|| json!({})),
                })
            })
            .collect()
    }

    /// The JSON object templates see (llama.cpp `common_chat_tools_to_json_oaicompat`).
    pub fn to_template_json(&self) -> Json {
        json!({
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        })
    }
}
