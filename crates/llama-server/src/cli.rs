//! Command-line flags, spelled like llama.cpp's `llama-server` where it has them.

use clap::Parser;
use std::path::PathBuf;

/// OpenAI- and llama.cpp-compatible LLM server with continuous batching.
#[derive(Debug, Clone, Parser)]
#[command(name = "llama-server", version, about)]
pub struct Cli {
    /// Model file (GGUF).
    #[arg(short = 'm', long = "model", env = "LLAMA_ARG_MODEL")]
    pub model: PathBuf,
    /// Total KV-cache size in tokens, shared by all slots (each slot gets ctx-size / parallel).
    #[arg(short = 'c', long = "ctx-size", default_value_t = 4096)]
    pub ctx_size: usize,
    /// Number of slots (requests decoded together).
    #[arg(long = "parallel", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: u32,
    /// CPU threads for decoding (default: all available).
    #[arg(short = 't', long = "threads")]
    pub threads: Option<usize>,
    /// Layers to offload to the GPU.
    #[arg(long = "n-gpu-layers", alias = "gpu-layers", default_value_t = 0)]
    pub n_gpu_layers: usize,
    /// Keep CPU weights in the mapped file (no repacking into the SIMD layout).
    #[arg(long = "no-repack", visible_alias = "nr")]
    pub no_repack: bool,
    /// Most tokens in one decode step (prompt chunks plus one token per generating slot).
    #[arg(short = 'b', long = "batch-size", default_value_t = 2048, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Micro-batch size: tokens computed as one graph.
    #[arg(long = "ubatch-size", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    pub ubatch_size: u32,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8080)]
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
    /// Server-wide cap on generated tokens per request (-1: none but the slot's context).
    #[arg(short = 'n', long = "n-predict", alias = "predict", default_value_t = -1, allow_negative_numbers = true)]
    pub n_predict: i64,
    /// Model name reported by /v1/models and accepted in requests.
    #[arg(short = 'a', long)]
    pub alias: Option<String>,
    /// Requests allowed to wait for a free slot; more get 503 with Retry-After.
    #[arg(long = "queue-size", default_value_t = 64)]
    pub queue_size: usize,
    /// Use the plain attention path instead of flash attention.
    #[arg(long = "no-flash-attn", alias = "no-fa")]
    pub no_flash_attn: bool,
    /// Pack prompt chunks and generated tokens into one decode call, as llama.cpp does: better
    /// prompt throughput under load, but a request's output may then depend on its neighbours.
    #[arg(long = "mixed-batches")]
    pub mixed_batches: bool,
    /// Seconds allowed for reading a request's headers and body.
    #[arg(long = "timeout", alias = "to", default_value_t = 600)]
    pub timeout: u64,
    /// Seconds in-flight requests get to finish after Ctrl-C / SIGTERM before they are cancelled.
    #[arg(long = "shutdown-timeout", default_value_t = 10)]
    pub shutdown_timeout: u64,
    /// Largest accepted request body in bytes (larger ones get 413).
    #[arg(long = "max-body-size", default_value_t = 8 * 1024 * 1024)]
    pub max_body_size: usize,
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
    #[arg(long = "chat-template-kwargs", env = "LLAMA_ARG_CHAT_TEMPLATE_KWARGS", value_parser = parse_kwargs)]
    pub chat_template_kwargs: Option<serde_json::Map<String, serde_json::Value>>,
}

fn parse_kwargs(s: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(s) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("--chat-template-kwargs must be a JSON object".into()),
        Err(e) => Err(format!("--chat-template-kwargs is not valid JSON: {e}")),
    }
}

impl Cli {
    /// Tokens each slot may hold (llama.cpp: n_ctx / n_parallel).
    pub fn n_ctx_slot(&self) -> usize {
        self.ctx_size / self.parallel as usize
    }
}

/// llama.cpp spells two short flags with two letters (`-np`, `-ngl`, `-ub`); clap cannot, so
/// they are rewritten to their long forms before parsing.
pub fn normalize_args(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let long = match a.as_str() {
                "-np" => "--parallel",
                "-ngl" => "--n-gpu-layers",
                "-ub" => "--ubatch-size",
                _ => return a,
            };
            long.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let args = normalize_args(args.iter().map(|s| s.to_string()));
        Cli::try_parse_from(args).expect("parses")
    }

    #[test]
    fn llama_cpp_spellings_parse() {
        let cli = parse(&[
            "llama-server",
            "-m",
            "m.gguf",
            "-np",
            "2",
            "-ngl",
            "99",
            "-ub",
            "128",
            "-c",
            "1024",
            "-n",
            "16",
        ]);
        assert_eq!(cli.parallel, 2);
        assert_eq!(cli.n_gpu_layers, 99);
        assert_eq!(cli.ubatch_size, 128);
        assert_eq!(cli.n_ctx_slot(), 512);
        assert_eq!(cli.n_predict, 16);
    }

    #[test]
    fn defaults_match_llama_cpp() {
        let cli = parse(&["llama-server", "-m", "m.gguf"]);
        assert_eq!(
            (cli.ctx_size, cli.parallel, cli.batch_size, cli.ubatch_size),
            (4096, 4, 2048, 512)
        );
        assert_eq!((cli.host.as_str(), cli.port), ("127.0.0.1", 8080));
        assert!(!cli.no_flash_attn);
        assert_eq!(cli.n_predict, -1);
        assert!(!cli.otel_ggml_ops, "ggml op timing is opt-in");
        assert!(parse(&["llama-server", "-m", "m.gguf", "--otel-ggml-ops"]).otel_ggml_ops);
    }
}
