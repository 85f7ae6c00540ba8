//! Command-line flags, spelled like llama.cpp's `llama-server` (names, short forms, `LLAMA_ARG_*`
//! environment variables and defaults as in its `common/arg.cpp`) where it has them.

mod argv;
mod log;
mod spec;
mod values;

pub use argv::{normalize_args, reject_unsupported};
pub use log::LogFlags;
pub use spec::{SpecFlags, SpecType};
pub use values::{FlashAttn, Reasoning};

use clap::Parser;
use llama_core::kv_cache::KvCacheType;
use llama_core::sampling::SamplingParams;
use std::path::PathBuf;
use values::{
    parse_bool, parse_cache_type, parse_flash_attn, parse_gpu_layers, parse_kwargs, parse_pooling,
    parse_reasoning, parse_sleep_idle, parse_slot_dir,
};

/// OpenAI- and llama.cpp-compatible LLM server with continuous batching.
#[derive(Debug, Clone, Parser)]
#[command(name = "llama-server", version, about)]
pub struct Cli {
    /// Model file (GGUF).
    #[arg(short = 'm', long = "model", env = "LLAMA_ARG_MODEL")]
    pub model: PathBuf,
    /// KV-cache size in tokens, shared by all slots (0: the model's training context).
    #[arg(
        short = 'c',
        long = "ctx-size",
        env = "LLAMA_ARG_CTX_SIZE",
        default_value_t = 0
    )]
    pub ctx_size: usize,
    /// Number of slots (requests decoded together); `-np`. -1 (auto, the default): 4 slots
    /// over one unified KV pool, each free to use the whole context, as llama.cpp.
    #[arg(long = "parallel", env = "LLAMA_ARG_N_PARALLEL", default_value_t = -1,
          allow_negative_numbers = true, value_parser = values::parse_parallel)]
    pub parallel: i32,
    /// Every slot may use the whole context (one KV pool); `-kvu`. Default: on when -np is
    /// auto; with an explicit -np each slot gets ctx-size / parallel (`-no-kvu`).
    #[arg(long = "kv-unified", env = "LLAMA_ARG_KV_UNIFIED", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          overrides_with = "no_kv_unified")]
    pub kv_unified: Option<bool>,
    /// Each slot gets ctx-size / parallel tokens (`-no-kvu`).
    #[arg(long = "no-kv-unified", overrides_with = "kv_unified")]
    pub no_kv_unified: bool,
    /// CPU threads for decoding (default, or <= 0: all available).
    #[arg(
        short = 't',
        long = "threads",
        env = "LLAMA_ARG_THREADS",
        allow_negative_numbers = true
    )]
    pub threads: Option<i32>,
    /// Accepted for llama.cpp compatibility (`-tb`): prompt processing uses --threads too.
    #[arg(long = "threads-batch", allow_negative_numbers = true)]
    pub threads_batch: Option<i32>,
    /// Tokio worker threads serving HTTP (default, or <= 0: 2; decoding runs on its own thread).
    #[arg(long = "threads-http", env = "LLAMA_ARG_THREADS_HTTP", default_value_t = -1,
          allow_negative_numbers = true)]
    pub threads_http: i32,
    /// Layers to offload to the GPU: a count, or `all` / `auto` (every layer); `-ngl`.
    #[arg(long = "n-gpu-layers", alias = "gpu-layers", env = "LLAMA_ARG_N_GPU_LAYERS",
          default_value = "0", value_parser = parse_gpu_layers)]
    pub n_gpu_layers: usize,
    /// ggml RPC servers to use as devices, `HOST:PORT[,HOST:PORT...]` (needs the `rpc` feature).
    #[arg(long = "rpc", env = "LLAMA_ARG_RPC")]
    pub rpc: Option<String>,
    /// How to split the model over several devices: `none` (only --main-gpu), `layer` (whole
    /// layers by --tensor-split), `row` (refused: no backend here has split buffers); `-sm`.
    #[arg(
        long = "split-mode",
        env = "LLAMA_ARG_SPLIT_MODE",
        default_value = "layer"
    )]
    pub split_mode: llama_core::model::SplitMode,
    /// Fraction of the offloaded layers for each device, e.g. `3,1` (default: by free memory); `-ts`.
    #[arg(long = "tensor-split", env = "LLAMA_ARG_TENSOR_SPLIT")]
    pub tensor_split: Option<llama_core::model::TensorSplit>,
    /// The device for the whole model with `--split-mode none`; `-mg`.
    #[arg(
        long = "main-gpu",
        env = "LLAMA_ARG_MAIN_GPU",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub main_gpu: i32,
    /// Print the available devices and exit (handled before the other flags, as llama.cpp).
    #[arg(long = "list-devices")]
    pub list_devices: bool,
    /// Keep CPU weights in the mapped file (no repacking into the SIMD layout); `-nr`.
    #[arg(long = "no-repack", env = "LLAMA_ARG_NO_REPACK", value_parser = parse_bool,
          overrides_with = "repack")]
    pub no_repack: bool,
    /// Repack CPU weights into the SIMD layout (the default; `--repack=false` is --no-repack).
    #[arg(long = "repack", env = "LLAMA_ARG_REPACK", value_parser = parse_bool, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", overrides_with = "no_repack")]
    pub repack: Option<bool>,
    /// Accepted for llama.cpp compatibility (`-cb`): batching is always continuous (turning it
    /// off, LLAMA_ARG_CONT_BATCHING=0 or `-nocb`, is refused).
    #[arg(long = "cont-batching", env = "LLAMA_ARG_CONT_BATCHING", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub cont_batching: Option<bool>,
    /// Most tokens in one decode step (prompt chunks plus one token per generating slot).
    #[arg(short = 'b', long = "batch-size", env = "LLAMA_ARG_BATCH", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Micro-batch size: tokens computed as one graph; `-ub`.
    #[arg(long = "ubatch-size", env = "LLAMA_ARG_UBATCH", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ubatch_size: u32,
    /// Address to listen on.
    #[arg(long, env = "LLAMA_ARG_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// PEM private key for HTTPS (with --ssl-cert-file).
    #[arg(
        long = "ssl-key-file",
        env = "LLAMA_ARG_SSL_KEY_FILE",
        requires = "ssl_cert_file"
    )]
    pub ssl_key_file: Option<PathBuf>,
    /// PEM certificate (chain) for HTTPS (with --ssl-key-file).
    #[arg(
        long = "ssl-cert-file",
        env = "LLAMA_ARG_SSL_CERT_FILE",
        requires = "ssl_key_file"
    )]
    pub ssl_cert_file: Option<PathBuf>,
    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, env = "LLAMA_ARG_PORT", default_value_t = 8080)]
    pub port: u16,
    /// API key(s) required as `Authorization: Bearer KEY` on every route but /health
    /// (comma-separated for several).
    #[arg(
        long = "api-key",
        env = "LLAMA_API_KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_key: Vec<String>,
    /// File of API keys, one per line (`#` starts a comment line); merged with --api-key.
    #[arg(long = "api-key-file", env = "LLAMA_ARG_API_KEY_FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Server-wide cap on generated tokens per request (-1: none but the slot's context).
    #[arg(short = 'n', long = "n-predict", alias = "predict", env = "LLAMA_ARG_N_PREDICT",
          default_value_t = -1, allow_negative_numbers = true)]
    pub n_predict: i64,
    /// Model names, comma-separated: /v1/models lists the first (sorted, as llama.cpp) with
    /// all of them as `aliases`.
    #[arg(short = 'a', long, env = "LLAMA_ARG_ALIAS", value_delimiter = ',')]
    pub alias: Vec<String>,
    /// Requests allowed to wait for a free slot; more get 503 with Retry-After.
    #[arg(long = "queue-size", default_value_t = 64)]
    pub queue_size: usize,
    /// Flash attention: on, off or auto (auto: on, as llama.cpp resolves it on CPU); `-fa`.
    #[arg(long = "flash-attn", env = "LLAMA_ARG_FLASH_ATTN", default_value = "auto",
          value_parser = parse_flash_attn, allow_negative_numbers = true)]
    pub flash_attn: FlashAttn,
    /// Same as `-fa off`.
    #[arg(long = "no-flash-attn", alias = "no-fa")]
    pub no_flash_attn: bool,
    /// KV cache data type for K (`-ctk`): f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1.
    #[arg(long = "cache-type-k", env = "LLAMA_ARG_CACHE_TYPE_K", default_value = "f16",
          value_parser = parse_cache_type)]
    pub cache_type_k: KvCacheType,
    /// KV cache data type for V (`-ctv`), same values; a quantized V needs flash attention.
    #[arg(long = "cache-type-v", env = "LLAMA_ARG_CACHE_TYPE_V", default_value = "f16",
          value_parser = parse_cache_type)]
    pub cache_type_v: KvCacheType,
    /// Sliding-window layers keep every token (a full-size cache) instead of their window only;
    /// prompts can then be reused past the window.
    #[arg(long = "swa-full", env = "LLAMA_ARG_SWA_FULL", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value = "false")]
    pub swa_full: bool,
    /// MiB of K/V the prefix index may keep for prompts past their slot (-1: no limit, 0: off);
    /// `-cram`. Reused prefixes are cut to whole micro-batches so that outputs stay those of a
    /// cold run (unless `--cache-any-prefix`).
    #[arg(
        long = "cache-ram",
        env = "LLAMA_ARG_CACHE_RAM",
        default_value_t = 8192,
        allow_negative_numbers = true
    )]
    pub cache_ram: i64,
    /// Reuse cached prompt prefixes of any length, as llama.cpp's prompt cache does (a
    /// conversation that changes slots keeps its whole history), instead of whole micro-batches
    /// only: a reused prompt's output may then differ in the last bits from a cold run's.
    #[arg(long = "cache-any-prefix")]
    pub cache_any_prefix: bool,
    /// Pack prompt chunks and generated tokens into one decode call, as llama.cpp does: better
    /// prompt throughput under load, but a request's output may then depend on its neighbours.
    /// With an embedding model: the inputs of a request share graphs (measured ~2x
    /// sentences/s on the nomic reference inputs; vectors move by cosine < 1e-6).
    #[arg(long = "mixed-batches")]
    pub mixed_batches: bool,
    /// Seconds allowed for reading a request's headers and body, and for a blocked write to a
    /// client that stopped reading; `-to`.
    #[arg(long = "timeout", env = "LLAMA_ARG_TIMEOUT", default_value_t = 3600)]
    pub timeout: u64,
    /// Seconds between SSE ping comments (`:`) while a stream has nothing to send (a long
    /// prefill or queue wait), for clients with idle timeouts; -1 (or <= 0): none. Fractions
    /// are accepted (llama.cpp takes whole seconds).
    #[arg(
        long = "sse-ping-interval",
        env = "LLAMA_ARG_SSE_PING_INTERVAL",
        default_value_t = 30.0,
        allow_negative_numbers = true
    )]
    pub sse_ping_interval: f64,
    /// Seconds in-flight requests get to finish after Ctrl-C / SIGTERM before they are cancelled.
    #[arg(long = "shutdown-timeout", default_value_t = 10)]
    pub shutdown_timeout: u64,
    /// Largest accepted request body in bytes (larger ones get 413).
    #[arg(long = "max-body-size", default_value_t = 8 * 1024 * 1024)]
    pub max_body_size: usize,
    #[command(flatten)]
    pub endpoints: EndpointFlags,
    #[command(flatten)]
    pub cors: CorsFlags,
    #[command(flatten)]
    pub sampling: SamplingFlags,
    #[command(flatten)]
    pub log: LogFlags,
    #[command(flatten)]
    pub spec: SpecFlags,
    /// OTLP endpoint for traces and metrics (overrides OTEL_EXPORTER_OTLP_ENDPOINT).
    #[arg(long = "otlp-endpoint")]
    pub otlp_endpoint: Option<String>,
    /// OTLP protocol: `grpc` or `http/protobuf` (overrides OTEL_EXPORTER_OTLP_PROTOCOL).
    #[arg(long = "otlp-protocol")]
    pub otlp_protocol: Option<String>,
    /// `service.name` of the telemetry resource (overrides OTEL_SERVICE_NAME).
    #[arg(long = "otel-service-name")]
    pub otel_service_name: Option<String>,
    /// Do not append OpenTelemetry metrics to /metrics.
    #[arg(long = "no-prometheus")]
    pub no_prometheus: bool,
    /// Record prompts and completions on spans (gen_ai.input/output.messages); also enabled by
    /// OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true.
    #[arg(long = "otel-capture-content")]
    pub otel_capture_content: bool,
    /// Trace health and scrape probes too (`/health`, `/v1/health`, `/metrics`, `/props`
    /// polled by orchestrators). Off by default: a trace per poll buries real requests in a
    /// trace search. Their `http.server.request.duration` is recorded either way.
    #[arg(long = "otel-trace-probes")]
    pub otel_trace_probes: bool,
    /// Time every ggml graph node into the `llama.ggml.op.duration` histogram (by op and
    /// backend). Off by default: the scheduler then runs nodes one at a time, which costs
    /// ~16 % of one request's decode throughput and ~7-15 % with 4 concurrent clients
    /// (measured on CPU, SmolLM2-135M Q4_1, 2 threads: `cargo xtask bench-otel --ggml-ops`).
    /// Needs telemetry on (a build with the `otel` feature).
    #[arg(long = "otel-ggml-ops")]
    pub otel_ggml_ops: bool,
    /// Chat template overriding the model's: a built-in name (chatml, llama3, gemma, ...) or,
    /// as in llama.cpp, any other value as a Jinja source.
    #[arg(
        long = "chat-template",
        env = "LLAMA_ARG_CHAT_TEMPLATE",
        conflicts_with = "chat_template_file"
    )]
    pub chat_template: Option<String>,
    /// Jinja chat template file overriding the model's.
    #[arg(long = "chat-template-file", env = "LLAMA_ARG_CHAT_TEMPLATE_FILE")]
    pub chat_template_file: Option<PathBuf>,
    /// Extra template variables as a JSON object, e.g. '{"enable_thinking": false}'.
    #[arg(long = "chat-template-kwargs", env = "LLAMA_ARG_CHAT_TEMPLATE_KWARGS",
          value_parser = parse_kwargs)]
    pub chat_template_kwargs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Where thoughts (`<think>...</think>`) go: `none` (left in `content`), `deepseek`
    /// (`reasoning_content`), `deepseek-legacy` (both), `auto` (as deepseek). llama.cpp's
    /// flag, environment variable and default (`common.h`: deepseek).
    #[arg(
        long = "reasoning-format",
        env = "LLAMA_ARG_THINK",
        default_value = "deepseek"
    )]
    pub reasoning_format: llama_core::chat::toolcall::ReasoningFormat,
    /// Thinking in chat templates: `on`, `off` or `auto` (the template's default); `-rea`.
    /// Sets the `enable_thinking` template variable for every request, as llama.cpp does.
    #[arg(long = "reasoning", env = "LLAMA_ARG_REASONING", default_value = "auto",
          value_parser = parse_reasoning, allow_negative_numbers = true)]
    pub reasoning: Reasoning,
    /// `reasoning_effort` given to the chat template (`minimal`, `low`, `medium`, `high`, ...;
    /// `default`: the template's own).
    #[arg(long = "reasoning-effort", env = "LLAMA_ARG_REASONING_EFFORT")]
    pub reasoning_effort: Option<String>,
    /// Continue a chat's final assistant message instead of answering after it (llama.cpp's
    /// default); `--no-prefill-assistant` renders it as a complete turn.
    #[arg(long = "prefill-assistant", env = "LLAMA_ARG_PREFILL_ASSISTANT",
          value_parser = parse_bool, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", overrides_with = "no_prefill_assistant")]
    pub prefill_assistant: Option<bool>,
    /// Render a final assistant message as a complete turn.
    #[arg(long = "no-prefill-assistant", overrides_with = "prefill_assistant")]
    pub no_prefill_assistant: bool,
    /// Accepted for llama.cpp compatibility: chat templates are always Jinja.
    #[arg(long = "jinja", env = "LLAMA_ARG_JINJA", value_parser = parse_bool)]
    pub jinja: bool,
    /// Accepted for llama.cpp compatibility; has no effect (chat templates are always Jinja).
    #[arg(long = "no-jinja", env = "LLAMA_ARG_NO_JINJA", value_parser = parse_bool)]
    pub no_jinja: bool,
    /// Serve embeddings (`/v1/embeddings`, `/embedding`). Encoder-only models (nomic-bert)
    /// serve them even without it; generative models answer 400 either way.
    #[arg(long = "embeddings", alias = "embedding", env = "LLAMA_ARG_EMBEDDINGS",
          value_parser = parse_bool)]
    pub embeddings: bool,
    /// Pooling of embeddings: none, mean, cls, last (default: the model's).
    #[arg(long = "pooling", env = "LLAMA_ARG_POOLING", value_parser = parse_pooling)]
    pub pooling: Option<llama_core::Pooling>,
    /// Normalisation of pooled embeddings: -1 none, 0 max-abs (int16 range), 1 taxicab,
    /// 2 euclidean, >2 p-norm.
    #[arg(
        long = "embd-normalize",
        default_value_t = 2,
        allow_negative_numbers = true
    )]
    pub embd_normalize: i32,
}

