//! Telemetry: starting llama-otel from the command line, and every span and metric the server
//! records, written here once so the rest of the code calls one function per moment of a
//! request's life. Everything goes through llama-otel's macros (nothing at all without `otel`).
//!
//! Spans of one request: `{METHOD} {route}` (HTTP server span, parent from `traceparent`) →
//! `{operation} {model}` (GenAI span) → `queue`, `prefill`, `generate`, with a `first_token`
//! event on the GenAI span. Decode steps (`llama.decode`, recorded by llama-core) link to the
//! GenAI spans of the requests they serve, and the GenAI span links back to those steps — for
//! the prefill and the first [`LINKED_DECODE_STEPS`] steps only, to keep long generations'
//! spans small.

use crate::cli::Cli;
use crate::http::generate::Prepared;
use crate::scheduler::job::Summary;
use crate::scheduler::slot::Task;
use llama_otel::{
    counter_add, event, gauge_set, histogram_record, semconv, set_attr, span, updown_add,
    SpanContext, SpanGuard, TelemetryConfig, TelemetryGuard, TraceContext,
};
use std::time::Instant;

/// `gen_ai.provider.name` of every request.
pub const PROVIDER: &str = "llama.cpp";
/// Whether the response is streamed (not in the GenAI conventions yet; common in instrumentations).
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// The prompt, with content capture on.
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// The completion, with content capture on.
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";

/// Decode steps of a request (after its first) that link to its GenAI span and back.
pub const LINKED_DECODE_STEPS: usize = 16;

/// Bounds for `llama.queue.wait.duration` (seconds).
const QUEUE_WAIT_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bounds for `llama.context.utilization` (fraction of a slot's context a request used).
const UTILIZATION_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0];
/// Bounds for `llama.sampling.duration` (seconds).
pub const SAMPLING_BUCKETS: [f64; 10] = [
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
];

/// The request's telemetry, owned by the scheduler while the request runs.
#[derive(Debug, Default)]
pub struct JobTrace {
    /// The `queue` span; ends when a slot takes the request. Declared before `genai`: fields
    /// drop in order, and a child span must not end after its parent.
    pub queue: SpanGuard,
    /// The GenAI span; ends when the request finishes.
    pub genai: SpanGuard,
    pub operation: &'static str,
    /// The model name the request asked for (metric attribute).
    pub model: String,
}

