//! Command-line arguments of `llama-cli` (llama.cpp's spellings where they exist).

use clap::{Args, Parser};
use llama_core::context::default_threads;
use llama_core::kv_cache::KvCacheType;

/// `llama-cli [generate options]`.
#[derive(Parser, Debug)]
#[command(
    name = "llama-cli",
    version,
    about = "Generate text with a GGUF model (`llama-cli tokenize --help` for tokenizing)"
)]
struct GenerateCli {
    #[command(flatten)]
    args: GenerateArgs,
}

/// `llama-cli tokenize [options]`.
#[derive(Parser, Debug)]
#[command(
    name = "llama-cli tokenize",
    version,
    about = "Print the token ids of a text"
)]
struct TokenizeCli {
    #[command(flatten)]
    args: TokenizeArgs,
}

/// What to do.
#[derive(Debug)]
pub enum Command {
    Generate(GenerateArgs),
    Tokenize(TokenizeArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Path to a GGUF model.
    #[arg(short = 'm', long = "model", required = true)]
    pub model: String,
    /// The prompt (with --chat: the user message).
    #[arg(short = 'p', long = "prompt", required = true)]
    pub prompt: String,
    /// Tokens to generate at most.
    #[arg(short = 'n', long = "n-predict", default_value_t = 128)]
    pub n_predict: usize,
    /// CPU threads.
    #[arg(short = 't', long = "threads", default_value_t = default_threads())]
    pub threads: usize,
    /// Context size (grown to fit prompt + n-predict).
    #[arg(short = 'c', long = "ctx-size", default_value_t = 4096)]
    pub ctx_size: usize,
    /// Full-size cache for sliding-window layers (default: only their window, as llama.cpp).
    #[arg(long = "swa-full")]
    pub swa_full: bool,
    /// Layers to offload to GPUs or RPC devices, counting the output layer (llama.cpp's `-ngl`).
    #[arg(long = "n-gpu-layers", visible_alias = "ngl", default_value_t = 0)]
    pub n_gpu_layers: usize,
    /// ggml RPC servers to use as devices, `HOST:PORT[,HOST:PORT...]` (needs the `rpc` feature).
    #[arg(long = "rpc")]
    pub rpc: Option<String>,
    /// Splitting over several devices: `none` (only --main-gpu), `layer`, `row` (refused).
    #[arg(long = "split-mode", visible_alias = "sm", default_value = "layer")]
    pub split_mode: llama_core::model::SplitMode,
    /// Fraction of the offloaded layers per device, e.g. `3,1` (default: by free memory).
    #[arg(long = "tensor-split", visible_alias = "ts")]
    pub tensor_split: Option<llama_core::model::TensorSplit>,
    /// The device for the whole model with `--split-mode none`.
    #[arg(
        long = "main-gpu",
        visible_alias = "mg",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub main_gpu: i32,
    /// Keep CPU weights in the mapped file (no repacking into the SIMD layout).
    #[arg(long = "no-repack", visible_alias = "nr")]
    pub no_repack: bool,
    /// Flash attention `-fa`: on, off or auto (auto: on, as llama.cpp resolves it on CPU).
    #[arg(long = "flash-attn", default_value = "auto",
          value_parser = parse_flash_attn, allow_negative_numbers = true,
          action = clap::ArgAction::Set)]
    pub flash_attn: bool,
    /// KV cache data type for K (`-ctk`): f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1.
    #[arg(long = "cache-type-k", default_value = "f16",
          value_parser = KvCacheType::parse_arg)]
    pub cache_type_k: KvCacheType,
    /// KV cache data type for V (`-ctv`), same values; a quantized V needs flash attention.
    #[arg(long = "cache-type-v", default_value = "f16",
          value_parser = KvCacheType::parse_arg)]
    pub cache_type_v: KvCacheType,
    /// Sampling temperature; 0 is greedy.
    #[arg(long = "temp", default_value_t = 0.8)]
    pub temp: f32,
    #[arg(long = "top-k", default_value_t = 40)]
    pub top_k: i32,
    #[arg(long = "top-p", default_value_t = 0.95)]
    pub top_p: f32,
    #[arg(long = "min-p", default_value_t = 0.05)]
    pub min_p: f32,
    /// RNG seed (random when absent).
    #[arg(short = 's', long = "seed")]
    pub seed: Option<u64>,
    /// Render the prompt as a user message with the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// With --chat: a system message before the user's.
    #[arg(long = "system-prompt", visible_alias = "sys")]
    pub system_prompt: Option<String>,
    /// With --chat: a Jinja template file instead of the model's own template.
    #[arg(long = "chat-template-file")]
    pub chat_template_file: Option<String>,
    /// Print one JSON object {"prompt_tokens", "tokens", "text"} instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// With --json: the N most likely tokens and their log-probabilities (before sampling) at
    /// every generated position, as `"probs": [[[id, logprob], …], …]`.
    #[arg(long = "n-probs", default_value_t = 0)]
    pub n_probs: usize,
}

#[derive(Args, Debug)]
pub struct TokenizeArgs {
    #[arg(short = 'm', long = "model")]
    pub model: String,
    #[arg(short = 'p', long = "prompt")]
    pub prompt: String,
    /// Parse special tokens such as <|im_start|> in the text.
    #[arg(long)]
    pub parse_special: bool,
    /// Add BOS/EOS as the model asks.
    #[arg(long)]
    pub add_special: bool,
    /// Print {"tokens": [...]}.
    #[arg(long)]
    pub json: bool,
}

/// `-fa`: on|off|auto as llama.cpp reads it (also enabled|disabled, true|false, 1|0, -1 = auto);
/// auto is on, as llama.cpp resolves it on the CPU.
fn parse_flash_attn(s: &str) -> Result<bool, String> {
    match s {
        "on" | "enabled" | "true" | "1" | "auto" | "-1" => Ok(true),
        "off" | "disabled" | "false" | "0" => Ok(false),
        _ => Err(format!(
            "unknown value for --flash-attn: '{s}' (on|off|auto)"
        )),
    }
}

/// Parses the process arguments (clap prints help/version and exits by itself).
pub fn parse() -> Result<Command, Box<dyn std::error::Error>> {
    let argv: Vec<String> = long_forms(std::env::args().collect());
    if argv.get(1).map(String::as_str) == Some("tokenize") {
        let rest =
            std::iter::once("llama-cli tokenize".to_string()).chain(argv.into_iter().skip(2));
        return Ok(Command::Tokenize(TokenizeCli::parse_from(rest).args));
    }
    Ok(Command::Generate(GenerateCli::parse_from(argv).args))
}

/// llama.cpp spells some short flags with several letters (`-ngl 99`), which clap would read as
/// `-n gl`: they are rewritten to their long forms first.
fn long_forms(argv: Vec<String>) -> Vec<String> {
    const SHORTS: &[(&str, &str)] = &[
        ("-ngl", "--n-gpu-layers"),
        ("-fa", "--flash-attn"),
        ("-ctk", "--cache-type-k"),
        ("-ctv", "--cache-type-v"),
        ("-sm", "--split-mode"),
        ("-ts", "--tensor-split"),
        ("-mg", "--main-gpu"),
        ("-nr", "--no-repack"),
    ];
    argv.into_iter()
        .map(|a| {
            let (flag, value) = a
                .split_once('=')
                .map_or((a.as_str(), None), |(f, v)| (f, Some(v)));
            match SHORTS.iter().find(|(short, _)| *short == flag) {
                Some((_, long)) => value.map_or(long.to_string(), |v| format!("{long}={v}")),
                None => a,
            }
        })
        .collect()
}