/// Which optional endpoints llama.cpp's flags turn on or off.
#[derive(Debug, Clone, clap::Args)]
pub struct EndpointFlags {
    /// Accepted for llama.cpp compatibility: /metrics is always served.
    #[arg(long = "metrics", env = "LLAMA_ARG_ENDPOINT_METRICS", value_parser = parse_bool)]
    pub metrics: bool,
    /// Serve POST /props (without it, 501 as llama.cpp); GET /props is always served.
    #[arg(long = "props", env = "LLAMA_ARG_ENDPOINT_PROPS", value_parser = parse_bool)]
    pub props: bool,
    /// Serve GET /slots (the default; `--slots=false` or LLAMA_ARG_ENDPOINT_SLOTS=0: refuse).
    #[arg(long = "slots", env = "LLAMA_ARG_ENDPOINT_SLOTS", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          overrides_with = "no_slots")]
    pub slots: Option<bool>,
    /// Answer GET /slots with llama.cpp's "This server does not support slots endpoint." error.
    #[arg(long = "no-slots", env = "LLAMA_ARG_NO_ENDPOINT_SLOTS", value_parser = parse_bool,
          overrides_with = "slots")]
    pub no_slots: bool,
    /// Directory of `POST /slots/{id}?action=save|restore` files (without it those answer 501).
    #[arg(long = "slot-save-path", value_parser = parse_slot_dir)]
    pub slot_save_path: Option<PathBuf>,
    /// Seconds without work after which the engine frees its context (KV cache, compute
    /// buffers) until the next request; -1: never.
    #[arg(long = "sleep-idle-seconds", default_value_t = -1, allow_negative_numbers = true,
          value_parser = parse_sleep_idle)]
    pub sleep_idle_seconds: i64,
    /// Do not serve the built-in live view at `/` (404 there, as llama.cpp without its UI).
    #[arg(long = "no-webui", alias = "no-ui", env = "LLAMA_ARG_NO_UI", value_parser = parse_bool)]
    pub no_webui: bool,
    /// Serve the built-in live view at `/` (the default; `--webui=false` or LLAMA_ARG_UI=0: off).
    #[arg(long = "webui", alias = "ui", env = "LLAMA_ARG_UI", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub webui: Option<bool>,
}

