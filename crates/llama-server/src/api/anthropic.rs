//! Anthropic's Messages API request (`POST /v1/messages`, `/v1/messages/count_tokens`) and its
//! conversion to the chat path: typed chat messages and tools for the template, and the
//! generation fields every completion endpoint validates. Follows llama.cpp's
//! `server_chat_convert_anthropic_to_oai`: permissive (no `max_tokens`: 4096; unknown block
//! types dropped), tool results become `tool` messages after their user turn.

use super::request::{GenerationFields, StopField};
use super::tools::ToolRequest;
use crate::error::{Result, ServerError};
use llama_core::chat::toolcall::ToolChoice;
use llama_core::chat::{ChatInputs, ChatMessage, ChatTemplate, ChatTool, ContentPart, ToolCall};
use serde::Deserialize;
use serde_json::{Map, Value};

/// llama.cpp's `max_tokens` when a request has none (Anthropic requires it; llama.cpp does not).
pub const DEFAULT_MAX_TOKENS: i64 = 4096;

/// What llama.cpp answers an image to a model without a vision projector (a 500).
pub const NO_IMAGE_SUPPORT: &str =
    "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj";

/// `POST /v1/messages` and `POST /v1/messages/count_tokens`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct MessagesRequest {
    pub model: Option<String>,
    pub system: Option<System>,
    /// Required; `None` is answered with llama.cpp's "'messages' is required".
    pub messages: Option<Vec<AnthropicMessage>>,
    pub tools: Option<Vec<AnthropicTool>>,
    /// `{"type": "auto" | "any" | "tool" (with `name`) | "none"}`, optional
    /// `disable_parallel_tool_use`.
    pub tool_choice: Option<Value>,
    pub stop_sequences: Option<Vec<String>>,
    pub max_tokens: Option<i64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i32>,
    pub stream: Option<bool>,
    /// `{"type": "enabled", "budget_tokens": n}`: accepted; llama.cpp turns it into a thinking
    /// budget, which this server does not enforce.
    pub thinking: Option<Value>,
    pub chat_template_kwargs: Option<Map<String, Value>>,
}

/// `system`: a string or text blocks (joined without separator, as llama.cpp does).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum System {
    Text(String),
    Blocks(Vec<Block>),
}

/// One message: `content` is a string or content blocks.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AnthropicMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// A message's `content`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block; types this server does not know are dropped, as llama.cpp does.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
    },
    Image {},
    ToolUse {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        input: Option<Value>,
    },
    ToolResult {
        #[serde(default)]
        tool_use_id: String,
        #[serde(default)]
        content: Option<MessageContent>,
    },
    #[serde(other)]
    Other,
}

/// A tool offered to the model: `input_schema` is its parameters' JSON schema.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct AnthropicTool {
    pub name: String,
    pub description: String,
    pub input_schema: Option<Value>,
}

impl MessagesRequest {
    /// The conversation as chat messages for the template (system first).
    pub fn chat_messages(&self) -> Result<Vec<ChatMessage>> {
        let messages = self
            .messages
            .as_ref()
            .ok_or_else(|| ServerError::BadRequest("'messages' is required".into()))?;
        let mut out = Vec::with_capacity(messages.len() + 1);
        match &self.system {
            None => {}
            Some(System::Text(t)) => out.push(ChatMessage::new("system", t.clone())),
            Some(System::Blocks(blocks)) => {
                let text: String = blocks
                    .iter()
                    .filter_map(|b| match b {
                        Block::Text { text } => Some(text.as_str()),
                        _ => None,
                    })
                    .collect();
                out.push(ChatMessage::new("system", text));
            }
        }
        for m in messages {
            convert_message(m, &mut out)?;
        }
        Ok(out)
    }

    /// `tools` as function tools.
    pub fn chat_tools(&self) -> Vec<ChatTool> {
        self.tools
            .iter()
            .flatten()
            .map(|t| ChatTool {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t
                    .input_schema
                    .clone()
                    .unwrap_or_else(|| Value::Object(Map::new())),
            })
            .collect()
    }

    /// `tools` and `tool_choice` as the chat path's [`ToolRequest`]: `auto`, `any` (=
    /// `required`), `tool` (= that function), `none`; one call per answer (llama.cpp's
    /// `parallel_tool_calls` default) unless `disable_parallel_tool_use` is `false`.
    pub fn tool_request(&self) -> Result<ToolRequest> {
        let bad = |m: String| ServerError::BadRequest(format!("'tool_choice': {m}"));
        let tools = self.chat_tools();
        let (choice, parallel) = match &self.tool_choice {
            None | Some(Value::Null) => (ToolChoice::Auto, false),
            Some(tc) => {
                // llama.cpp's conversion never enables parallel calls; an explicit
                // `disable_parallel_tool_use: false` does.
                let parallel = tc.get("disable_parallel_tool_use") == Some(&Value::Bool(false));
                let choice = match tc.get("type").and_then(Value::as_str) {
                    Some("auto") => ToolChoice::Auto,
                    Some("any") => ToolChoice::Required,
                    Some("none") => ToolChoice::None,
                    Some("tool") => match tc.get("name").and_then(Value::as_str) {
                        Some(n) => ToolChoice::Named(n.to_string()),
                        None => return Err(bad("type \"tool\" needs a 'name'".into())),
                    },
                    _ => return Err(bad(format!("unknown tool choice {tc}"))),
                };
                (choice, parallel)
            }
        };
        match &choice {
            ToolChoice::Required if tools.is_empty() => {
                return Err(bad("\"any\" needs 'tools'".into()))
            }
            ToolChoice::Named(n) if !tools.iter().any(|t| &t.name == n) => {
                return Err(bad(format!("names tool '{n}', which is not in 'tools'")))
            }
            _ => {}
        }
        Ok(ToolRequest {
            tools,
            choice,
            parallel,
        })
    }

