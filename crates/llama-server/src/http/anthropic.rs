//! Anthropic's Messages API: `POST /v1/messages` (streamed with Anthropic's named SSE events, or
//! one `message`) and `POST /v1/messages/count_tokens`. Requests go through the chat path (the
//! model's template, `gen_ai.operation.name` `chat`); errors keep the server's one error shape,
//! as llama.cpp's do.

use super::anthropic_blocks::Blocks;
use super::chat_prompt::{chat_parse, input_messages};
use super::extract::ApiJson;
use super::generate::{self, Collected, Format, Prepared};
use super::trace::HttpTrace;
use super::{AppState, Ready};
use crate::api::anthropic::MessagesRequest;
use crate::api::params;
use crate::api::response::anthropic::{
    stop_reason, BlockDelta, ContentBlock, Message, MessageDelta, MessageUsage, OutputUsage,
    StreamEvent, TokenCount,
};
use crate::error::Result;
use crate::scheduler::chat_output::call_ids;
use crate::scheduler::job::{Chunk, Summary};
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use llama_core::chat::toolcall::StreamParser;
use llama_otel::semconv;

/// The one text block every streamed message has.
const TEXT_BLOCK: usize = 0;

/// A message's events. The stream opens the text block right after `message_start` and closes
/// it at the end (llama.cpp opens it with the first text, so a message without text has no
/// block there; an empty block is valid Anthropic).
struct MessagesFormat {
    id: String,
    model: String,
    /// Prompt tokens, for `message_start` (the cache is not known before the prompt is run).
    n_prompt: usize,
    /// With tools (or a thought left open) the stream is parsed into blocks as it grows.
    parsed: Option<(StreamParser, Blocks)>,
}

impl Format for MessagesFormat {
    type Chunk = StreamEvent;
    type Full = Message;

    fn start(&mut self) -> Vec<StreamEvent> {
        let usage = MessageUsage {
            cache_read_input_tokens: 0,
            input_tokens: self.n_prompt,
            output_tokens: 0,
        };
        let start = StreamEvent::MessageStart {
            message: Message::new(self.id.clone(), self.model.clone(), usage),
        };
        if self.parsed.is_some() {
            return vec![start];
        }
        vec![
            start,
            StreamEvent::ContentBlockStart {
                index: TEXT_BLOCK,
                content_block: ContentBlock::Text {
                    text: String::new(),
                },
            },
        ]
    }

    fn chunk(&mut self, c: &Chunk) -> Option<StreamEvent> {
        (!c.text.is_empty()).then(|| StreamEvent::ContentBlockDelta {
            index: TEXT_BLOCK,
            delta: BlockDelta::TextDelta {
                text: c.text.clone(),
            },
        })
    }

    fn chunks(&mut self, c: &Chunk) -> Vec<StreamEvent> {
        match &mut self.parsed {
            Some((parser, blocks)) => blocks.events(&parser.push(&c.text)),
            None => self.chunk(c).into_iter().collect(),
        }
    }

    fn finish(&mut self, s: &Summary) -> Vec<StreamEvent> {
        let mut events = match &mut self.parsed {
            Some((parser, blocks)) => {
                let mut events = blocks.events(&parser.finish().0);
                events.extend(blocks.close());
                events
            }
            None => vec![StreamEvent::ContentBlockStop { index: TEXT_BLOCK }],
        };
        events.extend([
            StreamEvent::MessageDelta {
                delta: MessageDelta {
                    stop_reason: stop_reason(s),
                    stop_sequence: s.stop_word.clone(),
                },
                usage: OutputUsage {
                    output_tokens: s.usage.completion_tokens,
                },
            },
            StreamEvent::MessageStop,
        ]);
        events
    }

    fn done_marker(&self) -> bool {
        false
    }

    fn event_name(chunk: &StreamEvent) -> Option<&'static str> {
        Some(chunk.name())
    }

    fn full(&self, c: &Collected) -> Message {
        Message::finished(
            self.id.clone(),
            self.model.clone(),
            c.text.clone(),
            &c.summary,
        )
    }
}

/// The request's prompt text, rendered as the chat endpoint does.
fn prompt_text(ready: &Ready, req: &MessagesRequest) -> Result<String> {
    let template = ready.chat_template.as_ref().or(ready.model.chat_template());
    req.render(template, &ready.chat_kwargs, ready.prefill_assistant)
}

/// The request's prompt tokens.
fn prompt_tokens(ready: &Ready, req: &MessagesRequest) -> Result<Vec<u32>> {
    Ok(ready
        .model
        .vocab()
        .tokenize(&prompt_text(ready, req)?, true, true))
}

/// `POST /v1/messages`.
pub async fn messages(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<MessagesRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let fields = req.generation_fields();
    let model_name = ready.names.resolve(fields.model.as_deref());
    let text = prompt_text(ready, &req)?;
    let prompt = ready.model.vocab().tokenize(&text, true, true);
    let mut params = params::gen_params(
        &fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
        Some(ready.model.vocab()),
    )?;
    let id = generate::response_id("msg");
    let tools = req.tool_request()?;
    let reasoning = state.config().reasoning_format;
    let chat = chat_parse(ready, &tools, &text, reasoning, &mut params, &id)?;
    let parsed = chat.as_ref().filter(|_| fields.stream()).map(|p| {
        let parser = StreamParser::new(p.opts.clone(), call_ids(&p.id_seed));
        (parser, Blocks::default())
    });
    let format = MessagesFormat {
        id,
        model: model_name.clone(),
        n_prompt: prompt.len(),
        parsed,
    };
    let prepared = Prepared {
        prompt,
        params,
        operation: semconv::OPERATION_CHAT,
        model: model_name,
        input_messages: Some(input_messages(&req.chat_messages()?)),
        stream: fields.stream(),
        response_id: Some(format.id.clone()),
        chat,
    };
    let rx = generate::submit(&state, ready, prepared, &http)?;
    Ok(generate::respond(rx, format, fields.stream()).await)
}

/// `POST /v1/messages/count_tokens`: the tokens `/v1/messages` would prompt the model with
/// (`max_tokens` is not needed).
pub async fn count_tokens(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<MessagesRequest>,
) -> Result<Json<TokenCount>> {
    let ready = state.ready()?;
    let input_tokens = prompt_tokens(ready, &req)?.len();
    Ok(Json(TokenCount { input_tokens }))
}
