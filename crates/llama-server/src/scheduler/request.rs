//! One request's telemetry and its place in the admission limit, owned by its job: the GenAI
//! span and its children, the queue and slot gauges, the latency histograms, and — when the
//! value is dropped — the request's outcome, counted exactly once, then the admission permit
//! released. Built from plain values (operation, model name, prompt size, parent trace
//! context), never from HTTP types; the scheduler calls one method where the state changes.
//!
//! Spans of one request: `{METHOD} {route}` (HTTP server span, the parent given here) →
//! `{operation} {model}` (GenAI span) → `queue`, `prefill`, `generate`, with a `first_token`
//! event on the GenAI span. Decode steps (`llama.decode`, recorded by llama-core) link to the
//! GenAI spans of the requests they serve, and the GenAI span links back to those steps — for
//! the prefill and the first [`LINKED_DECODE_STEPS`] steps only, to keep long generations'
//! spans small.

use super::generation::{GenParams, Summary};
use crate::telemetry::{self, OutcomeOnce, ServerAddr, LINKED_DECODE_STEPS};
use crate::usage::TokenUsage;
use llama_core::chat::ChatMessage;
use llama_otel::names::{self, CancelReason, EngineError, Outcome, TokenKind, PROVIDER};
use llama_otel::{
    event, histogram_record, semconv, set_attr, span, updown_add, SpanContext, SpanGuard,
    TraceContext,
};
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// What a request's telemetry starts from.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The HTTP server span's context (the GenAI span's parent).
    pub parent: TraceContext,
    /// The request's entry in `llama.requests`, shared with the HTTP layer.
    pub outcome: OutcomeOnce,
    /// `server.address` / `server.port` of the GenAI span and metrics.
    pub server: ServerAddr,
    /// Token counts for the request's log line, filled in when it is served.
    pub usage: TokenUsage,
    /// `gen_ai.operation.name`.
    pub operation: &'static str,
    /// The model name the request asked for (reported back).
    pub model: String,
    /// Prompt tokens (all inputs' for embeddings).
    pub n_prompt: usize,
}

/// Where the request is, for the queue and slot gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Admitted,
    Queued,
    InSlot,
}

/// How the request ended, once the scheduler has decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Success,
    Rejected(&'static str),
    Cancelled(CancelReason),
    Failed(EngineError),
}

impl Ending {
    fn labels(self) -> (Outcome, Option<&'static str>) {
        match self {
            Ending::Success => (Outcome::Success, None),
            Ending::Rejected(reason) => (Outcome::Rejected, Some(reason)),
            Ending::Cancelled(reason) => (Outcome::Cancelled, Some(reason.as_str())),
            Ending::Failed(kind) => (Outcome::Error, Some(kind.as_str())),
        }
    }
}

/// One request's telemetry and admission permit; dropping it records the outcome.
#[derive(Debug)]
pub struct RequestTrace {
    /// `prefill`, then `generate`. Fields drop in order, and a child span must not end after
    /// its parent: the children come before `genai`.
    phase: SpanGuard,
    /// `queue`; ends when a slot takes the request.
    queue: SpanGuard,
    /// The GenAI span; ends when the request is dropped.
    genai: SpanGuard,
    info: RequestInfo,
    submitted: Instant,
    stage: Stage,
    n_cached: usize,
    first_token: Option<Instant>,
    /// Decode steps linked to the GenAI span after the first token.
    n_links: usize,
    ending: Option<Ending>,
    /// Held until the request is counted; dropped last.
    _permit: OwnedSemaphorePermit,
}

/// A GenAI histogram with the attributes every one of them carries (operation, provider,
/// requested model, server address and port) and `$extra` after them.
macro_rules! genai_histogram {
    ($name:expr, $value:expr, $buckets:expr, $info:expr, exemplar: $span:expr, $($extra:tt)*) => {
        histogram_record!($name, $value, unit: semconv::UNIT_SECONDS, buckets: $buckets, exemplar: $span,
            [semconv::GEN_AI_OPERATION_NAME] = $info.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
            [semconv::GEN_AI_REQUEST_MODEL] = $info.model.clone(),
            [semconv::SERVER_ADDRESS] = $info.server.address.clone(), [semconv::SERVER_PORT] = $info.server.port,
            $($extra)*)
    };
}

/// An `f32` request value as the decimal the client sent (0.7, not 0.699999988079071).
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