/// llama.cpp's CORS flags (`server-http.cpp` applies them to every response).
#[derive(Debug, Clone, clap::Args)]
pub struct CorsFlags {
    /// Allowed origins: `*` (with credentials: the request's Origin is echoed), `localhost`
    /// (a localhost Origin only), or the literal `Access-Control-Allow-Origin` value.
    #[arg(
        long = "cors-origins",
        env = "LLAMA_ARG_CORS_ORIGINS",
        default_value = "*"
    )]
    pub origins: String,
    /// `Access-Control-Allow-Methods` of preflight answers.
    #[arg(
        long = "cors-methods",
        env = "LLAMA_ARG_CORS_METHODS",
        default_value = "GET, POST, DELETE, OPTIONS"
    )]
    pub methods: String,
    /// `Access-Control-Allow-Headers` of preflight answers.
    #[arg(
        long = "cors-headers",
        env = "LLAMA_ARG_CORS_HEADERS",
        default_value = "*"
    )]
    pub headers: String,
    /// Allow credentials (the default; `--no-cors-credentials` turns it off).
    #[arg(long = "cors-credentials", env = "LLAMA_ARG_CORS_CREDENTIALS", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          overrides_with = "no_credentials")]
    pub credentials: Option<bool>,
    /// Do not allow credentials.
    #[arg(long = "no-cors-credentials", overrides_with = "credentials")]
    pub no_credentials: bool,
}

