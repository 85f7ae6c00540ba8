//! Telemetry the server shares across requests: the `llama.requests` counter (each request
//! counted once, through its [`OutcomeOnce`]), the series started at zero, and the engine's
//! own instruments (decode steps, sampling). One request's spans and metrics belong to its
//! `scheduler::request::RequestTrace`; the SDK is started by `server::start_telemetry`.
//! A leaf module: it imports nothing else of the server.
//! Everything goes through llama-otel's macros (nothing at all without `otel`); the names come
//! from `llama_otel::names` and `llama_otel::semconv`.

use llama_otel::names::{self, CancelReason, EngineError, Outcome, TokenKind};
use llama_otel::{counter_add, gauge_set, histogram_record, semconv, SpanGuard};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Where the server listens, as GenAI spans and metrics report it (`server.address`,
/// `server.port`): the configured `--host` and the bound port, not the request's `Host`
/// header, so the metrics' label values stay few and the same on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// `server.address`.
    pub address: Arc<str>,
    /// `server.port`.
    pub port: u16,
    /// `url.scheme`: `https` with `--ssl-cert-file`, else `http`.
    pub scheme: &'static str,
}

impl Default for ServerAddr {
    fn default() -> Self {
        ServerAddr {
            address: Arc::from("127.0.0.1"),
            port: 8080,
            scheme: "http",
        }
    }
}

/// Decode steps of a request (after its first) that link to its GenAI span and back.
pub const LINKED_DECODE_STEPS: usize = 16;

/// Bounds for `llama.queue.wait.duration` (seconds).
pub const QUEUE_WAIT_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bounds for `llama.context.utilization` (fraction of a slot's context a request used).
pub const UTILIZATION_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0];
/// Bounds for `llama.sampling.duration` (seconds).
pub const SAMPLING_BUCKETS: [f64; 10] = [
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
];

/// After each decode step.
pub fn decode_step(busy: usize, kv_used: usize, n_ctx: usize) {
    gauge_set!(names::SLOTS_BUSY, busy as f64, unit: names::UNIT_SLOT, description: "Slots serving a request");
    gauge_set!(names::KV_CACHE_USAGE, kv_used as f64 / n_ctx.max(1) as f64, unit: names::UNIT_RATIO,
        description: "Used fraction of the KV cache");
    gauge_set!(names::KV_CACHE_TOKENS, kv_used as f64, unit: names::UNIT_TOKEN, description: "Tokens in the KV cache");
}

/// Records one sampling call's duration (the clock is read only while telemetry is active);
/// the exemplar names `request`, the GenAI span of the request sampled for.
pub fn sampling_time(started: Option<Instant>, request: &SpanGuard) {
    if let Some(t0) = started {
        histogram_record!(names::SAMPLING_DURATION, t0.elapsed().as_secs_f64(), unit: names::UNIT_SECONDS,
            description: "Time to sample one token", buckets: &SAMPLING_BUCKETS, exemplar: request);
    }
}

/// Records the time one token's allowed set took under the request's schema or grammar.
pub fn constraint_time(mask: std::time::Duration, request: &SpanGuard) {
    histogram_record!(names::SAMPLING_CONSTRAINT_DURATION, mask.as_secs_f64(), unit: names::UNIT_SECONDS,
        description: "Time to compute one token's allowed set under a schema or grammar",
        buckets: &SAMPLING_BUCKETS, exemplar: request);
}

/// A clock reading for [`sampling_time`], taken only when telemetry is active.
pub fn clock() -> Option<Instant> {
    llama_otel::is_active().then(Instant::now)
}

/// Adds to `llama.prompt.reused_tokens` (`source` = `slot` or `prefix_cache`).
pub fn count_reused_tokens(source: &'static str, n: u64) {
    counter_add!(names::PROMPT_REUSED_TOKENS, n, unit: names::UNIT_TOKEN,
        description: "Prompt tokens reused from the KV cache, by source",
        [names::PREFIX_SOURCE] = source);
}

/// The prefix index's size gauges, and `evicted` more evictions.
pub fn prefix_index(tokens: usize, entries: usize, evicted: u64) {
    gauge_set!(names::PREFIX_CACHE_TOKENS, tokens as f64, unit: names::UNIT_TOKEN,
        description: "Tokens held by the prefix index");
    gauge_set!(names::PREFIX_CACHE_ENTRIES, entries as f64, unit: names::UNIT_ENTRY,
        description: "Prompts held by the prefix index");
    // Also 0: the series exists (dashboards' rate) before the first eviction.
    counter_add!(names::PREFIX_CACHE_EVICTIONS, evicted, unit: names::UNIT_ENTRY,
        description: "Prefix-index entries evicted");
}

