//! OpenAI's Responses API: `POST /v1/responses` (streamed as named SSE events, or one
//! `response` object) and `POST /v1/responses/input_tokens`. The request is read as the chat
//! request it describes (`crate::api::responses`) and served by the chat path: the model's
//! template, tool calls and reasoning parsed as on `/v1/chat/completions`, `gen_ai.operation.name`
//! `chat`. As llama.cpp, a response that hit `max_output_tokens` still ends `completed`.

use super::chat_prompt::{chat_parse, input_messages, render_chat};
use super::extract::ApiJson;
use super::generate::{self, Collected, Format, Prepared};
use super::responses_items::Items;
use super::trace::HttpTrace;
use super::{unix_now, AppState, Ready};
use crate::api::params;
use crate::api::response::llamacpp::Timings;
use crate::api::response::openai::InputTokens;
use crate::api::response::responses::{
    EventBody, OutputItem, ResponseObject, ResponseUsage, StreamEvent,
};
use crate::api::responses::ResponsesRequest;
use crate::error::Result;
use crate::scheduler::chat_output::call_ids;
use crate::scheduler::job::{Chunk, Progress, Summary};
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use llama_core::chat::toolcall::{ChatDelta, StreamParser, ToolCallDelta};
use llama_core::chat::ChatMessage;
use llama_otel::semconv;
use serde_json::{Map, Value};

/// One response's ids and events.
struct ResponsesFormat {
    id: String,
    model: String,
    created_at: u64,
    message_id: String,
    reasoning_id: String,
    /// With tools (or a thought left open) the stream is parsed as it grows.
    parser: Option<StreamParser>,
    items: Items,
    /// The next event's `sequence_number`.
    seq: u64,
}

impl ResponsesFormat {
    fn new(id: String, model: String, parser: Option<StreamParser>) -> Self {
        let message_id = generate::item_id("msg");
        let reasoning_id = generate::item_id("rs");
        ResponsesFormat {
            items: Items::new(message_id.clone(), reasoning_id.clone()),
            id,
            model,
            created_at: unix_now(),
            message_id,
            reasoning_id,
            parser,
            seq: 0,
        }
    }

    /// The `response` object: in progress (no output yet) or finished with `output`.
    fn response(&self, output: Vec<OutputItem>, end: Option<&Summary>) -> ResponseObject {
        ResponseObject {
            id: self.id.clone(),
            object: "response",
            created_at: self.created_at,
            completed_at: end.map(|_| unix_now()),
            status: if end.is_some() {
                "completed"
            } else {
                "in_progress"
            },
            model: self.model.clone(),
            output,
            usage: end.map(ResponseUsage::from_summary),
        }
    }

    /// Numbers `bodies` as the next events of the stream.
    fn numbered(&mut self, bodies: Vec<EventBody>) -> Vec<StreamEvent> {
        bodies
            .into_iter()
            .map(|body| {
                let e = StreamEvent {
                    body,
                    sequence_number: self.seq,
                    timings: None,
                    prompt_progress: None,
                };
                self.seq += 1;
                e
            })
            .collect()
    }

    fn in_progress(&self) -> EventBody {
        EventBody::InProgress {
            response: self.response(Vec::new(), None),
        }
    }
}

/// A parsed answer as one delta (for the items of a non-streamed response).
fn whole_delta(m: &ChatMessage) -> ChatDelta {
    let tool_calls = m
        .tool_calls
        .iter()
        .enumerate()
        .map(|(index, c)| ToolCallDelta {
            index,
            id: Some(c.id.clone()),
            name: Some(c.name.clone()),
            arguments: c.arguments.clone(),
        })
        .collect();
    ChatDelta {
        content: m.content.clone(),
        reasoning_content: m.reasoning_content.clone(),
        tool_calls,
    }
}

impl Format for ResponsesFormat {
    type Chunk = StreamEvent;
    type Full = ResponseObject;

    fn start(&mut self) -> Vec<StreamEvent> {
        let created = EventBody::Created {
            response: self.response(Vec::new(), None),
        };
        let in_progress = self.in_progress();
        self.numbered(vec![created, in_progress])
    }