impl RequestTrace {
    /// Starts the GenAI span `{operation} {model}` (child of `info.parent`) and its `queue` span.
    pub fn new(info: RequestInfo, permit: OwnedSemaphorePermit) -> Self {
        let (operation, model) = (info.operation, info.model.clone());
        let genai = span!(format!("{operation} {model}"), parent: &info.parent,
            [semconv::GEN_AI_OPERATION_NAME] = operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
            [semconv::GEN_AI_REQUEST_MODEL] = model,
            [semconv::SERVER_ADDRESS] = info.server.address.clone(), [semconv::SERVER_PORT] = info.server.port,
            [semconv::GEN_AI_USAGE_INPUT_TOKENS] = info.n_prompt);
        let queue = span!("queue", parent: &genai);
        RequestTrace {
            phase: SpanGuard::noop(),
            queue,
            genai,
            info,
            submitted: Instant::now(),
            stage: Stage::Admitted,
            n_cached: 0,
            first_token: None,
            n_links: 0,
            ending: None,
            _permit: permit,
        }
    }

    /// A generation request's settings on the GenAI span; `input` only with content capture on.
    pub fn generation(
        self,
        params: &GenParams,
        stream: bool,
        response_id: Option<&str>,
        input: Option<String>,
    ) -> Self {
        let p = &params.sampling;
        set_attr!(
            self.genai,
            [semconv::GEN_AI_REQUEST_TEMPERATURE] = decimal(p.temperature),
            [semconv::GEN_AI_REQUEST_TOP_P] = decimal(p.top_p),
            // The spec types top_k as a double.
            [semconv::GEN_AI_REQUEST_TOP_K] = f64::from(p.top_k),
            [semconv::GEN_AI_REQUEST_FREQUENCY_PENALTY] = decimal(p.frequency_penalty),
            [semconv::GEN_AI_REQUEST_PRESENCE_PENALTY] = decimal(p.presence_penalty),
            [semconv::GEN_AI_REQUEST_STOP_SEQUENCES] = params.stop.clone(),
            [semconv::GEN_AI_REQUEST_STREAM] = stream
        );
        if let Some(max) = params.max_tokens {
            set_attr!(self.genai, [semconv::GEN_AI_REQUEST_MAX_TOKENS] = max);
        }
        if let Some(seed) = p.seed {
            set_attr!(self.genai, [semconv::GEN_AI_REQUEST_SEED] = seed);
        }
        if let Some(id) = response_id {
            set_attr!(self.genai, [semconv::GEN_AI_RESPONSE_ID] = id.to_owned());
        }
        if let Some(input) = input {
            set_attr!(self.genai, [semconv::GEN_AI_INPUT_MESSAGES] = input);
        }
        self
    }

    /// An embedding request's input count on the GenAI span.
    pub fn embedding(self, n_inputs: usize) -> Self {
        set_attr!(self.genai, [names::EMBED_N_INPUTS] = n_inputs);
        self
    }

    /// The request entered the scheduler's queue.
    pub fn queued(&mut self) {
        updown_add!(names::REQUESTS_QUEUED, 1, unit: names::UNIT_REQUEST, description: "Requests waiting for a slot");
        self.stage = Stage::Queued;
    }

    /// Leaves the queue for a slot: ends `queue`.
    fn enter_slot(&mut self) {
        drop(std::mem::take(&mut self.queue));
        if self.stage == Stage::Queued {
            updown_add!(names::REQUESTS_QUEUED, -1, unit: names::UNIT_REQUEST, description: "Requests waiting for a slot");
        }
        updown_add!(names::REQUESTS_ACTIVE, 1, unit: names::UNIT_REQUEST, description: "Requests being served by a slot");
        self.stage = Stage::InSlot;
    }

    /// Slot `slot` took the request with `cached` prompt tokens reused: ends `queue`, starts
    /// `prefill`.
    pub fn started(&mut self, slot: usize, cached: usize) {
        self.enter_slot();
        self.n_cached = cached;
        histogram_record!(names::QUEUE_WAIT_DURATION, self.submitted.elapsed().as_secs_f64(), unit: names::UNIT_SECONDS,
            description: "Time a request waited for a slot", buckets: &telemetry::QUEUE_WAIT_BUCKETS, exemplar: &self.genai);
        set_attr!(
            self.genai,
            [names::SLOT_ID] = slot,
            [names::PROMPT_CACHED_TOKENS] = cached
        );
        self.genai.in_scope(|| {
            tracing::debug!(
                slot,
                cached_tokens = cached,
                prompt_tokens = self.info.n_prompt,
                "slot {slot} took the request"
            )
        });
        self.phase = span!("prefill", parent: &self.genai,
            [names::PROMPT_TOKENS] = self.info.n_prompt, [names::PROMPT_CACHED_TOKENS] = cached);
    }

