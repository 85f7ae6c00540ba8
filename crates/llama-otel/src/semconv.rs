//! Semantic-convention names the server emits (GenAI, HTTP, general attributes; metrics and
//! their bucket boundaries), kept here because the `gen_ai.*` items of
//! opentelemetry-semantic-conventions are deprecated.
//!
//! Source: [`SPEC_VERSION`]. Names are plain `&'static str`, usable as macro attribute keys
//! (`[GEN_AI_REQUEST_MODEL] = model`) and instrument names; [`crate::catalog`] lists every name
//! the server emits with its type and unit, and the server's tests hold its output to that list.

/// The conventions these names follow: GenAI from the last release that still carried
/// `docs/gen-ai/` (v1.41.1; v1.42.0 moved GenAI to `open-telemetry/semantic-conventions-genai`,
/// which has made no release since — its `main` keeps every name used here), HTTP and the
/// general attributes from the newest release.
pub const SPEC_VERSION: &str =
    "OpenTelemetry semantic conventions v1.41.1 (gen-ai: docs/gen-ai/gen-ai-spans.md, \
gen-ai-metrics.md) and v1.44.0 (http: docs/http/http-spans.md, http-metrics.md)";

// ---------------------------------------------------------------- attributes

/// The operation being performed; see the `OPERATION_*` values.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// The GenAI provider as identified by the instrumentation (replaces `gen_ai.system`).
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// Whether the request asked for a streamed response (boolean; defined since v1.40).
pub const GEN_AI_REQUEST_STREAM: &str = "gen_ai.request.stream";
/// Model name the request asked for.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// Maximum number of tokens the model may generate.
pub const GEN_AI_REQUEST_MAX_TOKENS: &str = "gen_ai.request.max_tokens";
/// Sampling temperature.
pub const GEN_AI_REQUEST_TEMPERATURE: &str = "gen_ai.request.temperature";
/// Nucleus sampling threshold.
pub const GEN_AI_REQUEST_TOP_P: &str = "gen_ai.request.top_p";
/// Top-k sampling (a double in the spec, though the setting is a count).
pub const GEN_AI_REQUEST_TOP_K: &str = "gen_ai.request.top_k";
/// Frequency penalty.
pub const GEN_AI_REQUEST_FREQUENCY_PENALTY: &str = "gen_ai.request.frequency_penalty";
/// Presence penalty.
pub const GEN_AI_REQUEST_PRESENCE_PENALTY: &str = "gen_ai.request.presence_penalty";
/// Stop sequences (string array).
pub const GEN_AI_REQUEST_STOP_SEQUENCES: &str = "gen_ai.request.stop_sequences";
/// Sampling seed.
pub const GEN_AI_REQUEST_SEED: &str = "gen_ai.request.seed";
/// Number of candidate completions requested (`n`).
pub const GEN_AI_REQUEST_CHOICE_COUNT: &str = "gen_ai.request.choice.count";
/// Unique id of the completion.
pub const GEN_AI_RESPONSE_ID: &str = "gen_ai.response.id";
/// Model that actually produced the response.
pub const GEN_AI_RESPONSE_MODEL: &str = "gen_ai.response.model";
/// Why generation stopped, one entry per choice (string array).
pub const GEN_AI_RESPONSE_FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// Prompt tokens used.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// Completion tokens generated.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// Prompt tokens served from the cache (a part of `gen_ai.usage.input_tokens`; replaces the
/// project's former `gen_ai.usage.cached_tokens`).
pub const GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: &str = "gen_ai.usage.cache_read.input_tokens";
/// The prompt, with content capture on (opt-in; JSON per the input-messages schema).
pub const GEN_AI_INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// The completion, with content capture on (opt-in; JSON per the output-messages schema).
pub const GEN_AI_OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// A tool call's id.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// A tool call's function name.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// A tool call's arguments (opt-in, content capture).
pub const GEN_AI_TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// `input` or `output`, on `gen_ai.client.token.usage`.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// Requested output type (`text`, `json`, ...).
pub const GEN_AI_OUTPUT_TYPE: &str = "gen_ai.output.type";
/// Conversation (session/thread) id.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// Low-cardinality class of the error an operation ended with.
pub const ERROR_TYPE: &str = "error.type";
/// Server address (host name or IP) the request was addressed to.
pub const SERVER_ADDRESS: &str = "server.address";
/// Server port the request was addressed to.
pub const SERVER_PORT: &str = "server.port";
/// HTTP method, on HTTP server spans.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// HTTP route template, on HTTP server spans.
pub const HTTP_ROUTE: &str = "http.route";
/// HTTP status code, on HTTP server spans.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// The request's method as sent, when it is not one of the known methods (then
/// `http.request.method` is `_OTHER`).
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http` or `https`, on HTTP server spans and `http.server.request.duration`.
pub const URL_SCHEME: &str = "url.scheme";
/// The request's path, on HTTP server spans.
pub const URL_PATH: &str = "url.path";
/// The `User-Agent` header, on HTTP server spans.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";

// ------------------------------------------------------- well-known values

/// `gen_ai.operation.name` for chat completions.
pub const OPERATION_CHAT: &str = "chat";
/// `gen_ai.operation.name` for legacy text completions.
pub const OPERATION_TEXT_COMPLETION: &str = "text_completion";
/// `gen_ai.operation.name` for embeddings.
pub const OPERATION_EMBEDDINGS: &str = "embeddings";
/// `gen_ai.operation.name` for multimodal generation.
pub const OPERATION_GENERATE_CONTENT: &str = "generate_content";
/// `gen_ai.token.type` for prompt tokens.
pub const TOKEN_TYPE_INPUT: &str = "input";
/// `gen_ai.token.type` for generated tokens.
pub const TOKEN_TYPE_OUTPUT: &str = "output";
/// Fallback `error.type` when no more specific class applies; also `http.request.method` for
/// a method outside [`HTTP_KNOWN_METHODS`].
pub const ERROR_TYPE_OTHER: &str = "_OTHER";
/// The methods `http.request.method` records as sent (RFC 9110 and PATCH).
pub const HTTP_KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

// ------------------------------------------------------------------ metrics

/// Histogram, `{token}`: input and output tokens per operation (client side).
pub const GEN_AI_CLIENT_TOKEN_USAGE: &str = "gen_ai.client.token.usage";
/// Histogram, `s`: client-observed operation duration.
pub const GEN_AI_CLIENT_OPERATION_DURATION: &str = "gen_ai.client.operation.duration";
/// Histogram, `s`: server request duration (time to last output token).
pub const GEN_AI_SERVER_REQUEST_DURATION: &str = "gen_ai.server.request.duration";
/// Histogram, `s`: time per output token after the first one (decode speed).
pub const GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN: &str = "gen_ai.server.time_per_output_token";
/// Histogram, `s`: time to the first output token (queueing + prefill).
pub const GEN_AI_SERVER_TIME_TO_FIRST_TOKEN: &str = "gen_ai.server.time_to_first_token";
/// Histogram, `s`: HTTP server request duration (stable HTTP conventions), to the response
/// head as the HTTP server span.
pub const HTTP_SERVER_REQUEST_DURATION: &str = "http.server.request.duration";
/// Counter, `{span}` / `{export}`: telemetry this process had to drop (see `init`).
pub const LLAMA_TELEMETRY_DROPPED: &str = "llama.telemetry.dropped";

// OS process metrics (semantic conventions `process.*`, development status; see
// [`crate::process`]).
/// UpDownCounter, `By`: physical memory in use (resident set).
pub const PROCESS_MEMORY_USAGE: &str = "process.memory.usage";
/// UpDownCounter, `By`: committed virtual memory.
pub const PROCESS_MEMORY_VIRTUAL: &str = "process.memory.virtual";
/// Counter, `s`: CPU seconds by [`CPU_MODE`].
pub const PROCESS_CPU_TIME: &str = "process.cpu.time";
/// Gauge, `1`: CPU time since the previous measurement over elapsed time × CPUs available.
pub const PROCESS_CPU_UTILIZATION: &str = "process.cpu.utilization";
/// Attribute of the CPU metrics: [`CPU_MODE_USER`] or [`CPU_MODE_SYSTEM`].
pub const CPU_MODE: &str = "cpu.mode";
/// `cpu.mode` of time spent in user code.
pub const CPU_MODE_USER: &str = "user";
/// `cpu.mode` of time spent in the kernel on the process's behalf.
pub const CPU_MODE_SYSTEM: &str = "system";
/// Unit of byte amounts.
pub const UNIT_BYTES: &str = "By";

/// Unit of the duration histograms.
pub const UNIT_SECONDS: &str = "s";
/// Unit of token counts.
pub const UNIT_TOKEN: &str = "{token}";

// ------------------------------------------------ histogram bucket boundaries

/// Boundaries for `gen_ai.client.operation.duration` and `gen_ai.server.request.duration`.
pub const REQUEST_DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/// Boundaries for `gen_ai.server.time_to_first_token`.
pub const TIME_TO_FIRST_TOKEN_BUCKETS: [f64; 16] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Boundaries for `gen_ai.server.time_per_output_token`.
pub const TIME_PER_OUTPUT_TOKEN_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];
/// Boundaries for `http.server.request.duration` (the HTTP metrics' advisory boundaries).
pub const HTTP_REQUEST_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
/// Boundaries for `gen_ai.client.token.usage` (powers of four).
pub const TOKEN_USAGE_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn strictly_increasing(b: &[f64]) -> bool {
        b.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn bucket_boundaries_are_strictly_increasing() {
        assert!(strictly_increasing(&REQUEST_DURATION_BUCKETS));
        assert!(strictly_increasing(&TIME_TO_FIRST_TOKEN_BUCKETS));
        assert!(strictly_increasing(&TIME_PER_OUTPUT_TOKEN_BUCKETS));
        assert!(strictly_increasing(&TOKEN_USAGE_BUCKETS));
        assert!(strictly_increasing(&HTTP_REQUEST_DURATION_BUCKETS));
    }

    #[test]
    fn request_duration_buckets_double_from_10ms() {
        for (i, b) in REQUEST_DURATION_BUCKETS.iter().enumerate() {
            let expected = 0.01 * f64::from(1u32 << i);
            assert!((b - expected).abs() < 1e-9, "bucket {i}: {b} != {expected}");
        }
    }

    #[test]
    fn token_usage_buckets_are_powers_of_four() {
        for (i, b) in TOKEN_USAGE_BUCKETS.iter().enumerate() {
            assert_eq!(*b, 4f64.powi(i as i32), "bucket {i}");
        }
    }

    #[test]
    fn metric_names_use_the_gen_ai_namespace() {
        for name in [
            GEN_AI_CLIENT_TOKEN_USAGE,
            GEN_AI_CLIENT_OPERATION_DURATION,
            GEN_AI_SERVER_REQUEST_DURATION,
            GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
            GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
        ] {
            assert!(name.starts_with("gen_ai."), "{name}");
        }
    }
}
