//! Every span attribute and metric the server emits, with its value type or instrument and
//! unit, and whether the name comes from the semantic conventions ([`SPEC_VERSION`]) or is the
//! project's own: the one table the server's tests hold its real output to (a name emitted but
//! missing here, or emitted with another type or unit, fails them). Add a row here with any new
//! name; a spec row's type and unit are the spec's.

pub use crate::semconv::SPEC_VERSION;

/// Where a name is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The semantic conventions of [`SPEC_VERSION`].
    Spec,
    /// This project (`llama.*`, `ggml.*`, and labels of the project's own metrics).
    Project,
}

/// An attribute's value type as the conventions write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    Bool,
    Int,
    Double,
    String,
    StringArray,
}

/// A metric's instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    /// Monotonic sum.
    Counter,
    /// Non-monotonic sum.
    UpDownCounter,
    Histogram,
    Gauge,
}

/// One attribute (on spans, span events or metric data points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub name: &'static str,
    pub ty: AttrType,
    pub source: Source,
}

/// One metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub instrument: Instrument,
    pub unit: &'static str,
    pub source: Source,
}

use crate::{names as n, semconv as s};
use AttrType::{Bool, Double, Int, String as Str, StringArray};
use Instrument::{Counter, Gauge, Histogram, UpDownCounter};
use Source::{Project, Spec};

const fn attr(name: &'static str, ty: AttrType, source: Source) -> Attribute {
    Attribute { name, ty, source }
}

const fn metric(
    name: &'static str,
    instrument: Instrument,
    unit: &'static str,
    source: Source,
) -> Metric {
    Metric {
        name,
        instrument,
        unit,
        source,
    }
}