/// Starts the SDK as the flags (over the `OTEL_*` environment) say.
pub fn init(cli: &Cli, model_name: &str) -> Result<TelemetryGuard, String> {
    let protocol = match cli.otlp_protocol.as_deref() {
        Some(p) => {
            Some(llama_otel::Protocol::parse("--otlp-protocol", p).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let config = TelemetryConfig {
        service_name: cli.otel_service_name.clone(),
        service_version: Some(env!("CARGO_PKG_VERSION").into()),
        resource_attributes: vec![("llama.model.name".into(), model_name.into())],
        endpoint: cli.otlp_endpoint.clone(),
        protocol,
        prometheus: !cli.no_prometheus,
        ..TelemetryConfig::default()
    };
    llama_otel::init(config).map_err(|e| e.to_string())
}

/// `--otel-capture-content` or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
pub fn capture_content(cli: &Cli) -> bool {
    let env =
        std::env::var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT").unwrap_or_default();
    cli.otel_capture_content || env.eq_ignore_ascii_case("true")
}

/// `--otel-ggml-ops`, honoured only while telemetry records (the timing costs throughput).
pub fn ggml_op_timing(cli: &Cli) -> bool {
    if cli.otel_ggml_ops && !llama_otel::is_active() {
        eprintln!("warning: --otel-ggml-ops ignored: telemetry is off (build without `otel`, or OTEL_SDK_DISABLED)");
    }
    cli.otel_ggml_ops && llama_otel::is_active()
}

/// An `f32` request value as the decimal the client sent (0.7, not 0.699999988079071).
fn decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

/// Starts a request's GenAI span (child of its HTTP span) and the `queue` span below it.
pub fn request_trace(
    parent: &TraceContext,
    req: &Prepared,
    input_messages: Option<String>,
) -> JobTrace {
    let (params, model, operation) = (&req.params, req.model.as_str(), req.operation);
    let p = &params.sampling;
    let genai = span!(format!("{operation} {model}"), parent: parent,
        [semconv::GEN_AI_OPERATION_NAME] = operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = model.to_owned(),
        [semconv::GEN_AI_REQUEST_TEMPERATURE] = decimal(p.temperature),
        [semconv::GEN_AI_REQUEST_TOP_P] = decimal(p.top_p), [semconv::GEN_AI_REQUEST_TOP_K] = p.top_k,
        [semconv::GEN_AI_REQUEST_FREQUENCY_PENALTY] = decimal(p.frequency_penalty),
        [semconv::GEN_AI_REQUEST_PRESENCE_PENALTY] = decimal(p.presence_penalty),
        [semconv::GEN_AI_REQUEST_STOP_SEQUENCES] = params.stop.clone(),
        [GEN_AI_REQUEST_STREAM] = req.stream,
        [semconv::GEN_AI_USAGE_INPUT_TOKENS] = req.prompt.len());
    if let Some(max) = params.max_tokens {
        set_attr!(genai, [semconv::GEN_AI_REQUEST_MAX_TOKENS] = max);
    }
    if let Some(seed) = p.seed {
        set_attr!(genai, [semconv::GEN_AI_REQUEST_SEED] = seed);
    }
    if let Some(id) = &req.response_id {
        set_attr!(genai, [semconv::GEN_AI_RESPONSE_ID] = id);
    }
    if let Some(input) = input_messages {
        set_attr!(genai, [GEN_AI_INPUT_MESSAGES] = input);
    }
    let queue = span!("queue", parent: &genai);
    JobTrace {
        queue,
        genai,
        operation,
        model: model.to_owned(),
    }
}

/// A request entered the wait queue.
pub fn job_queued() {
    updown_add!("llama.requests.queued", 1, unit: "{request}", description: "Requests waiting for a slot");
}

/// A slot took the request: ends `queue`, starts `prefill`.
pub fn job_started(task: &mut Task, slot: usize) {
    let trace = &mut task.job.trace;
    drop(std::mem::take(&mut trace.queue));
    updown_add!("llama.requests.queued", -1, unit: "{request}", description: "Requests waiting for a slot");
    updown_add!("llama.requests.active", 1, unit: "{request}", description: "Requests being served by a slot");
    histogram_record!("llama.queue.wait.duration", task.job.submitted.elapsed().as_secs_f64(), unit: "s",
        description: "Time a request waited for a slot", buckets: &QUEUE_WAIT_BUCKETS);
    set_attr!(
        trace.genai,
        "llama.slot.id" = slot,
        "llama.prompt.cached_tokens" = task.n_cached
    );
    task.phase = span!("prefill", parent: &trace.genai,
        "llama.prompt.tokens" = task.job.prompt.len(), "llama.prompt.cached_tokens" = task.n_cached);
}

/// The GenAI span's context, for the decode step's links, while the request is still linked.
pub fn link_target(task: &Task) -> Option<SpanContext> {
    let linked = task.first_token.is_none() || task.n_links < LINKED_DECODE_STEPS;
    (linked && task.job.trace.genai.is_recording()).then(|| task.job.trace.genai.span_context())
}

/// Links the request back to a decode step that served it.
pub fn link_decode(task: &mut Task, decode: &SpanContext) {
    task.job.trace.genai.add_link(decode);
    if task.first_token.is_some() {
        task.n_links += 1;
    }
}

/// The first token was sampled: ends `prefill`, starts `generate`.
pub fn first_token(task: &mut Task) {
    let trace = &task.job.trace;
    event!(trace.genai, "first_token");
    histogram_record!(semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, task.job.submitted.elapsed().as_secs_f64(),
        unit: semconv::UNIT_SECONDS, buckets: &semconv::TIME_TO_FIRST_TOKEN_BUCKETS,
        [semconv::GEN_AI_OPERATION_NAME] = trace.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = trace.model.clone(), [semconv::GEN_AI_RESPONSE_MODEL] = trace.model.clone());
    counter_add!("llama.tokens", (task.job.prompt.len() - task.n_cached) as u64, unit: "{token}",
        description: "Tokens processed", "type" = "prompt");
    drop(std::mem::take(&mut task.phase));
    task.phase = span!("generate", parent: &task.job.trace.genai);
}

/// After each decode step.
pub fn decode_step(busy: usize, kv_used: usize, n_ctx: usize) {
    gauge_set!("llama.slots.busy", busy as f64, unit: "{slot}", description: "Slots serving a request");
    gauge_set!("llama.kv_cache.usage", kv_used as f64 / n_ctx.max(1) as f64, unit: "1",
        description: "Used fraction of the KV cache");
    gauge_set!("llama.kv_cache.tokens", kv_used as f64, unit: "{token}", description: "Tokens in the KV cache");
}

/// Records one sampling call's duration (the clock is read only while telemetry is active).
pub fn sampling_time(started: Option<Instant>) {
    if let Some(t0) = started {
        histogram_record!("llama.sampling.duration", t0.elapsed().as_secs_f64(), unit: "s",
            description: "Time to sample one token", buckets: &SAMPLING_BUCKETS);
    }
}

/// A clock reading for [`sampling_time`], taken only when telemetry is active.
pub fn clock() -> Option<Instant> {
    llama_otel::is_active().then(Instant::now)
}

/// The request finished normally.
pub fn job_finished(task: &Task, summary: &Summary, n_ctx_slot: usize) {
    let trace = &task.job.trace;
    let total = task.job.submitted.elapsed().as_secs_f64();
    let finish = summary.finish;
    // gen_ai.usage.input_tokens was set at the start: the SDK does not replace attributes,
    // so setting it again would export the key twice.
    set_attr!(
        trace.genai,
        [semconv::GEN_AI_RESPONSE_MODEL] = trace.model.clone(),
        [semconv::GEN_AI_RESPONSE_FINISH_REASONS] = vec![finish.openai()],
        [semconv::GEN_AI_USAGE_OUTPUT_TOKENS] = summary.usage.completion_tokens,
        "gen_ai.usage.cached_tokens" = summary.usage.cached_tokens,
        "llama.stop_type" = finish.llama()
    );
    if let Some(out) = &task.output {
        let msg = serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": out}],
            "finish_reason": finish.openai()}]);
        set_attr!(trace.genai, [GEN_AI_OUTPUT_MESSAGES] = msg.to_string());
    }
    histogram_record!(semconv::GEN_AI_SERVER_REQUEST_DURATION, total, unit: semconv::UNIT_SECONDS,
        buckets: &semconv::REQUEST_DURATION_BUCKETS,
        [semconv::GEN_AI_OPERATION_NAME] = trace.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = trace.model.clone(), [semconv::GEN_AI_RESPONSE_MODEL] = trace.model.clone());
    if let (Some(first), n @ 2..) = (task.first_token, summary.usage.completion_tokens) {
        histogram_record!(semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, first.elapsed().as_secs_f64() / (n - 1) as f64,
            unit: semconv::UNIT_SECONDS, buckets: &semconv::TIME_PER_OUTPUT_TOKEN_BUCKETS,
            [semconv::GEN_AI_OPERATION_NAME] = trace.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
            [semconv::GEN_AI_REQUEST_MODEL] = trace.model.clone(), [semconv::GEN_AI_RESPONSE_MODEL] = trace.model.clone());
    }
    counter_add!("llama.tokens", summary.usage.completion_tokens as u64, unit: "{token}",
        description: "Tokens processed", "type" = "generated");
    let used = task.job.prompt.len() + summary.usage.completion_tokens;
    histogram_record!("llama.context.utilization", used as f64 / n_ctx_slot.max(1) as f64, unit: "1",
        description: "Fraction of its slot's context a request used", buckets: &UTILIZATION_BUCKETS);
    request_outcome("success", None, Some(trace.operation));
}