impl CorsFlags {
    /// Whether credentials are allowed (llama.cpp's default: yes).
    pub fn credentials(&self) -> bool {
        !self.no_credentials && self.credentials.unwrap_or(true)
    }
}

/// Sampling defaults for requests that do not set them (llama.cpp's defaults otherwise).
#[derive(Debug, Clone, clap::Args)]
pub struct SamplingFlags {
    /// Seed for requests without one (-1: a random seed per request).
    #[arg(short = 's', long = "seed", default_value_t = -1, allow_negative_numbers = true)]
    pub seed: i64,
    /// Temperature (default 0.80; <= 0: greedy).
    #[arg(
        long = "temp",
        alias = "temperature",
        env = "LLAMA_ARG_TEMPERATURE",
        allow_negative_numbers = true
    )]
    pub temp: Option<f32>,
    /// Top-k sampling (default 40, 0 = disabled).
    #[arg(long = "top-k", env = "LLAMA_ARG_TOP_K")]
    pub top_k: Option<i32>,
    /// Top-p sampling (default 0.95, 1.0 = disabled).
    #[arg(long = "top-p", env = "LLAMA_ARG_TOP_P")]
    pub top_p: Option<f32>,
    /// Min-p sampling (default 0.05, 0.0 = disabled).
    #[arg(long = "min-p", env = "LLAMA_ARG_MIN_P")]
    pub min_p: Option<f32>,
    /// Repetition penalty (default 1.00 = disabled).
    #[arg(long = "repeat-penalty", env = "LLAMA_ARG_REPEAT_PENALTY")]
    pub repeat_penalty: Option<f32>,
    /// Tokens the penalties look back over (default 64, 0 = disabled, -1 = all).
    #[arg(long = "repeat-last-n", allow_negative_numbers = true)]
    pub repeat_last_n: Option<i32>,
    /// Presence penalty (default 0.00 = disabled).
    #[arg(
        long = "presence-penalty",
        env = "LLAMA_ARG_PRESENCE_PENALTY",
        allow_negative_numbers = true
    )]
    pub presence_penalty: Option<f32>,
    /// Frequency penalty (default 0.00 = disabled).
    #[arg(
        long = "frequency-penalty",
        env = "LLAMA_ARG_FREQUENCY_PENALTY",
        allow_negative_numbers = true
    )]
    pub frequency_penalty: Option<f32>,
}

