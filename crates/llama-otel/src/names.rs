//! The project's own instruments (`llama.*`), their units and the label values they carry,
//! written once: the server records with these names and the tests and tools that read the
//! series (`/metrics`, dashboards' checks) use the same items. GenAI-convention names are in
//! [`crate::semconv`].

// ------------------------------------------------------------------ instruments

/// Counter, `{request}`: requests by [`Outcome`] (label [`OUTCOME`], plus `error.type` and
/// `gen_ai.operation.name` where they apply).
pub const REQUESTS: &str = "llama.requests";
/// Up-down counter, `{request}`: requests waiting for a slot.
pub const REQUESTS_QUEUED: &str = "llama.requests.queued";
/// Up-down counter, `{request}`: requests being served by a slot.
pub const REQUESTS_ACTIVE: &str = "llama.requests.active";
/// Histogram, `s`: time a request waited for a slot.
pub const QUEUE_WAIT_DURATION: &str = "llama.queue.wait.duration";
/// Histogram, `1`: fraction of its slot's context a request used.
pub const CONTEXT_UTILIZATION: &str = "llama.context.utilization";
/// Histogram, `s`: time to sample one token.
pub const SAMPLING_DURATION: &str = "llama.sampling.duration";
/// Time to compute one token's allowed set under a schema or grammar (histogram, s).
pub const SAMPLING_CONSTRAINT_DURATION: &str = "llama.sampling.constraint.duration";
/// Counter, `{token}`: tokens processed, by [`TokenKind`] (label [`TOKEN_KIND`],
/// `gen_ai.token.type`).
pub const TOKENS: &str = "llama.tokens";
/// Gauge, `{slot}`: slots serving a request.
pub const SLOTS_BUSY: &str = "llama.slots.busy";
/// Gauge, `1`: used fraction of the KV cache.
pub const KV_CACHE_USAGE: &str = "llama.kv_cache.usage";
/// Gauge, `{token}`: tokens in the KV cache.
pub const KV_CACHE_TOKENS: &str = "llama.kv_cache.tokens";
/// Counter, `{token}`: prompt tokens reused from the KV cache instead of computed, by source
/// (label [`PREFIX_SOURCE`]: `slot` = the slot's own previous prompt, `prefix_cache` = the
/// prefix index or another slot's sequence).
pub const PROMPT_REUSED_TOKENS: &str = "llama.prompt.reused_tokens";
/// Gauge, `{token}`: tokens the prefix index holds (prompts kept past their slot).
pub const PREFIX_CACHE_TOKENS: &str = "llama.prefix_cache.tokens";
/// Gauge, `{entry}`: prompts the prefix index holds.
pub const PREFIX_CACHE_ENTRIES: &str = "llama.prefix_cache.entries";
/// Counter, `{entry}`: prefix-index entries evicted (least recently used first).
pub const PREFIX_CACHE_EVICTIONS: &str = "llama.prefix_cache.evictions";
/// Observable up-down counter, `By`: bytes ggml holds, by [`MEMORY_KIND`] (`weights`, `kv_k`,
/// `kv_v`, `compute`, `output`), [`BACKEND`] (the buffer type: `CPU`, `CPU_Mapped`,
/// `CPU_REPACK`, `CUDA0`, ...) and, on KV kinds, [`KV_LAYERS`].
pub const MEMORY_USAGE: &str = "llama.memory.usage";
/// Observable up-down counter, `By`: free memory of each ggml device ([`DEVICE`]); the CPU
/// backend reports its physical memory as free.
pub const DEVICE_MEMORY_FREE: &str = "llama.device.memory.free";
/// Observable up-down counter, `By`: total memory of each ggml device ([`DEVICE`]).
pub const DEVICE_MEMORY_TOTAL: &str = "llama.device.memory.total";