/// Every attribute the server emits.
pub const ATTRIBUTES: &[Attribute] = &[
    // GenAI spans and metrics (gen-ai-spans.md, gen-ai-metrics.md).
    attr(s::GEN_AI_OPERATION_NAME, Str, Spec),
    attr(s::GEN_AI_PROVIDER_NAME, Str, Spec),
    attr(s::GEN_AI_REQUEST_MODEL, Str, Spec),
    attr(s::GEN_AI_REQUEST_MAX_TOKENS, Int, Spec),
    attr(s::GEN_AI_REQUEST_TEMPERATURE, Double, Spec),
    attr(s::GEN_AI_REQUEST_TOP_P, Double, Spec),
    attr(s::GEN_AI_REQUEST_TOP_K, Double, Spec),
    attr(s::GEN_AI_REQUEST_FREQUENCY_PENALTY, Double, Spec),
    attr(s::GEN_AI_REQUEST_PRESENCE_PENALTY, Double, Spec),
    attr(s::GEN_AI_REQUEST_STOP_SEQUENCES, StringArray, Spec),
    attr(s::GEN_AI_REQUEST_SEED, Int, Spec),
    attr(s::GEN_AI_REQUEST_STREAM, Bool, Spec),
    attr(s::GEN_AI_RESPONSE_ID, Str, Spec),
    attr(s::GEN_AI_RESPONSE_MODEL, Str, Spec),
    attr(s::GEN_AI_RESPONSE_FINISH_REASONS, StringArray, Spec),
    attr(s::GEN_AI_USAGE_INPUT_TOKENS, Int, Spec),
    attr(s::GEN_AI_USAGE_OUTPUT_TOKENS, Int, Spec),
    attr(s::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, Int, Spec),
    // The spec types the messages `any`; they are recorded as JSON text.
    attr(s::GEN_AI_INPUT_MESSAGES, Str, Spec),
    attr(s::GEN_AI_OUTPUT_MESSAGES, Str, Spec),
    attr(s::GEN_AI_TOOL_CALL_ID, Str, Spec),
    attr(s::GEN_AI_TOOL_NAME, Str, Spec),
    attr(s::GEN_AI_TOOL_CALL_ARGUMENTS, Str, Spec),
    attr(s::GEN_AI_TOKEN_TYPE, Str, Spec),
    attr(s::ERROR_TYPE, Str, Spec),
    attr(s::SERVER_ADDRESS, Str, Spec),
    attr(s::SERVER_PORT, Int, Spec),
    // HTTP server span and http.server.request.duration (http-spans.md, http-metrics.md).
    attr(s::HTTP_REQUEST_METHOD, Str, Spec),
    attr(s::HTTP_REQUEST_METHOD_ORIGINAL, Str, Spec),
    attr(s::HTTP_ROUTE, Str, Spec),
    attr(s::HTTP_RESPONSE_STATUS_CODE, Int, Spec),
    attr(s::URL_SCHEME, Str, Spec),
    attr(s::URL_PATH, Str, Spec),
    attr(s::USER_AGENT_ORIGINAL, Str, Spec),
    // OS process metrics (process-metrics.md).
    attr(s::CPU_MODE, Str, Spec),
    // SDK self-observability (otel.sdk.*).
    attr("otel.component.type", Str, Spec),
    attr("otel.component.name", Str, Spec),
    // Labels of the project's metrics.
    attr(n::OUTCOME, Str, Project),
    attr("signal", Str, Project),
    attr("reason", Str, Project),
    attr("ggml.op", Str, Project),
    attr("ggml.backend", Str, Project),
    attr(n::MEMORY_KIND, Str, Project),
    attr(n::BACKEND, Str, Project),
    attr(n::KV_LAYERS, Str, Project),
    attr(n::DEVICE, Str, Project),
    // The request's spans (scheduler/request.rs).
    attr(n::SLOT_ID, Int, Project),
    // Slot save/restore/erase and sleeping (scheduler/engine/slot_actions.rs, sleep.rs).
    attr(n::SLOT_ACTION, Str, Project),
    attr(n::SEQ_STATE_TOKENS, Int, Project),
    attr(n::SEQ_STATE_BYTES, Int, Project),
    attr(n::SLEEP_TRANSITION, Str, Project),
    attr(n::PROMPT_CACHED_TOKENS, Int, Project),
    attr(n::PREFIX_SOURCE, Str, Project),
    attr(n::PROMPT_TOKENS, Int, Project),
    attr(n::STOP_TYPE, Str, Project),
    attr(n::EMBED_N_INPUTS, Int, Project),
    attr(n::TOOL_CALLS, Int, Project),
    attr(n::SPEC_DRAFT_N, Int, Project),
    attr(n::SPEC_DRAFT_N_ACCEPTED, Int, Project),
    // The engine's spans (llama-core: model load, context, decode, encoder).
    attr("llama.model.path", Str, Project),
    attr("llama.model.n_gpu_layers", Int, Project),
    attr("llama.model.mmap", Bool, Project),
    attr("llama.model.name", Str, Project),
    attr("llama.model.architecture", Str, Project),
    attr("llama.model.parameters", Int, Project),
    attr("llama.model.quantization", Str, Project),
    attr("llama.model.file_size", Int, Project),
    attr("llama.model.tensor_types", StringArray, Project),
    attr("llama.model.backend", Str, Project),
    attr("llama.model.n_layer", Int, Project),
    attr("llama.model.n_ctx_train", Int, Project),
    attr("llama.model.n_vocab", Int, Project),
    attr("llama.context.n_ctx", Int, Project),
    attr("llama.context.n_ubatch", Int, Project),
    attr("llama.context.n_threads", Int, Project),
    attr("llama.context.flash_attn", Bool, Project),
    attr("llama.context.compute_buffer_bytes", Int, Project),
    attr("llama.kv_cache.cells", Int, Project),
    attr("llama.kv_cache.bytes", Int, Project),
    attr("llama.kv_cache.swa_cells", Int, Project),
    attr("llama.kv_cache.swa_bytes", Int, Project),
    attr("llama.kv_cache.swa_used_cells", Int, Project),
    attr("llama.kv_cache.used_cells", Int, Project),
    attr("llama.kv_cache.type_k", Str, Project),
    attr("llama.kv_cache.type_v", Str, Project),
    attr("llama.decode.n_tokens", Int, Project),
    attr("llama.decode.n_seqs", Int, Project),
    attr("llama.decode.n_outputs", Int, Project),
    attr("llama.decode.n_ubatches", Int, Project),
    attr("llama.decode.graphs_built", Int, Project),
    attr("llama.decode.encoder", Bool, Project),
    attr("llama.embed.n_tokens", Int, Project),
    attr("llama.embed.pooling", Str, Project),
    attr("llama.embed.ok", Bool, Project),
    // Memory on `llama.model.load` and `llama.context.init` (llama-core's memory report).
    attr("llama.memory.weights.bytes", Int, Project),
    attr("llama.memory.kv_k.bytes", Int, Project),
    attr("llama.memory.kv_v.bytes", Int, Project),
    attr("llama.memory.compute.bytes", Int, Project),
    attr("llama.memory.output.bytes", Int, Project),
    attr("llama.memory.other.bytes", Int, Project),
    attr(n::MEMORY_BUFFERS_ATTR, StringArray, Project),
    attr(n::DEVICE_MEMORY_ATTR, StringArray, Project),
    attr(n::MODEL_DEVICE_SPLIT_ATTR, StringArray, Project),
    attr(n::MODEL_RPC_ENDPOINTS_ATTR, StringArray, Project),
];