    /// Where the `cached` prompt tokens of [`RequestTrace::started`] came from (`slot` or
    /// `prefix_cache`): a GenAI span attribute and `llama.prompt.reused_tokens`.
    pub fn reused(&mut self, source: &'static str, cached: usize) {
        set_attr!(self.genai, [names::PREFIX_SOURCE] = source);
        if cached > 0 {
            telemetry::count_reused_tokens(source, cached as u64);
        }
    }

    /// The encoder took the (embedding) request: ends `queue`.
    pub fn encoding(&mut self) {
        self.enter_slot();
    }

    /// The first token was sampled: ends `prefill`, starts `generate`.
    pub fn first_token(&mut self) {
        self.first_token = Some(Instant::now());
        event!(self.genai, names::FIRST_TOKEN_EVENT);
        genai_histogram!(
            semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
            self.submitted.elapsed().as_secs_f64(),
            &semconv::TIME_TO_FIRST_TOKEN_BUCKETS,
            self.info,
            exemplar: &self.genai,
            [semconv::GEN_AI_RESPONSE_MODEL] = self.info.model.clone()
        );
        telemetry::count_tokens(
            TokenKind::Input,
            self.info.n_prompt.saturating_sub(self.n_cached) as u64,
        );
        drop(std::mem::take(&mut self.phase));
        self.phase = span!("generate", parent: &self.genai);
    }

    /// Speculative decoding's totals for the request, on the GenAI and `generate` spans.
    fn speculative(&self, drafted: usize, accepted: usize) {
        for span in [&self.genai, &self.phase] {
            set_attr!(
                span,
                [names::SPEC_DRAFT_N] = drafted,
                [names::SPEC_DRAFT_N_ACCEPTED] = accepted
            );
        }
    }

    /// The GenAI span: the exemplar of per-token histograms recorded for this request.
    pub fn genai(&self) -> &SpanGuard {
        &self.genai
    }

    /// The GenAI span's context for the next decode step's links, while the request is still
    /// linked (prefill and the first [`LINKED_DECODE_STEPS`] steps after it).
    pub fn link_target(&self) -> Option<SpanContext> {
        let linked = self.first_token.is_none() || self.n_links < LINKED_DECODE_STEPS;
        (linked && self.genai.is_recording()).then(|| self.genai.span_context())
    }

    /// Links the request back to a decode step that served it.
    pub fn link(&mut self, decode: &SpanContext) {
        self.genai.add_link(decode);
        if self.first_token.is_some() {
            self.n_links += 1;
        }
    }