    /// As llama.cpp: an in-progress event carrying `prompt_progress`.
    fn progress(&mut self, p: &Progress) -> Vec<StreamEvent> {
        let body = self.in_progress();
        let mut events = self.numbered(vec![body]);
        for e in &mut events {
            e.prompt_progress = Some(*p);
        }
        events
    }

    fn chunk(&mut self, c: &Chunk) -> Option<StreamEvent> {
        self.chunks(c).into_iter().next()
    }

    fn chunks(&mut self, c: &Chunk) -> Vec<StreamEvent> {
        let delta = match &mut self.parser {
            Some(parser) => parser.push(&c.text),
            None => ChatDelta {
                content: c.text.clone(),
                ..ChatDelta::default()
            },
        };
        let bodies = self.items.events(&delta);
        self.numbered(bodies)
    }

    fn finish(&mut self, s: &Summary) -> Vec<StreamEvent> {
        let mut bodies = match &mut self.parser {
            Some(parser) => {
                let last = parser.finish().0;
                self.items.events(&last)
            }
            None => Vec::new(),
        };
        let (done, output) = self.items.finish();
        bodies.extend(done);
        bodies.push(EventBody::Completed {
            response: self.response(output, Some(s)),
        });
        let mut events = self.numbered(bodies);
        if let Some(last) = events.last_mut() {
            last.timings = Some(Timings::new(s));
        }
        events
    }

    fn done_marker(&self) -> bool {
        false
    }

    fn event_name(chunk: &StreamEvent) -> Option<&'static str> {
        Some(chunk.body.name())
    }

    fn full(&self, c: &Collected) -> ResponseObject {
        let delta = match &c.summary.message {
            Some(m) => whole_delta(m),
            None => ChatDelta {
                content: c.text.clone(),
                ..ChatDelta::default()
            },
        };
        let mut items = Items::new(self.message_id.clone(), self.reasoning_id.clone());
        items.events(&delta);
        self.response(items.finish().1, Some(&c.summary))
    }
}

/// The server's template variables with the request's `reasoning.effort` over them.
fn template_kwargs(ready: &Ready, req: &ResponsesRequest) -> Map<String, Value> {
    let mut kwargs = ready.chat_kwargs.clone();
    if let Some(effort) = &req.reasoning_effort {
        kwargs.insert("reasoning_effort".into(), Value::String(effort.clone()));
    }
    kwargs
}

/// `POST /v1/responses`.
pub async fn responses(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let req = ResponsesRequest::from_body(body)?;
    let ready = state.ready()?;
    let fields = &req.chat.fields;
    let model_name = ready.names.resolve(fields.model.as_deref());
    let (messages, tools, text) = render_chat(ready, &req.chat, &template_kwargs(ready, &req))?;
    let mut params = params::gen_params(
        fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
        Some(ready.model.vocab()),
    )?;
    let id = generate::item_id("resp");
    let reasoning = state.config().reasoning_format;
    let chat = chat_parse(ready, &tools, &text, reasoning, &mut params, &id)?;
    let stream = fields.stream();
    let parser = chat
        .as_ref()
        .filter(|_| stream)
        .map(|p| StreamParser::new(p.opts.clone(), call_ids(&p.id_seed)));
    let format = ResponsesFormat::new(id, model_name.clone(), parser);
    let prepared = Prepared {
        prompt: ready.model.vocab().tokenize(&text, true, true),
        params,
        operation: semconv::OPERATION_CHAT,
        model: model_name,
        input_messages: Some(input_messages(&messages)),
        stream,
        response_id: Some(format.id.clone()),
        chat,
    };
    let rx = generate::submit(&state, ready, prepared, &http)?;
    Ok(generate::respond(rx, format, stream).await)
}

/// `POST /v1/responses/input_tokens`: the tokens `/v1/responses` would prompt the model with.
pub async fn input_tokens(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<InputTokens>> {
    let req = ResponsesRequest::from_body(body)?;
    let ready = state.ready()?;
    let (_, _, text) = render_chat(ready, &req.chat, &template_kwargs(ready, &req))?;
    let n = ready.model.vocab().tokenize(&text, true, true).len();
    Ok(Json(InputTokens::new(n)))
}
