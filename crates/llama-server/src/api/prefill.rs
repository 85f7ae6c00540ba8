//! How a chat prompt ends, as llama.cpp's `oaicompat_chat_params_parse` decides it: with the
//! assistant's turn opened (`add_generation_prompt`, default on), or with the final message
//! continued — asked for by `continue_final_message`, or by itself under `--prefill-assistant`
//! (llama.cpp's default) when the last message is the assistant's.

use crate::error::{Result, ServerError};
use llama_core::chat::{ChatMessage, Continuation};
use serde_json::Value;

/// The end of a rendered chat prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptEnd {
    pub add_generation_prompt: bool,
    pub continuation: Continuation,
}

impl Default for PromptEnd {
    fn default() -> Self {
        PromptEnd {
            add_generation_prompt: true,
            continuation: Continuation::None,
        }
    }
}

fn bad(msg: &str) -> ServerError {
    ServerError::BadRequest(msg.into())
}

impl PromptEnd {
    /// The request's `add_generation_prompt` and `continue_final_message` over `messages`;
    /// `prefill_assistant` is the server's `--prefill-assistant`.
    pub fn decide(
        messages: &[ChatMessage],
        add_generation_prompt: Option<bool>,
        continue_final_message: Option<&Value>,
        prefill_assistant: bool,
    ) -> Result<Self> {
        let mut end = PromptEnd {
            add_generation_prompt: add_generation_prompt.unwrap_or(true),
            continuation: continue_final_message.map_or(Continuation::None, Continuation::parse),
        };
        let is_assistant = |m: Option<&ChatMessage>| m.is_some_and(|m| m.role == "assistant");
        let n = messages.len();
        if end.continuation == Continuation::None
            && prefill_assistant
            && is_assistant(messages.last())
        {
            if n >= 2 && is_assistant(messages.get(n - 2)) {
                return Err(bad(
                    "Cannot have 2 or more assistant messages at the end of the list.",
                ));
            }
            end.continuation = Continuation::Auto;
            end.add_generation_prompt = false;
        }
        if end.continuation != Continuation::None && end.add_generation_prompt {
            return Err(bad(
                "Cannot set both add_generation_prompt and continue_final_message to true.",
            ));
        }
        if end.continuation != Continuation::None
            && messages
                .last()
                .is_some_and(|m| m.role == "assistant" && !m.tool_calls.is_empty())
        {
            return Err(bad(
                "Cannot continue an assistant message that contains tool calls.",
            ));
        }
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(roles: &[&str]) -> Vec<ChatMessage> {
        roles.iter().map(|r| ChatMessage::new(*r, "x")).collect()
    }

    #[test]
    fn a_final_assistant_message_is_continued_by_default() {
        let end = PromptEnd::decide(&conv(&["user", "assistant"]), None, None, true).unwrap();
        assert_eq!(end.continuation, Continuation::Auto);
        assert!(!end.add_generation_prompt);
        let off = PromptEnd::decide(&conv(&["user", "assistant"]), None, None, false).unwrap();
        assert_eq!(off, PromptEnd::default());
        let user = PromptEnd::decide(&conv(&["user"]), None, None, true).unwrap();
        assert_eq!(user, PromptEnd::default());
    }

    #[test]
    fn conflicting_or_impossible_continuations_are_refused() {
        let two = PromptEnd::decide(&conv(&["user", "assistant", "assistant"]), None, None, true);
        assert!(two.is_err());
        let both = PromptEnd::decide(&conv(&["user"]), Some(true), Some(&json!(true)), false);
        assert!(both.is_err());
        let mut calls = conv(&["user", "assistant"]);
        calls[1].tool_calls.push(Default::default());
        assert!(PromptEnd::decide(&calls, None, None, true).is_err());
        let explicit = PromptEnd::decide(
            &conv(&["user", "assistant"]),
            Some(false),
            Some(&json!(true)),
            false,
        )
        .unwrap();
        assert_eq!(explicit.continuation, Continuation::Auto);
    }
}