/// Every metric the server emits through OpenTelemetry (llama.cpp's own `llamacpp:*` series
/// on `/metrics` are not OpenTelemetry instruments).
pub const METRICS: &[Metric] = &[
    metric(
        s::GEN_AI_SERVER_REQUEST_DURATION,
        Histogram,
        s::UNIT_SECONDS,
        Spec,
    ),
    metric(
        s::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
        Histogram,
        s::UNIT_SECONDS,
        Spec,
    ),
    metric(
        s::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
        Histogram,
        s::UNIT_SECONDS,
        Spec,
    ),
    metric(
        s::HTTP_SERVER_REQUEST_DURATION,
        Histogram,
        s::UNIT_SECONDS,
        Spec,
    ),
    metric("otel.sdk.processor.span.processed", Counter, "{span}", Spec),
    metric("otel.sdk.exporter.span.exported", Counter, "{span}", Spec),
    metric(
        "otel.sdk.exporter.metric_data_point.exported",
        Counter,
        "{data_point}",
        Spec,
    ),
    metric(n::REQUESTS, Counter, n::UNIT_REQUEST, Project),
    metric(n::REQUESTS_QUEUED, UpDownCounter, n::UNIT_REQUEST, Project),
    metric(n::REQUESTS_ACTIVE, UpDownCounter, n::UNIT_REQUEST, Project),
    metric(n::QUEUE_WAIT_DURATION, Histogram, n::UNIT_SECONDS, Project),
    metric(n::CONTEXT_UTILIZATION, Histogram, n::UNIT_RATIO, Project),
    metric(n::SAMPLING_DURATION, Histogram, n::UNIT_SECONDS, Project),
    metric(
        n::SAMPLING_CONSTRAINT_DURATION,
        Histogram,
        n::UNIT_SECONDS,
        Project,
    ),
    metric(n::TOKENS, Counter, n::UNIT_TOKEN, Project),
    metric(n::SPEC_DRAFT_TOKENS, Counter, n::UNIT_TOKEN, Project),
    metric(n::SPEC_ACCEPTED_TOKENS, Counter, n::UNIT_TOKEN, Project),
    metric(n::SLOTS_BUSY, Gauge, n::UNIT_SLOT, Project),
    metric(n::KV_CACHE_USAGE, Gauge, n::UNIT_RATIO, Project),
    metric(n::KV_CACHE_TOKENS, Gauge, n::UNIT_TOKEN, Project),
    metric(n::SLOT_ACTION_DURATION, Histogram, n::UNIT_SECONDS, Project),
    metric(n::SERVER_SLEEPING, Gauge, n::UNIT_RATIO, Project),
    metric(
        n::SERVER_SLEEP_TRANSITIONS,
        Counter,
        n::UNIT_TRANSITION,
        Project,
    ),
    metric(n::PROMPT_REUSED_TOKENS, Counter, n::UNIT_TOKEN, Project),
    metric(n::PREFIX_CACHE_TOKENS, Gauge, n::UNIT_TOKEN, Project),
    metric(n::PREFIX_CACHE_ENTRIES, Gauge, n::UNIT_ENTRY, Project),
    metric(n::PREFIX_CACHE_EVICTIONS, Counter, n::UNIT_ENTRY, Project),
    metric(s::LLAMA_TELEMETRY_DROPPED, Counter, "{item}", Project),
    metric("llama.decode.duration", Histogram, "s", Project),
    metric("llama.decode.tokens", Histogram, "{token}", Project),
    metric("llama.ggml.op.duration", Histogram, "s", Project),
    metric("llama.embed.duration", Histogram, "s", Project),
    metric("llama.model.load.duration", Histogram, "s", Project),
    metric("llama.model.load.errors", Counter, "{error}", Project),
    metric("llama.model.size", Gauge, "By", Project),
    metric(n::MEMORY_USAGE, UpDownCounter, s::UNIT_BYTES, Project),
    metric(n::DEVICE_MEMORY_FREE, UpDownCounter, s::UNIT_BYTES, Project),
    metric(
        n::DEVICE_MEMORY_TOTAL,
        UpDownCounter,
        s::UNIT_BYTES,
        Project,
    ),
    metric(s::PROCESS_MEMORY_USAGE, UpDownCounter, s::UNIT_BYTES, Spec),
    metric(
        s::PROCESS_MEMORY_VIRTUAL,
        UpDownCounter,
        s::UNIT_BYTES,
        Spec,
    ),
    metric(s::PROCESS_CPU_TIME, Counter, "s", Spec),
    metric(s::PROCESS_CPU_UTILIZATION, Gauge, "1", Spec),
];

