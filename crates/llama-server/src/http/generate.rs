//! What every completion endpoint shares: submitting a job, collecting its events, and the
//! [`Format`] that turns them into one API's response types (`crate::api::response`).

pub use super::format::{Collected, Format};
use super::sse;
use super::trace::HttpTrace;
use super::{AppState, Ready};
use crate::error::{Result, ServerError};
use crate::scheduler::chat_output::ChatParse;
use crate::scheduler::job::{Event, GenParams, Job};
use crate::scheduler::request::RequestTrace;
use axum::response::{IntoResponse, Response};
use axum::Json;
use llama_core::sampling::constraint::{Constraint, ConstraintSpec};
use llama_core::Model;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// A validated generation request.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub prompt: Vec<u32>,
    pub params: GenParams,
    pub operation: &'static str,
    /// The model name the response reports.
    pub model: String,
    /// The prompt for `gen_ai.input.messages` (only with content capture on).
    pub input_messages: Option<Value>,
    /// Streamed (SSE) response.
    pub stream: bool,
    /// The response's `id`, for `gen_ai.response.id` (the llama.cpp API has none).
    pub response_id: Option<String>,
    /// Chat requests: how the output is read as a message.
    pub chat: Option<ChatParse>,
}

impl Prepared {
    /// A plain-text completion (`/completion`, `/v1/completions`): the prompt is recorded as one
    /// user message when content capture is on.
    pub fn text_completion(
        prompt_text: &str,
        prompt: Vec<u32>,
        params: GenParams,
        model: String,
        stream: bool,
        response_id: Option<String>,
    ) -> Self {
        Prepared {
            prompt,
            params,
            operation: llama_otel::semconv::OPERATION_TEXT_COMPLETION,
            model,
            input_messages: Some(json!([input_text("user", prompt_text)])),
            stream,
            response_id,
            chat: None,
        }
    }
}

/// A queued request: its events, and how its stream (if streamed) keeps the connection alive.
#[derive(Debug)]
pub struct Submitted {
    pub events: UnboundedReceiver<Event>,
    /// Interval of SSE ping comments while nothing else is sent (a long prefill); `None`: off.
    pub ping: Option<Duration>,
}

/// Checks the prompt against a slot's context, takes a place in the queue and queues the job,
/// which from then on owns the request's telemetry (its outcome included).
pub fn submit(state: &AppState, ready: &Ready, p: Prepared, http: &HttpTrace) -> Result<Submitted> {
    check(ready, &p)?;
    let (job, rx) = job(state, ready, p, http)?;
    ready.sched.submit(job);
    Ok(Submitted {
        events: rx,
        ping: state.config().sse_ping,
    })
}

/// Refuses what no slot can serve: an embedding model, an empty or too long prompt.
pub fn check(ready: &Ready, p: &Prepared) -> Result<()> {
    let n_ctx_slot = ready.sched.limits.n_ctx_slot;
    if ready.pooling.is_some() {
        return Err(ServerError::BadRequest(
            "this model only produces embeddings: use /v1/embeddings or /embedding".into(),
        ));
    }
    if p.prompt.is_empty() {
        return Err(ServerError::BadRequest("the prompt is empty".into()));
    }
    if p.prompt.len() >= n_ctx_slot {
        return Err(ServerError::ContextExceeded {
            n_prompt: p.prompt.len(),
            n_ctx_slot,
        });
    }
    Ok(())
}

/// The job for `p` (its admission permit taken, its telemetry started, its constraint
/// compiled) and the receiver of its events; not queued yet.
pub fn job(
    state: &AppState,
    ready: &Ready,
    p: Prepared,
    http: &HttpTrace,
) -> Result<(Job, UnboundedReceiver<Event>)> {
    let permit = ready.sched.admit()?;
    let input = p
        .input_messages
        .as_ref()
        .filter(|_| state.config().capture_content)
        .map(Value::to_string);
    let info = http.request(p.operation, p.model, p.prompt.len());
    let trace = RequestTrace::new(info, permit).generation(
        &p.params,
        p.stream,
        p.response_id.as_deref(),
        input,
    );
    let (tx, rx) = unbounded_channel();
    let constraint = match &p.params.constraint {
        Some(spec) => Some(compile_constraint(&ready.model, spec)?),
        None => None,
    };
    let job = Job {
        constraint,
        id: ready.sched.next_id(),
        prompt: p.prompt,
        params: p.params,
        events: tx,
        trace,
        chat: p.chat,
        children: Vec::new(),
    };
    Ok((job, rx))
}

/// Waits for the end of a request.
pub async fn collect(mut rx: UnboundedReceiver<Event>) -> Result<Collected> {
    let (mut text, mut tokens) = (String::new(), Vec::new());
    while let Some(event) = rx.recv().await {
        match event {
            Event::Chunk(c) => {
                text.push_str(&c.text);
                tokens.extend(c.tokens);
            }
            Event::Done(summary) => {
                return Ok(Collected {
                    text,
                    tokens,
                    summary,
                })
            }
            Event::Failed(e) => return Err(e),
            Event::Progress(_) => {}
        }
    }
    Err(ServerError::Internal(
        "the scheduler dropped the request".into(),
    ))
}

/// Streams (SSE) or collects the request's output in `format`.
pub async fn respond<F: Format>(sub: Submitted, format: F, stream: bool) -> Response {
    if stream {
        return sse::stream(sub.events, format, sub.ping);
    }
    match collect(sub.events).await {
        Ok(collected) => Json(format.full(&collected)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A response id such as `chatcmpl-18c2f0e4a1b2-7`: unique within and across runs.
pub fn response_id(prefix: &str) -> String {
    let (nanos, n) = unique();
    format!("{prefix}-{nanos:x}-{n}")
}

/// An id in the Responses API's style, such as `resp_18c2f0e4a1b2x7` (`msg_`, `rs_`): unique
/// within and across runs.
pub fn item_id(prefix: &str) -> String {
    let (nanos, n) = unique();
    format!("{prefix}_{nanos:x}x{n}")
}

/// Now in nanoseconds and a process-wide counter.
fn unique() -> (u128, u64) {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (nanos, n)
}

/// `gen_ai.input.messages` for a plain-text prompt.
pub fn input_text(role: &str, text: &str) -> Value {
    json!({"role": role, "parts": [{"type": "text", "content": text}]})
}

/// Compiles a request's schema or grammar against the model's vocabulary: an invalid one is a
/// 400 naming the problem, never an unconstrained answer. (The vocabulary's token trie was
/// built at load, off the runtime: see `server::load`.)
fn compile_constraint(model: &Model, spec: &ConstraintSpec) -> Result<Constraint> {
    let env = model
        .constraint_env()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    Constraint::new(env, spec).map_err(|e| ServerError::BadRequest(e.to_string()))
}