    /// The prompt text: the conversation and tools through `template` (ChatML without one),
    /// with the server's template variables overridden by the request's `chat_template_kwargs`;
    /// a final assistant message is continued under `--prefill-assistant` (`prefill`), as
    /// llama.cpp's chat path does for this endpoint too.
    pub fn render(
        &self,
        template: Option<&ChatTemplate>,
        server_kwargs: &Map<String, Value>,
        prefill: bool,
    ) -> Result<String> {
        let messages = self.chat_messages()?;
        let end = super::prefill::PromptEnd::decide(&messages, None, None, prefill)?;
        let mut kwargs = server_kwargs.clone();
        kwargs.extend(self.chat_template_kwargs.clone().unwrap_or_default());
        let Some(template) = template else {
            let flat: Vec<ChatMessage> = messages
                .iter()
                .map(|m| ChatMessage::new(m.role.clone(), m.content.clone() + &m.concat_parts()))
                .collect();
            return super::prompt::render_chat_with(None, &flat, &[], &kwargs, end);
        };
        let tools = self.tool_request()?;
        let mut inputs = ChatInputs::new(&messages);
        inputs.tools = tools.rendered();
        inputs.kwargs = kwargs;
        inputs.add_generation_prompt = end.add_generation_prompt;
        inputs.continue_final_message = end.continuation;
        template
            .apply(&inputs)
            .map_err(|e| ServerError::BadRequest(format!("cannot apply the chat template: {e}")))
    }

    /// The generation fields llama.cpp passes on to its chat path; the rest are not Anthropic's.
    pub fn generation_fields(&self) -> GenerationFields {
        GenerationFields {
            model: self.model.clone(),
            max_tokens: Some(self.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
            temperature: self.temperature,
            top_p: self.top_p,
            top_k: self.top_k,
            stop: self.stop_sequences.clone().map(StopField::Many),
            stream: self.stream,
            ..GenerationFields::default()
        }
    }
}

/// One Anthropic message → its chat message (text, thinking, tool calls), then one `tool`
/// message per `tool_result` block.
fn convert_message(m: &AnthropicMessage, out: &mut Vec<ChatMessage>) -> Result<()> {
    let blocks = match &m.content {
        // llama.cpp drops an assistant turn without content and passes other ones on.
        None if m.role == "assistant" => return Ok(()),
        None => {
            out.push(ChatMessage::new(m.role.clone(), ""));
            return Ok(());
        }
        Some(MessageContent::Text(t)) => {
            out.push(ChatMessage::new(m.role.clone(), t.clone()));
            return Ok(());
        }
        Some(MessageContent::Blocks(blocks)) => blocks,
    };
    let mut msg = ChatMessage::new(m.role.clone(), "");
    let mut results = Vec::new();
    for block in blocks {
        match block {
            Block::Text { text } => msg.content_parts.push(text_part(text)),
            Block::Thinking { thinking } => msg.reasoning_content.push_str(thinking),
            Block::Image {} => return Err(ServerError::Internal(NO_IMAGE_SUPPORT.into())),
            Block::ToolUse { id, name, input } => msg.tool_calls.push(ToolCall {
                id: id.clone(),
                name: name.clone(),
                arguments: input
                    .clone()
                    .unwrap_or_else(|| Value::Object(Map::new()))
                    .to_string(),
            }),
            Block::ToolResult {
                tool_use_id,
                content,
            } => {
                let mut tool = ChatMessage::new("tool", tool_result_text(content.as_ref())?);
                tool.tool_call_id = tool_use_id.clone();
                results.push(tool);
            }
            Block::Other => {}
        }
    }
    if !msg.content_parts.is_empty()
        || !msg.tool_calls.is_empty()
        || !msg.reasoning_content.is_empty()
    {
        out.push(msg);
    }
    out.extend(results);
    Ok(())
}

fn text_part(text: &str) -> ContentPart {
    ContentPart {
        kind: "text".into(),
        text: text.to_owned(),
    }
}

/// A tool result's text: a string, or its text blocks joined (images are refused).
fn tool_result_text(content: Option<&MessageContent>) -> Result<String> {
    match content {
        None => Ok(String::new()),
        Some(MessageContent::Text(t)) => Ok(t.clone()),
        Some(MessageContent::Blocks(blocks)) => {
            let mut text = String::new();
            for b in blocks {
                match b {
                    Block::Text { text: t } => text.push_str(t),
                    Block::Image {} => return Err(ServerError::Internal(NO_IMAGE_SUPPORT.into())),
                    _ => {}
                }
            }
            Ok(text)
        }
    }
}

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