/// The request left a slot without finishing: client gone, shutdown, or engine failure.
pub fn job_aborted(
    trace: &JobTrace,
    submitted: Instant,
    outcome: &'static str,
    error_type: &'static str,
    in_slot: bool,
) {
    if in_slot {
        updown_add!("llama.requests.active", -1, unit: "{request}", description: "Requests being served by a slot");
    } else {
        updown_add!("llama.requests.queued", -1, unit: "{request}", description: "Requests waiting for a slot");
    }
    set_attr!(trace.genai, [semconv::ERROR_TYPE] = error_type);
    trace.genai.set_error(outcome);
    histogram_record!(semconv::GEN_AI_SERVER_REQUEST_DURATION, submitted.elapsed().as_secs_f64(), unit: semconv::UNIT_SECONDS,
        buckets: &semconv::REQUEST_DURATION_BUCKETS,
        [semconv::GEN_AI_OPERATION_NAME] = trace.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = trace.model.clone(), [semconv::ERROR_TYPE] = error_type);
    request_outcome(outcome, Some(error_type), Some(trace.operation));
}

/// `llama.requests`, one call site per attribute set: an attribute that does not apply is
/// left out, never recorded as an empty string.
macro_rules! requests_counter {
    ($value:expr, $($attrs:tt)*) => {
        counter_add!("llama.requests", $value, unit: "{request}", description: "Requests by outcome",
            $($attrs)*)
    };
}

/// Counts a request by outcome (`success`, `cancelled`, `error`, `rejected`). `operation` is
/// `None` for requests rejected before their API was known (bad route, loading, bad key).
pub fn request_outcome(
    outcome: &'static str,
    error_type: Option<&'static str>,
    operation: Option<&'static str>,
) {
    count_request(1, outcome, error_type, operation);
}

