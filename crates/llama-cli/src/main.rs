//! `llama-cli`: generate text or tokenize with a GGUF model from the command line.
//!
//! ```text
//! llama-cli -m MODEL -p PROMPT -n N [-t THREADS] [--temp T --top-k K --top-p P --min-p M --seed S] [--chat] [--json]
//! llama-cli tokenize -m MODEL -p TEXT [--parse-special] [--json]
//! ```

mod args;
mod progress;

use args::{Command, GenerateArgs, TokenizeArgs};
use llama_core::chat::{ChatMessage, ChatTemplate};
use llama_core::sampling::{top_logprobs, Sampler, SamplingParams};
use llama_core::vocab::Detokenizer;
use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(listing) = llama_core::devices::list_devices_if_asked(&argv, None) {
        return match listing {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("llama-cli: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // The engine's and ggml's warnings and errors on stderr, bare, as ggml printed them.
    let _ = llama_otel::logs::init(llama_otel::logs::LogSettings::for_cli());
    let result = match args::parse() {
        Ok(Command::Generate(a)) => generate(&a),
        Ok(Command::Tokenize(a)) => tokenize(&a),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llama-cli: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// `backends A+B+CPU (weights X MiB + Y MiB + Z MiB), N layers offloaded`, then one
/// `  backend layers bytes` line per backend ([`llama_core::ModelInfo::device_split_lines`]).
fn placement_text(info: &llama_core::ModelInfo) -> String {
    let mib: Vec<String> = (info.weight_bytes.iter())
        .map(|b| format!("{} MiB", b >> 20))
        .collect();
    let mut out = format!(
        "backends {} (weights {}), {} layers offloaded\n",
        info.backend,
        mib.join(" + "),
        info.n_gpu_layers
    );
    for line in info.device_split_lines() {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

fn load_model(path: &str, params: &ModelParams) -> CliResult<Arc<Model>> {
    let mut bar = progress::Progress::new("loading model");
    let model = Model::load(path, params, &mut |done, total| bar.update(done, total))?;
    bar.finish();
    Ok(Arc::new(model))
}

fn tokenize(a: &TokenizeArgs) -> CliResult<()> {
    let model = load_model(&a.model, &ModelParams::default())?;
    let tokens = model
        .vocab()
        .tokenize(&a.prompt, a.add_special, a.parse_special);
    if a.json {
        println!("{}", serde_json::json!({ "tokens": tokens }));
    } else {
        for t in &tokens {
            let piece =
                String::from_utf8_lossy(model.vocab().token_to_piece(*t, true)).into_owned();
            println!("{t:>6} -> {piece:?}");
        }
    }
    Ok(())
}

/// The prompt as the model sees it: raw text, or rendered with the model's chat template.
fn prompt_text(model: &Model, a: &GenerateArgs) -> CliResult<String> {
    if !a.chat {
        return Ok(a.prompt.clone());
    }
    let file_template = match &a.chat_template_file {
        Some(path) => {
            let vocab = model.vocab();
            let text = |id: Option<u32>| id.and_then(|t| vocab.token_text(t)).unwrap_or("");
            let t = ChatTemplate::from_file(path, text(vocab.bos()), text(vocab.eos()))?;
            Some(t.with_add_special(vocab.add_bos(), vocab.add_eos()))
        }
        None => None,
    };
    let template = file_template
        .as_ref()
        .or(model.chat_template())
        .ok_or("the model has no chat template (give --chat-template-file)")?;
    let mut messages = Vec::new();
    if let Some(system) = &a.system_prompt {
        messages.push(ChatMessage::new("system", system.clone()));
    }
    messages.push(ChatMessage::new("user", a.prompt.clone()));
    Ok(template.render(&messages, true)?)
}

fn generate(a: &GenerateArgs) -> CliResult<()> {
    if let Some(servers) = &a.rpc {
        llama_core::devices::connect_rpc(servers)?;
    }
    let model = load_model(
        &a.model,
        &ModelParams {
            n_gpu_layers: a.n_gpu_layers,
            no_repack: a.no_repack,
            split_mode: a.split_mode,
            tensor_split: a.tensor_split.clone().map(|t| t.0).unwrap_or_default(),
            main_gpu: a.main_gpu,
        },
    )?;
    if a.n_gpu_layers > 0 {
        // Where the weights went: `-ngl` without a GPU (or `--rpc`) silently stays on the CPU.
        eprint!("{}", placement_text(model.info()));
    }
    let text = prompt_text(&model, a)?;
    // BOS as the model asks, for chat too: templates drop a leading BOS text when the vocabulary
    // adds it (as llama.cpp's server tokenizes chat prompts).
    let prompt = model.vocab().tokenize(&text, true, true);
    if prompt.is_empty() {
        return Err("the prompt tokenizes to nothing".into());
    }
    let n_ctx = a.ctx_size.max(prompt.len() + a.n_predict);
    let params = ContextParams {
        n_ctx,
        n_threads: a.threads,
        swa_full: a.swa_full,
        flash_attn: a.flash_attn,
        type_k: a.cache_type_k,
        type_v: a.cache_type_v,
        ..ContextParams::default()
    };
    let mut ctx = Context::new(model.clone(), params)?;
    let out = run_generation(&mut ctx, &model, &prompt, a)?;
    if a.json {
        let mut json =
            serde_json::json!({ "prompt_tokens": prompt, "tokens": out.tokens, "text": out.text });
        if a.n_probs > 0 {
            json["probs"] = serde_json::json!(out.probs);
        }
        println!("{json}");
    } else {
        println!();
    }
    Ok(())
}

/// What one generation produced.
struct Generated {
    tokens: Vec<u32>,
    text: String,
    /// Top `--n-probs` (token, log-probability) pairs at each generated position.
    probs: Vec<Vec<(u32, f32)>>,
}

/// Decodes the prompt, then samples up to `n_predict` tokens (streamed to stdout unless `--json`).
fn run_generation(
    ctx: &mut Context,
    model: &Model,
    prompt: &[u32],
    a: &GenerateArgs,
) -> CliResult<Generated> {
    let vocab = model.vocab();
    let mut sampler = Sampler::new(SamplingParams {
        temperature: a.temp,
        top_k: a.top_k,
        top_p: a.top_p,
        min_p: a.min_p,
        seed: a.seed,
        ..SamplingParams::default()
    });
    for &t in prompt {
        sampler.accept(t);
    }
    let mut batch = Batch::with_capacity(prompt.len());
    batch.add_sequence(prompt, 0, 0, true);
    ctx.decode(&batch)?;
    let mut row = prompt.len() - 1;
    let (mut tokens, mut text, mut probs) = (Vec::new(), String::new(), Vec::new());
    let mut detok = Detokenizer::new(false);
    let mut stdout = std::io::stdout();
    for step in 0..a.n_predict {
        let logits = ctx.logits(row).ok_or("missing logits")?;
        if a.n_probs > 0 {
            probs.push(top_logprobs(logits, a.n_probs));
        }
        let token = sampler.sample(logits)?;
        sampler.accept(token);
        if vocab.is_eog(token) {
            break;
        }
        tokens.push(token);
        let piece = detok.push(vocab, token);
        if !a.json {
            write!(stdout, "{piece}")?;
            stdout.flush()?;
        }
        text.push_str(&piece);
        batch.clear();
        batch.add(token, (prompt.len() + step) as i32, 0, true);
        ctx.decode(&batch)?;
        row = 0;
    }
    text.push_str(&detok.finish());
    Ok(Generated {
        tokens,
        text,
        probs,
    })
}
