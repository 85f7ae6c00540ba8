//! What the chat-shaped endpoints (`/v1/chat/completions`, `/v1/responses`) share before a job
//! exists: the prompt as llama.cpp renders it, and how the answer is read (tool calls,
//! reasoning) and constrained (a forced call, the lazy call grammar).

use super::Ready;
use crate::api::prefill::PromptEnd;
use crate::api::prompt;
use crate::api::request::ChatRequest;
use crate::api::tools::ToolRequest;
use crate::error::{Result, ServerError};
use crate::scheduler::chat_output::ChatParse;
use crate::scheduler::job::GenParams;
use llama_core::chat::toolcall::ReasoningFormat;
use llama_core::chat::ChatMessage;
use serde_json::{Map, Value};

/// A chat request's messages and tools, and its prompt as llama.cpp renders it (template,
/// tools, template variables `kwargs`, assistant prefill).
pub fn render_chat(
    ready: &Ready,
    req: &ChatRequest,
    kwargs: &Map<String, Value>,
) -> Result<(Vec<ChatMessage>, ToolRequest, String)> {
    let messages = prompt::chat_messages(&req.messages)?;
    let tools = ToolRequest::from_request(req)?;
    let template = ready.chat_template.as_ref().or(ready.model.chat_template());
    let end = PromptEnd::decide(
        &messages,
        req.add_generation_prompt,
        req.continue_final_message.as_ref(),
        ready.prefill_assistant,
    )?;
    let text = prompt::render_chat_with(template, &messages, tools.rendered(), kwargs, end)?;
    Ok((messages, tools, text))
}

/// How the answer to `text` is read and constrained: a call forced by `tool_choice`
/// (`required` or a named function, refused together with a schema or grammar), else the lazy
/// call grammar unless the request constrains the output itself. `None`: plain text (no tools
/// to call and no thought left open).
pub fn chat_parse(
    ready: &Ready,
    tools: &ToolRequest,
    text: &str,
    reasoning: ReasoningFormat,
    params: &mut GenParams,
    id_seed: &str,
) -> Result<Option<ChatParse>> {
    let template = ready.chat_template.as_ref().or(ready.model.chat_template());
    let opts = tools.parser(template, text, reasoning);
    if let Some(call) = tools.forced_call(&opts)? {
        if params.constraint.is_some() {
            return Err(ServerError::BadRequest(
                "'tool_choice' \"required\" or a named function cannot be combined with \
                 'response_format', 'json_schema' or 'grammar'"
                    .into(),
            ));
        }
        params.constraint = Some(call);
    } else if params.constraint.is_none() {
        params.constraint = tools.lazy_call(&opts);
    }
    Ok(
        (opts.parse_tool_calls || opts.thinking_forced_open).then(|| ChatParse {
            opts,
            id_seed: id_seed.to_owned(),
        }),
    )
}

/// `gen_ai.input.messages` (content capture): each message's role and text.
pub fn input_messages(messages: &[ChatMessage]) -> Value {
    let input = messages
        .iter()
        .map(|m| super::generate::input_text(&m.role, &(m.content.clone() + &m.concat_parts())));
    Value::Array(input.collect())
}
