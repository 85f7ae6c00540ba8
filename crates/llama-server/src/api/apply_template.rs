//! llama.cpp's `POST /apply-template`: an OpenAI chat body (messages with tool calls and
//! reasoning, tools) rendered through the chat template, without generating.

use super::prefill::PromptEnd;
use crate::error::{Result, ServerError};
use llama_core::chat::{ChatMessage, ChatTemplate, ChatTool};
use serde::Deserialize;
use serde_json::{Map, Value};

/// `POST /apply-template`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ApplyTemplateRequest {
    pub messages: Value,
    #[serde(default)]
    pub tools: Option<Value>,
    #[serde(default)]
    pub chat_template_kwargs: Option<Map<String, Value>>,
    #[serde(default)]
    pub add_generation_prompt: Option<bool>,
    #[serde(default)]
    pub continue_final_message: Option<Value>,
}

fn bad(e: llama_core::Error) -> ServerError {
    ServerError::BadRequest(e.to_string())
}

impl ApplyTemplateRequest {
    /// The prompt llama.cpp's chat path would build: messages and tools through `template`
    /// (ChatML without one), server template variables overridden by the request's, a final
    /// assistant message continued as [`PromptEnd`] decides (`prefill`: `--prefill-assistant`).
    pub fn render(
        &self,
        template: Option<&ChatTemplate>,
        server_kwargs: &Map<String, Value>,
        prefill: bool,
    ) -> Result<String> {
        let messages = ChatMessage::parse_oaicompat(&self.messages).map_err(bad)?;
        let tools =
            ChatTool::parse_oaicompat(self.tools.as_ref().unwrap_or(&Value::Null)).map_err(bad)?;
        let mut kwargs = server_kwargs.clone();
        kwargs.extend(self.chat_template_kwargs.clone().unwrap_or_default());
        let end = PromptEnd::decide(
            &messages,
            self.add_generation_prompt,
            self.continue_final_message.as_ref(),
            prefill,
        )?;
        super::prompt::render_chat_with(template, &messages, &tools, &kwargs, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_calls_parse_and_invalid_messages_are_bad_requests() {
        let req: ApplyTemplateRequest = serde_json::from_str(
            r#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"",
            "tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}"#,
        )
        .expect("parses");
        let text = req.render(None, &Map::new(), false).expect("renders");
        assert!(
            text.starts_with("<|im_start|>user\nhi<|im_end|>\n"),
            "{text}"
        );
        // Under --prefill-assistant a final assistant message with calls cannot be continued
        // (llama.cpp's oaicompat_chat_params_parse refuses it the same way).
        let err = req.render(None, &Map::new(), true).expect_err("calls");
        assert!(err.to_string().contains("tool calls"), "{err}");
        let broken: ApplyTemplateRequest =
            serde_json::from_str(r#"{"messages":[{"content":"no role"}]}"#).expect("parses");
        let err = broken.render(None, &Map::new(), true).expect_err("no role");
        assert!(matches!(err, ServerError::BadRequest(_)), "{err}");
    }
}
