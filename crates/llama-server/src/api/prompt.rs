//! Prompts to tokens: chat messages through the model's own template, completion prompts given
//! as text or token ids.

use super::prefill::PromptEnd;
use super::request::{Content, Message, MessageToolCall};
use crate::error::{Result, ServerError};
use llama_core::chat::{
    ChatInputs, ChatMessage, ChatTemplate, ChatTool, ContentPart, Continuation, ToolCall,
};
use llama_core::vocab::Vocab;
use serde_json::Value;

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// Messages for the template: text content, or text parts kept as parts (the template or
/// llama.cpp's workarounds join them); content parts other than text are refused.
pub fn chat_messages(messages: &[Message]) -> Result<Vec<ChatMessage>> {
    if messages.is_empty() {
        return Err(bad("'messages' must contain at least one message"));
    }
    messages
        .iter()
        .map(|m| {
            let mut msg = ChatMessage::new(m.role.clone(), "");
            match &m.content {
                None => {}
                Some(Content::Text(t)) => msg.content = t.clone(),
                Some(Content::Parts(parts)) => {
                    for p in parts {
                        match (p.kind.as_str(), &p.text) {
                            ("text", Some(t)) => msg.content_parts.push(ContentPart {
                                kind: "text".into(),
                                text: t.clone(),
                            }),
                            ("text", None) => {
                                return Err(bad("a 'text' content part needs a 'text' field"))
                            }
                            (other, _) => {
                                return Err(bad(format!("unsupported content part type '{other}'")))
                            }
                        }
                    }
                }
            }
            msg.tool_call_id = m.tool_call_id.clone().unwrap_or_default();
            msg.name = m.name.clone().unwrap_or_default();
            msg.reasoning_content = m.reasoning_content.clone().unwrap_or_default();
            for call in m.tool_calls.iter().flatten() {
                msg.tool_calls.push(tool_call(call)?);
            }
            Ok(msg)
        })
        .collect()
}

/// An assistant message's call; `arguments` as JSON text (an object is written out).
fn tool_call(call: &MessageToolCall) -> Result<ToolCall> {
    if let Some(kind) = call.kind.as_deref().filter(|k| *k != "function") {
        return Err(bad(format!(
            "unsupported tool call type '{kind}' in 'tool_calls'"
        )));
    }
    let arguments = match &call.function.arguments {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Object(_) => call.function.arguments.to_string(),
        other => {
            return Err(bad(format!(
                "'tool_calls[].function.arguments' must be a JSON string, got {other}"
            )))
        }
    };
    Ok(ToolCall {
        id: call.id.clone().unwrap_or_default(),
        name: call.function.name.clone(),
        arguments,
    })
}

/// Renders messages and tools with the given template (ChatML when the model has none), with
/// the server-wide template variables.
pub fn render_chat(
    template: Option<&ChatTemplate>,
    messages: &[ChatMessage],
    tools: &[ChatTool],
    kwargs: &serde_json::Map<String, Value>,
) -> Result<String> {
    render_chat_with(template, messages, tools, kwargs, PromptEnd::default())
}

/// [`render_chat`], ending the prompt as `end` says (see [`super::prefill`]).
pub fn render_chat_with(
    template: Option<&ChatTemplate>,
    messages: &[ChatMessage],
    tools: &[ChatTool],
    kwargs: &serde_json::Map<String, Value>,
    end: PromptEnd,
) -> Result<String> {
    match template {
        Some(t) => {
            let mut inputs = ChatInputs::new(messages);
            inputs.tools = tools;
            inputs.kwargs = kwargs.clone();
            inputs.add_generation_prompt = end.add_generation_prompt;
            inputs.continue_final_message = end.continuation;
            t.apply(&inputs)
                .map_err(|e| bad(format!("cannot apply the chat template: {e}")))
        }
        None if !tools.is_empty() => Err(bad(
            "'tools' need a chat template: the model has none (give --chat-template)",
        )),
        None => Ok(chatml(messages, end)),
    }
}