/// Adds to `llama.tokens` (`gen_ai.token.type` = `kind`).
pub fn count_tokens(kind: TokenKind, n: u64) {
    counter_add!(names::TOKENS, n, unit: names::UNIT_TOKEN, description: "Tokens processed",
        [names::TOKEN_KIND] = kind.as_str());
}

/// One speculative verification: `drafted` draft tokens, `accepted` of them accepted.
pub fn speculative(drafted: usize, accepted: usize) {
    counter_add!(names::SPEC_DRAFT_TOKENS, drafted as u64, unit: names::UNIT_TOKEN,
        description: "Draft tokens speculative decoding proposed and verified");
    counter_add!(names::SPEC_ACCEPTED_TOKENS, accepted as u64, unit: names::UNIT_TOKEN,
        description: "Draft tokens the model accepted");
}

/// One request's entry in `llama.requests`, shared by the HTTP layer (which counts the
/// rejections it answers) and the request's `RequestTrace` (which counts everything after
/// admission): whichever records first counts the request, the other records nothing, so each
/// request is counted exactly once.
#[derive(Debug, Clone, Default)]
pub struct OutcomeOnce(Arc<AtomicBool>);

impl OutcomeOnce {
    /// Counts the request with `outcome`, unless it was counted already. `operation` is `None`
    /// for requests refused before their API was known (bad route, loading, bad key).
    pub fn record(
        &self,
        outcome: Outcome,
        error_type: Option<&'static str>,
        operation: Option<&'static str>,
    ) {
        if !self.0.swap(true, Ordering::AcqRel) {
            count_request(1, outcome.as_str(), error_type, operation);
        }
    }

    /// Whether the request was counted.
    pub fn is_recorded(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `llama.requests`, one call site per attribute set: an attribute that does not apply is
/// left out, never recorded as an empty string.
macro_rules! requests_counter {
    ($value:expr, $($attrs:tt)*) => {
        counter_add!(names::REQUESTS, $value, unit: names::UNIT_REQUEST, description: "Requests by outcome",
            $($attrs)*)
    };
}

fn count_request(
    n: u64,
    outcome: &'static str,
    error_type: Option<&'static str>,
    operation: Option<&'static str>,
) {
    match (error_type, operation) {
        (None, None) => requests_counter!(n, [names::OUTCOME] = outcome),
        (Some(e), None) => {
            requests_counter!(n, [names::OUTCOME] = outcome, [semconv::ERROR_TYPE] = e)
        }
        (None, Some(op)) => requests_counter!(
            n,
            [names::OUTCOME] = outcome,
            [semconv::GEN_AI_OPERATION_NAME] = op
        ),
        (Some(e), Some(op)) => requests_counter!(
            n,
            [names::OUTCOME] = outcome,
            [semconv::ERROR_TYPE] = e,
            [semconv::GEN_AI_OPERATION_NAME] = op
        ),
    }
}

/// Operations the server records (`gen_ai.operation.name`).
pub const OPERATIONS: [&str; 3] = [
    semconv::OPERATION_CHAT,
    semconv::OPERATION_TEXT_COMPLETION,
    semconv::OPERATION_EMBEDDINGS,
];

/// Creates every counter series whose label values are known, at zero, so dashboards and
/// alerts have series (and `rate()` a starting point) before the first event.
pub fn start_series() {
    let (rejected, cancelled, error) = (
        Outcome::Rejected.as_str(),
        Outcome::Cancelled.as_str(),
        Outcome::Error.as_str(),
    );
    for reason in names::REJECTION_REASONS {
        count_request(0, rejected, Some(reason), None);
    }
    for op in OPERATIONS {
        count_request(0, Outcome::Success.as_str(), None, Some(op));
        for reason in CancelReason::ALL {
            count_request(0, cancelled, Some(reason.as_str()), Some(op));
        }
        for kind in EngineError::ALL {
            count_request(0, error, Some(kind.as_str()), Some(op));
        }
    }
    for kind in TokenKind::ALL {
        count_tokens(kind, 0);
    }
    speculative(0, 0);
}