fn count_request(
    n: u64,
    outcome: &'static str,
    error_type: Option<&'static str>,
    operation: Option<&'static str>,
) {
    match (error_type, operation) {
        (None, None) => requests_counter!(n, "outcome" = outcome),
        (Some(e), None) => requests_counter!(n, "outcome" = outcome, [semconv::ERROR_TYPE] = e),
        (None, Some(op)) => {
            requests_counter!(
                n,
                "outcome" = outcome,
                [semconv::GEN_AI_OPERATION_NAME] = op
            )
        }
        (Some(e), Some(op)) => requests_counter!(
            n,
            "outcome" = outcome,
            [semconv::ERROR_TYPE] = e,
            [semconv::GEN_AI_OPERATION_NAME] = op
        ),
    }
}

/// Operations the server records (`gen_ai.operation.name`).
pub const OPERATIONS: [&str; 2] = [semconv::OPERATION_CHAT, semconv::OPERATION_TEXT_COMPLETION];
/// `error.type` of requests cancelled in the scheduler (client gone, shutdown deadline).
pub const CANCEL_REASONS: [&str; 2] = ["client_disconnected", "shutdown"];
/// `error.type` of requests the engine failed.
pub const ENGINE_ERRORS: [&str; 3] = ["kv_cache", "decode", "sampling"];

/// Creates every counter series whose label values are known, at zero, so dashboards and
/// alerts have series (and `rate()` a starting point) before the first event.
pub fn start_series() {
    for reason in crate::metrics::REJECTION_REASONS {
        count_request(0, "rejected", Some(reason), None);
    }
    for op in OPERATIONS {
        count_request(0, "success", None, Some(op));
        for reason in CANCEL_REASONS {
            count_request(0, "cancelled", Some(reason), Some(op));
        }
        for reason in ENGINE_ERRORS {
            count_request(0, "error", Some(reason), Some(op));
        }
    }
    for kind in ["prompt", "generated"] {
        counter_add!("llama.tokens", 0, unit: "{token}", description: "Tokens processed", "type" = kind);
    }
}

/// Ends an active request in the `llama.requests.active` gauge (after [`job_finished`]).
pub fn job_left_slot() {
    updown_add!("llama.requests.active", -1, unit: "{request}", description: "Requests being served by a slot");
}

/// Starts an embedding request's GenAI span `embeddings {model}` (child of its HTTP span) and
/// its `queue` span.
pub fn embed_trace(
    parent: &TraceContext,
    model: &str,
    n_inputs: usize,
    n_tokens: usize,
) -> JobTrace {
    let operation = semconv::OPERATION_EMBEDDINGS;
    let genai = span!(format!("{operation} {model}"), parent: parent,
        [semconv::GEN_AI_OPERATION_NAME] = operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = model.to_owned(),
        [semconv::GEN_AI_USAGE_INPUT_TOKENS] = n_tokens, "llama.embed.n_inputs" = n_inputs);
    let queue = span!("queue", parent: &genai);
    JobTrace {
        queue,
        genai,
        operation,
        model: model.to_owned(),
    }
}

/// The encoder took the request: ends `queue`.
pub fn embed_started(trace: &mut JobTrace) {
    drop(std::mem::take(&mut trace.queue));
}

/// The embeddings were computed.
pub fn embed_finished(trace: &JobTrace, submitted: Instant, n_tokens: usize) {
    set_attr!(
        trace.genai,
        [semconv::GEN_AI_RESPONSE_MODEL] = trace.model.clone()
    );
    histogram_record!(semconv::GEN_AI_SERVER_REQUEST_DURATION, submitted.elapsed().as_secs_f64(),
        unit: semconv::UNIT_SECONDS, buckets: &semconv::REQUEST_DURATION_BUCKETS,
        [semconv::GEN_AI_OPERATION_NAME] = trace.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = trace.model.clone(), [semconv::GEN_AI_RESPONSE_MODEL] = trace.model.clone());
    counter_add!("llama.tokens", n_tokens as u64, unit: "{token}",
        description: "Tokens processed", "type" = "prompt");
    request_outcome("success", None, Some(trace.operation));
}

/// The embedding request failed in the engine.
pub fn embed_failed(trace: &JobTrace, submitted: Instant, error_type: &'static str) {
    set_attr!(trace.genai, [semconv::ERROR_TYPE] = error_type);
    trace.genai.set_error(error_type);
    histogram_record!(semconv::GEN_AI_SERVER_REQUEST_DURATION, submitted.elapsed().as_secs_f64(),
        unit: semconv::UNIT_SECONDS, buckets: &semconv::REQUEST_DURATION_BUCKETS,
        [semconv::GEN_AI_OPERATION_NAME] = trace.operation, [semconv::GEN_AI_PROVIDER_NAME] = PROVIDER,
        [semconv::GEN_AI_REQUEST_MODEL] = trace.model.clone(), [semconv::ERROR_TYPE] = error_type);
    request_outcome("error", Some(error_type), Some(trace.operation));
}