/// The table's row for attribute `name`.
pub fn attribute(name: &str) -> Option<&'static Attribute> {
    ATTRIBUTES.iter().find(|a| a.name == name)
}

/// The table's row for metric `name`.
pub fn metric_row(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_listed_once() {
        let attrs: HashSet<_> = ATTRIBUTES.iter().map(|a| a.name).collect();
        assert_eq!(attrs.len(), ATTRIBUTES.len(), "an attribute listed twice");
        let metrics: HashSet<_> = METRICS.iter().map(|m| m.name).collect();
        assert_eq!(metrics.len(), METRICS.len(), "a metric listed twice");
    }

    #[test]
    fn project_names_stay_out_of_the_spec_namespaces() {
        let spec_ns = [
            "gen_ai.",
            "http.",
            "url.",
            "server.",
            "error.",
            "otel.",
            "user_agent.",
        ];
        for a in ATTRIBUTES.iter().filter(|a| a.source == Project) {
            assert!(
                !spec_ns.iter().any(|ns| a.name.starts_with(ns)),
                "{}",
                a.name
            );
        }
        for m in METRICS.iter().filter(|m| m.source == Project) {
            assert!(m.name.starts_with("llama."), "{}", m.name);
        }
        for m in METRICS.iter().filter(|m| m.source == Spec) {
            assert!(!m.name.starts_with("llama."), "{}", m.name);
        }
    }

    #[test]
    fn durations_are_in_seconds() {
        for m in METRICS.iter().filter(|m| m.name.ends_with(".duration")) {
            assert_eq!(m.unit, "s", "{}", m.name);
        }
    }
}