/// Counter, `{token}`: draft tokens speculative decoding proposed and verified.
pub const SPEC_DRAFT_TOKENS: &str = "llama.speculative.draft.tokens";
/// Counter, `{token}`: draft tokens the model accepted (acceptance rate: this over
/// [`SPEC_DRAFT_TOKENS`]).
pub const SPEC_ACCEPTED_TOKENS: &str = "llama.speculative.accepted.tokens";
/// Histogram, `s`: one `POST /slots/{id}?action=...` (save, restore, erase), by
/// [`SLOT_ACTION`].
pub const SLOT_ACTION_DURATION: &str = "llama.slot.action.duration";
/// Gauge, `1`: 1 while the server sleeps (`--sleep-idle-seconds`: model context freed), else 0.
pub const SERVER_SLEEPING: &str = "llama.server.sleeping";
/// Counter, `{transition}`: the server fell asleep or woke up, by [`SLEEP_TRANSITION`].
pub const SERVER_SLEEP_TRANSITIONS: &str = "llama.server.sleep.transitions";
/// Label and span attribute of slot actions: `save`, `restore`, `erase`.
pub const SLOT_ACTION: &str = "llama.slot.action";
/// Label of [`SERVER_SLEEP_TRANSITIONS`]: `sleep`, `wake`.
pub const SLEEP_TRANSITION: &str = "llama.server.sleep.transition";
/// Slot-action and seq-state spans: tokens in the saved or restored sequence.
pub const SEQ_STATE_TOKENS: &str = "llama.seq_state.tokens";
/// Slot-action and seq-state spans: bytes of the state file written or read.
pub const SEQ_STATE_BYTES: &str = "llama.seq_state.bytes";
/// Unit of sleep transitions.
pub const UNIT_TRANSITION: &str = "{transition}";

// ------------------------------------------------------------------------ units

/// Unit of request counts.
pub const UNIT_REQUEST: &str = "{request}";
/// Unit of slot counts.
pub const UNIT_SLOT: &str = "{slot}";
/// Unit of prefix-index entries.
pub const UNIT_ENTRY: &str = "{entry}";
/// Unit of fractions.
pub const UNIT_RATIO: &str = "1";
/// Unit of token counts (as [`crate::semconv::UNIT_TOKEN`]).
pub const UNIT_TOKEN: &str = crate::semconv::UNIT_TOKEN;
/// Unit of durations (as [`crate::semconv::UNIT_SECONDS`]).
pub const UNIT_SECONDS: &str = crate::semconv::UNIT_SECONDS;

// ----------------------------------------------------------------------- labels

/// Label of [`REQUESTS`]: how the request ended ([`Outcome::as_str`]).
pub const OUTCOME: &str = "outcome";
/// Label of [`TOKENS`]: [`TokenKind::as_str`] (the GenAI conventions' `gen_ai.token.type`;
/// it was `type` = `prompt`|`generated` before).
pub const TOKEN_KIND: &str = crate::semconv::GEN_AI_TOKEN_TYPE;
/// Label of [`PROMPT_REUSED_TOKENS`] and GenAI span attribute: where a request's reused prompt
/// tokens came from, `slot` or `prefix_cache`.
pub const PREFIX_SOURCE: &str = "llama.prompt.cache_source";
/// Label of [`MEMORY_USAGE`]: what the bytes hold (`llama_core::memory::MemoryKind`).
pub const MEMORY_KIND: &str = "llama.memory.kind";
/// Label of [`MEMORY_USAGE`]: the ggml buffer type holding the bytes.
pub const BACKEND: &str = "llama.backend";
/// Label of [`MEMORY_USAGE`] on KV kinds: `full` or `swa` (sliding-window layers' own cache).
pub const KV_LAYERS: &str = "llama.kv_cache.layers";
/// Label of the device memory metrics: ggml's device name (`CPU`, `CUDA0`).
pub const DEVICE: &str = "llama.device";
/// Span attribute: every memory use as `kind[/layers] buffer_type bytes` lines.
pub const MEMORY_BUFFERS_ATTR: &str = "llama.memory.buffers";
/// Span attribute: every device as `name free total` lines (bytes).
pub const DEVICE_MEMORY_ATTR: &str = "llama.device.memory";
/// `llama.model.load` attribute: one `backend layers bytes` line per backend the model is split
/// over (`RPC0[10.0.0.2:50052] 0-15 47513600`, `CPU - 28311552`; `+output` after the layers
/// of the backend holding the output layer).
pub const MODEL_DEVICE_SPLIT_ATTR: &str = "llama.model.device_split";
/// `llama.model.load` attribute: `HOST:PORT` of each ggml RPC server holding layers.
pub const MODEL_RPC_ENDPOINTS_ATTR: &str = "llama.model.rpc_endpoints";