    /// The request was served to the end; `output` is the text, with content capture on.
    pub fn finished(&mut self, summary: &Summary, n_ctx_slot: usize, output: Option<&str>) {
        let finish = summary.finish;
        let finish_reason = summary.openai_finish();
        let n_out = summary.usage.completion_tokens;
        self.info.usage.set(self.info.n_prompt, Some(n_out));
        self.genai.in_scope(|| {
            tracing::debug!(
                finish_reason,
                completion_tokens = n_out,
                "generation finished"
            )
        });
        // gen_ai.usage.input_tokens was set at the start: the SDK does not replace attributes,
        // so setting it again would export the key twice.
        set_attr!(
            self.genai,
            [semconv::GEN_AI_RESPONSE_FINISH_REASONS] = vec![finish_reason],
            [semconv::GEN_AI_USAGE_OUTPUT_TOKENS] = n_out,
            [semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = summary.usage.cached_tokens,
            [names::STOP_TYPE] = finish.llama()
        );
        if summary.timings.draft_n > 0 {
            self.speculative(summary.timings.draft_n, summary.timings.draft_n_accepted);
        }
        if let Some(message) = &summary.message {
            self.tool_calls(message, output.is_some());
        }
        if let Some(out) = output {
            let parts = match &summary.message {
                Some(message) => super::chat_output::output_parts(message),
                None => serde_json::json!([{"type": "text", "content": out}]),
            };
            let msg = serde_json::json!([{"role": "assistant", "parts": parts,
                "finish_reason": finish_reason}]);
            set_attr!(
                self.genai,
                [semconv::GEN_AI_OUTPUT_MESSAGES] = msg.to_string()
            );
        }
        if let (Some(first), 2..) = (self.first_token, n_out) {
            genai_histogram!(
                semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
                first.elapsed().as_secs_f64() / (n_out - 1) as f64,
                &semconv::TIME_PER_OUTPUT_TOKEN_BUCKETS,
                self.info,
                exemplar: &self.genai,
                [semconv::GEN_AI_RESPONSE_MODEL] = self.info.model.clone()
            );
        }
        telemetry::count_tokens(TokenKind::Output, n_out as u64);
        let used = self.info.n_prompt + n_out;
        histogram_record!(names::CONTEXT_UTILIZATION, used as f64 / n_ctx_slot.max(1) as f64, unit: names::UNIT_RATIO,
            description: "Fraction of its slot's context a request used", buckets: &telemetry::UTILIZATION_BUCKETS);
        self.ending = Some(Ending::Success);
    }

    /// A chat answer's tool calls: their count on the GenAI span and one `gen_ai.tool.call`
    /// event each (id and name; the arguments only with content capture on).
    fn tool_calls(&self, message: &ChatMessage, capture: bool) {
        set_attr!(self.genai, [names::TOOL_CALLS] = message.tool_calls.len());
        for call in &message.tool_calls {
            if capture {
                event!(
                    self.genai,
                    names::TOOL_CALL_EVENT,
                    [semconv::GEN_AI_TOOL_CALL_ID] = call.id.clone(),
                    [semconv::GEN_AI_TOOL_NAME] = call.name.clone(),
                    [semconv::GEN_AI_TOOL_CALL_ARGUMENTS] = call.arguments.clone()
                );
            } else {
                event!(
                    self.genai,
                    names::TOOL_CALL_EVENT,
                    [semconv::GEN_AI_TOOL_CALL_ID] = call.id.clone(),
                    [semconv::GEN_AI_TOOL_NAME] = call.name.clone()
                );
            }
        }
    }

    /// The embeddings were computed.
    pub fn embedded(&mut self) {
        self.info.usage.set(self.info.n_prompt, None);
        telemetry::count_tokens(TokenKind::Input, self.info.n_prompt as u64);
        self.ending = Some(Ending::Success);
    }

    /// The request leaves without an answer: the client went away or the server is stopping.
    pub fn cancel(&mut self, reason: CancelReason) {
        self.ending = Some(Ending::Cancelled(reason));
    }

    /// Runs `f` with the request's GenAI span current: what it logs carries the request's ids.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.genai.in_scope(f)
    }

    /// The engine failed the request.
    pub fn fail(&mut self, kind: EngineError) {
        self.ending = Some(Ending::Failed(kind));
    }

    /// The scheduler refused the request (`reason`: one of `names::REJECTION_REASONS`).
    pub fn reject(&mut self, reason: &'static str) {
        self.ending = Some(Ending::Rejected(reason));
    }
}

impl Drop for RequestTrace {
    /// Records the outcome once: the gauges the request was in, the GenAI span's status, the
    /// request duration and `llama.requests`. The permit is released right after (last field).
    fn drop(&mut self) {
        match self.stage {
            Stage::Admitted => {}
            Stage::Queued => {
                updown_add!(names::REQUESTS_QUEUED, -1, unit: names::UNIT_REQUEST, description: "Requests waiting for a slot")
            }
            Stage::InSlot => {
                updown_add!(names::REQUESTS_ACTIVE, -1, unit: names::UNIT_REQUEST, description: "Requests being served by a slot")
            }
        }
        drop(std::mem::take(&mut self.phase));
        drop(std::mem::take(&mut self.queue));
        let ending = self.ending.unwrap_or(Ending::Failed(EngineError::Dropped));
        let (outcome, error_type) = ending.labels();
        let total = self.submitted.elapsed().as_secs_f64();
        // error.type only when the request failed: the spec makes it conditional on an error.
        match error_type {
            None => {
                set_attr!(
                    self.genai,
                    [semconv::GEN_AI_RESPONSE_MODEL] = self.info.model.clone()
                );
                genai_histogram!(
                    semconv::GEN_AI_SERVER_REQUEST_DURATION,
                    total,
                    &semconv::REQUEST_DURATION_BUCKETS,
                    self.info,
                    exemplar: &self.genai,
                    [semconv::GEN_AI_RESPONSE_MODEL] = self.info.model.clone()
                );
            }
            Some(error) => {
                set_attr!(self.genai, [semconv::ERROR_TYPE] = error);
                self.genai.set_error(outcome.as_str());
                genai_histogram!(
                    semconv::GEN_AI_SERVER_REQUEST_DURATION,
                    total,
                    &semconv::REQUEST_DURATION_BUCKETS,
                    self.info,
                    exemplar: &self.genai,
                    [semconv::ERROR_TYPE] = error
                );
            }
        }
        self.info
            .outcome
            .record(outcome, error_type, Some(self.info.operation));
    }
}