/// The ChatML fallback for a model without a template; a continued final message is left
/// open after the assistant's header.
fn chatml(messages: &[ChatMessage], end: PromptEnd) -> String {
    let text = |m: &ChatMessage| {
        if m.content.is_empty() {
            m.concat_parts()
        } else {
            m.content.clone()
        }
    };
    let (closed, open) = match messages.split_last() {
        Some((last, rest)) if end.continuation != Continuation::None => (rest, Some(last)),
        _ => (messages, None),
    };
    let mut out = String::new();
    for m in closed {
        out.push_str(&format!("<|im_start|>{}\n{}<|im_end|>\n", m.role, text(m)));
    }
    match open {
        Some(last) => {
            let parts: Vec<&str> = last.content_parts.iter().map(|p| p.text.as_str()).collect();
            let content = if last.content.is_empty() {
                parts.join("\n\n")
            } else {
                last.content.clone()
            };
            out.push_str("<|im_start|>assistant\n");
            out.push_str(&content);
        }
        None if end.add_generation_prompt => out.push_str("<|im_start|>assistant\n"),
        None => {}
    }
    out
}

fn token_id(v: &Value, n_vocab: usize) -> Result<u32> {
    v.as_u64()
        .filter(|&t| (t as usize) < n_vocab)
        .map(|t| t as u32)
        .ok_or_else(|| {
            bad(format!(
                "invalid token id {v}: ids are integers below {n_vocab}"
            ))
        })
}

/// A completion prompt: a string, an array of token ids, or a one-element array of either.
/// Text is tokenized like llama.cpp does (special tokens added and parsed).
pub fn prompt_tokens(prompt: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<u32>> {
    let tokens = match prompt {
        Value::String(s) => vocab.tokenize(s, true, true),
        Value::Array(items) if items.iter().all(Value::is_number) => items
            .iter()
            .map(|v| token_id(v, n_vocab))
            .collect::<Result<_>>()?,
        Value::Array(items) if items.len() == 1 => return prompt_tokens(&items[0], vocab, n_vocab),
        Value::Array(_) => return Err(bad("multiple prompts in one request are not supported")),
        _ => return Err(bad("'prompt' must be a string or an array of token ids")),
    };
    if tokens.is_empty() {
        return Err(bad("the prompt is empty"));
    }
    Ok(tokens)
}

/// Token ids for `/detokenize`.
pub fn detokenize_ids(tokens: &[i64], n_vocab: usize) -> Result<Vec<u32>> {
    tokens
        .iter()
        .map(|&t| {
            u32::try_from(t)
                .ok()
                .filter(|&t| (t as usize) < n_vocab)
                .ok_or_else(|| {
                    bad(format!(
                        "invalid token id {t}: ids are integers below {n_vocab}"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::request::ContentPart;

    fn msg(role: &str, content: Option<Content>) -> Message {
        Message {
            role: role.into(),
            content,
            ..Default::default()
        }
    }

    #[test]
    fn content_parts_are_kept_and_null_is_empty() {
        let parts = Content::Parts(vec![
            ContentPart {
                kind: "text".into(),
                text: Some("a".into()),
            },
            ContentPart {
                kind: "text".into(),
                text: Some("b".into()),
            },
        ]);
        let out =
            chat_messages(&[msg("user", Some(parts)), msg("assistant", None)]).expect("valid");
        assert_eq!(out[0].concat_parts(), "a\nb");
        assert_eq!(out[1], ChatMessage::new("assistant", ""));
    }

    #[test]
    fn empty_or_non_text_messages_are_refused() {
        assert!(chat_messages(&[]).is_err());
        let image = Content::Parts(vec![ContentPart {
            kind: "image_url".into(),
            text: None,
        }]);
        assert!(chat_messages(&[msg("user", Some(image))]).is_err());
    }

    #[test]
    fn chatml_fallback_opens_the_assistant_turn() {
        let text = render_chat(
            None,
            &[ChatMessage::new("user", "hi")],
            &[],
            &Default::default(),
        )
        .expect("renders");
        assert_eq!(
            text,
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn token_ids_are_range_checked() {
        assert_eq!(detokenize_ids(&[0, 5], 10).ok(), Some(vec![0, 5]));
        assert!(detokenize_ids(&[10], 10).is_err());
        assert!(detokenize_ids(&[-1], 10).is_err());
        assert!(token_id(&serde_json::json!(1.5), 10).is_err());
    }
}