/// The span attribute (`llama.model.load`, `llama.context.init`) carrying the bytes of memory
/// kind `kind` (`weights`, `kv_k`, ...): `llama.memory.<kind>.bytes`.
pub fn memory_bytes_attr(kind: &str) -> &'static str {
    match kind {
        "weights" => "llama.memory.weights.bytes",
        "kv_k" => "llama.memory.kv_k.bytes",
        "kv_v" => "llama.memory.kv_v.bytes",
        "compute" => "llama.memory.compute.bytes",
        "output" => "llama.memory.output.bytes",
        _ => "llama.memory.other.bytes",
    }
}

// ------------------------------------------------------------------ values

/// `gen_ai.provider.name` of every GenAI span and metric. None of the conventions' well-known
/// values applies to a self-hosted server (they name hosted services and their API flavours:
/// `openai` would claim OpenAI's `openai.*` attributes, and this server is not llama.cpp
/// either), and the spec lets an instrumentation use a custom value then ("If one of them
/// applies, then the respective value MUST be used; otherwise, a custom value MAY be used"):
/// this project's own name, in the spec's lower snake case.
pub const PROVIDER: &str = "llama_rs";

// ------------------------------------------------------------ span attributes

/// GenAI span: slot that served the request.
pub const SLOT_ID: &str = "llama.slot.id";
/// GenAI and `prefill` spans: prompt tokens reused from the slot's cache.
pub const PROMPT_CACHED_TOKENS: &str = "llama.prompt.cached_tokens";
/// `prefill` span: prompt tokens.
pub const PROMPT_TOKENS: &str = "llama.prompt.tokens";
/// GenAI span: llama.cpp's stop type (`eos`, `limit`, `word`).
pub const STOP_TYPE: &str = "llama.stop_type";
/// GenAI span of an embeddings request: number of inputs.
pub const EMBED_N_INPUTS: &str = "llama.embed.n_inputs";
/// GenAI and `generate` spans: draft tokens verified for the request (llama.cpp's `draft_n`).
pub const SPEC_DRAFT_N: &str = "llama.speculative.draft_n";
/// GenAI and `generate` spans: draft tokens accepted (llama.cpp's `draft_n_accepted`).
pub const SPEC_DRAFT_N_ACCEPTED: &str = "llama.speculative.draft_n_accepted";
/// GenAI span: tool calls in a chat answer.
pub const TOOL_CALLS: &str = "llama.response.tool_calls";
/// The GenAI span event recorded for each tool call of an answer.
pub const TOOL_CALL_EVENT: &str = "gen_ai.tool.call";
/// GenAI span event when the first token was sampled.
pub const FIRST_TOKEN_EVENT: &str = "first_token";

/// How a request ended (label [`OUTCOME`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Served to the end.
    Success,
    /// Refused before it was queued (`error.type`: one of [`REJECTION_REASONS`]).
    Rejected,
    /// Given up after it was queued (`error.type`: a [`CancelReason`]).
    Cancelled,
    /// The engine failed it (`error.type`: an [`EngineError`]).
    Error,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::Rejected,
        Outcome::Cancelled,
        Outcome::Error,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Rejected => "rejected",
            Outcome::Cancelled => "cancelled",
            Outcome::Error => "error",
        }
    }
}

/// Why a queued or running request was cancelled (`error.type` of [`Outcome::Cancelled`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The client closed the connection.
    ClientDisconnected,
    /// The shutdown deadline passed.
    Shutdown,
}

impl CancelReason {
    /// Every reason.
    pub const ALL: [CancelReason; 2] = [CancelReason::ClientDisconnected, CancelReason::Shutdown];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            CancelReason::ClientDisconnected => "client_disconnected",
            CancelReason::Shutdown => "shutdown",
        }
    }
}

/// What failed in the engine (`error.type` of [`Outcome::Error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// Preparing the slot's KV cache.
    KvCache,
    /// The decode call.
    Decode,
    /// Sampling (no valid logits).
    Sampling,
    /// The encoder (embedding models).
    Encode,
    /// The scheduler let go of the request without deciding its outcome (a bug).
    Dropped,
}