impl Cli {
    /// Parses argv (program name first) the way llama.cpp spells it: multi-letter short flags,
    /// and a named error for llama.cpp flags this server does not support.
    pub fn try_parse_llama(args: impl IntoIterator<Item = String>) -> Result<Self, clap::Error> {
        let args = normalize_args(args);
        reject_unsupported(&args)?;
        let cli = Self::try_parse_from(args)?;
        if cli.cont_batching == Some(false) {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                "continuous batching cannot be turned off in this server\n",
            ));
        }
        Ok(cli)
    }

    /// Slots: `-np`, or 4 when auto (llama.cpp's `n_parallel = -1`).
    pub fn n_parallel(&self) -> usize {
        usize::try_from(self.parallel)
            .ok()
            .filter(|&n| n > 0)
            .unwrap_or(4)
    }

    /// One KV pool every slot may fill (llama.cpp's `kv_unified`): on when given, else when
    /// `-np` is auto.
    pub fn kv_unified(&self) -> bool {
        !self.no_kv_unified && self.kv_unified.unwrap_or(self.parallel < 0)
    }

    /// `(n_ctx, n_ctx_slot)` for a model trained on `n_ctx_train` tokens: `-c 0` is the
    /// training context; a slot gets the whole pool when unified, else its share, and never
    /// more than the training context (llama.cpp's `n_ctx_slot()`).
    pub fn context_sizes(&self, n_ctx_train: usize) -> (usize, usize) {
        let n_ctx = match self.ctx_size {
            0 => n_ctx_train,
            n => n,
        };
        let per_seq = match self.kv_unified() {
            true => n_ctx,
            false => n_ctx / self.n_parallel(),
        };
        (n_ctx, per_seq.min(n_ctx_train.max(1)))
    }

    /// The model names (`-a`, comma list), trimmed, without empties, sorted and deduplicated
    /// as llama.cpp's `std::set`.
    pub fn aliases(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<String> = self
            .alias
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        set.into_iter().collect()
    }

    /// Compute threads, if given as a positive count.
    pub fn n_threads(&self) -> Option<usize> {
        self.threads
            .filter(|&t| t > 0)
            .and_then(|t| usize::try_from(t).ok())
    }

    /// Whether CPU weights are repacked (`--no-repack` / `--repack=false` turn it off).
    pub fn repack_enabled(&self) -> bool {
        !self.no_repack && self.repack.unwrap_or(true)
    }

    /// Whether flash attention is used (`auto` resolves to on, as llama.cpp does on CPU).
    pub fn flash_attn_enabled(&self) -> bool {
        !self.no_flash_attn && self.flash_attn != FlashAttn::Off
    }

    /// Whether `GET /` serves the live view (llama.cpp's default for its UI: yes).
    pub fn webui_enabled(&self) -> bool {
        !self.endpoints.no_webui && self.endpoints.webui.unwrap_or(true)
    }

    /// `--sleep-idle-seconds` as a duration (`None`: never sleep).
    pub fn sleep_idle(&self) -> Option<std::time::Duration> {
        u64::try_from(self.endpoints.sleep_idle_seconds)
            .ok()
            .map(std::time::Duration::from_secs)
    }

    /// Whether `GET /slots` is served (llama.cpp's default: yes).
    pub fn slots_enabled(&self) -> bool {
        !self.endpoints.no_slots && self.endpoints.slots.unwrap_or(true)
    }

    /// Sampling parameters for what a request leaves unset: llama.cpp's defaults, overridden
    /// by the sampling flags.
    pub fn sampling_defaults(&self) -> Result<SamplingParams, String> {
        let d = SamplingParams::default();
        let f = &self.sampling;
        let p = SamplingParams {
            temperature: f.temp.unwrap_or(d.temperature),
            top_k: f.top_k.unwrap_or(d.top_k),
            top_p: f.top_p.unwrap_or(d.top_p),
            min_p: f.min_p.unwrap_or(d.min_p),
            repeat_penalty: f.repeat_penalty.unwrap_or(d.repeat_penalty),
            frequency_penalty: f.frequency_penalty.unwrap_or(d.frequency_penalty),
            presence_penalty: f.presence_penalty.unwrap_or(d.presence_penalty),
            penalty_last_n: f.repeat_last_n.unwrap_or(d.penalty_last_n),
            seed: crate::api::params::request_seed(f.seed),
            n_probs: 0,
            ..d.clone()
        };
        p.validate().map_err(|e| format!("sampling flags: {e}"))?;
        Ok(p)
    }

    /// `--api-key` values plus the lines of `--api-key-file` (blank and `#` lines skipped).
    pub fn api_keys(&self) -> Result<Vec<String>, String> {
        let mut keys: Vec<String> = self
            .api_key
            .iter()
            .filter(|k| !k.is_empty())
            .cloned()
            .collect();
        if let Some(path) = &self.api_key_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --api-key-file {}: {e}", path.display()))?;
            keys.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|k| !k.is_empty() && !k.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests;