impl EngineError {
    /// Every kind.
    pub const ALL: [EngineError; 5] = [
        EngineError::KvCache,
        EngineError::Decode,
        EngineError::Sampling,
        EngineError::Encode,
        EngineError::Dropped,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            EngineError::KvCache => "kv_cache",
            EngineError::Decode => "decode",
            EngineError::Sampling => "sampling",
            EngineError::Encode => "encode",
            EngineError::Dropped => "dropped",
        }
    }
}

/// Why a request was answered with an error: `error.type` of [`Outcome::Rejected`] and the
/// `reason` label of `llamacpp:requests_rejected_total`, one per client-visible error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// The body is not valid JSON for the request.
    InvalidJson,
    /// A value that cannot be served.
    BadRequest,
    /// The prompt does not fit in a slot's context.
    ContextExceeded,
    /// No such route.
    RouteNotFound,
    /// The route does not take this method.
    MethodNotAllowed,
    /// Missing or wrong API key.
    Unauthorized,
    /// The body is over the size limit.
    PayloadTooLarge,
    /// The body did not arrive in time.
    Timeout,
    /// The model is still loading.
    Loading,
    /// The wait queue is full.
    QueueFull,
    /// The server is stopping.
    ShuttingDown,
    /// A feature the server does not implement.
    NotSupported,
    /// A bug or an engine failure answered with an error.
    Internal,
}

impl RejectReason {
    /// Every reason.
    pub const ALL: [RejectReason; 13] = [
        RejectReason::InvalidJson,
        RejectReason::BadRequest,
        RejectReason::ContextExceeded,
        RejectReason::RouteNotFound,
        RejectReason::MethodNotAllowed,
        RejectReason::Unauthorized,
        RejectReason::PayloadTooLarge,
        RejectReason::Timeout,
        RejectReason::Loading,
        RejectReason::QueueFull,
        RejectReason::ShuttingDown,
        RejectReason::NotSupported,
        RejectReason::Internal,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::BadRequest => "bad_request",
            RejectReason::ContextExceeded => "context_exceeded",
            RejectReason::RouteNotFound => "route_not_found",
            RejectReason::MethodNotAllowed => "method_not_allowed",
            RejectReason::Unauthorized => "unauthorized",
            RejectReason::PayloadTooLarge => "payload_too_large",
            RejectReason::Timeout => "timeout",
            RejectReason::Loading => "loading",
            RejectReason::QueueFull => "queue_full",
            RejectReason::ShuttingDown => "shutting_down",
            RejectReason::NotSupported => "not_supported",
            RejectReason::Internal => "internal",
        }
    }
}

/// [`RejectReason::ALL`]'s label values.
pub const REJECTION_REASONS: [&str; 13] = [
    RejectReason::InvalidJson.as_str(),
    RejectReason::BadRequest.as_str(),
    RejectReason::ContextExceeded.as_str(),
    RejectReason::RouteNotFound.as_str(),
    RejectReason::MethodNotAllowed.as_str(),
    RejectReason::Unauthorized.as_str(),
    RejectReason::PayloadTooLarge.as_str(),
    RejectReason::Timeout.as_str(),
    RejectReason::Loading.as_str(),
    RejectReason::QueueFull.as_str(),
    RejectReason::ShuttingDown.as_str(),
    RejectReason::NotSupported.as_str(),
    RejectReason::Internal.as_str(),
];

/// What a [`TOKENS`] count is (label [`TOKEN_KIND`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Prompt tokens computed (`input`; tokens reused from the cache are not counted: they
    /// cost no compute).
    Input,
    /// Generated tokens (`output`).
    Output,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [TokenKind; 2] = [TokenKind::Input, TokenKind::Output];

    /// The label value (`gen_ai.token.type`'s well-known values).
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Input => crate::semconv::TOKEN_TYPE_INPUT,
            TokenKind::Output => crate::semconv::TOKEN_TYPE_OUTPUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_distinct_and_not_empty() {
        let mut all: Vec<&str> = CancelReason::ALL.iter().map(|r| r.as_str()).collect();
        all.extend(EngineError::ALL.iter().map(|e| e.as_str()));
        all.extend(REJECTION_REASONS);
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len(), "{all:?}");
        assert!(all.iter().all(|v| !v.is_empty()));
        assert!(Outcome::ALL.iter().all(|o| !o.as_str().is_empty()));
    }
}
