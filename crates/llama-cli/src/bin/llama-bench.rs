//! `llama-bench`: prompt-processing and generation throughput, measured like llama.cpp's
//! llama-bench (pp = one N-token prompt batch into an empty cache, tg = N single-token decode
//! steps), plus model load time and peak RSS.

use clap::Parser;
use llama_core::context::default_threads;
use llama_core::kv_cache::KvCacheType;
use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "llama-bench",
    about = "Measure pp/tg throughput of a GGUF model"
)]
struct Args {
    #[arg(short = 'm', long = "model")]
    model: String,
    #[arg(short = 't', long = "threads", default_value_t = default_threads())]
    threads: usize,
    /// Prompt tokens per pp run (0 skips pp).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    n_prompt: usize,
    /// Generated tokens per tg run (0 skips tg).
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    n_gen: usize,
    /// Repetitions (after one warm-up run).
    #[arg(short = 'r', long = "repetitions", default_value_t = 3)]
    reps: usize,
    #[arg(long = "n-gpu-layers", visible_alias = "ngl", default_value_t = 0)]
    n_gpu_layers: usize,
    /// Keep CPU weights in the mapped file (no repacking into the SIMD layout).
    #[arg(long = "no-repack", visible_alias = "nr")]
    no_repack: bool,
    #[arg(long = "no-flash-attn")]
    no_flash_attn: bool,
    /// KV cache type for K (llama-bench's `-ctk`; one type, not a list).
    #[arg(long = "cache-type-k", default_value = "f16",
          value_parser = KvCacheType::parse_arg)]
    cache_type_k: KvCacheType,
    /// KV cache type for V (`-ctv`); a quantized V needs flash attention.
    #[arg(long = "cache-type-v", default_value = "f16",
          value_parser = KvCacheType::parse_arg)]
    cache_type_v: KvCacheType,
    /// Full-size cache for sliding-window layers (llama.cpp's `--swa-full`)
    #[arg(long = "swa-full")]
    swa_full: bool,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Mean and sample standard deviation.
fn stats(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Deterministic pseudo-random token ids (llama-bench also feeds random tokens).
fn tokens(n: usize, n_vocab: usize, seed: u64) -> Vec<u32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % n_vocab as u64) as u32
        })
        .collect()
}

fn run_pp(ctx: &mut Context, n: usize, seed: u64) -> Result<f64, llama_core::Error> {
    ctx.clear();
    let mut b = Batch::with_capacity(n);
    b.add_sequence(&tokens(n, ctx.n_vocab(), seed), 0, 0, true);
    let t = Instant::now();
    ctx.decode(&b)?;
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

fn run_tg(ctx: &mut Context, n: usize, seed: u64) -> Result<f64, llama_core::Error> {
    ctx.clear();
    let toks = tokens(n, ctx.n_vocab(), seed);
    let mut b = Batch::with_capacity(1);
    let t = Instant::now();
    for (i, &tok) in toks.iter().enumerate() {
        b.clear();
        b.add(tok, i as i32, 0, true);
        ctx.decode(&b)?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    status_mib("VmHWM:")
}

/// Resident set size now, in MiB (Linux `VmRSS`).
fn rss_mib() -> Option<f64> {
    status_mib("VmRSS:")
}

fn status_mib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn measure(
    a: &Args,
    f: impl Fn(&mut Context, u64) -> Result<f64, llama_core::Error>,
    ctx: &mut Context,
) -> Result<Vec<f64>, llama_core::Error> {
    f(ctx, 999)?; // warm-up
    (0..a.reps).map(|r| f(ctx, r as u64 + 1)).collect()
}

fn main() -> ExitCode {
    // The engine's and ggml's warnings and errors on stderr, bare, as ggml printed them.
    let _ = llama_otel::logs::init(llama_otel::logs::LogSettings::for_cli());
    // llama-bench's `-ctk`/`-ctv` have several letters, which clap cannot spell as shorts.
    let argv = std::env::args().map(|a| match a.as_str() {
        "-ctk" => "--cache-type-k".to_string(),
        "-ctv" => "--cache-type-v".to_string(),
        _ => a,
    });
    let a = Args::parse_from(argv);
    match run(&a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llama-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &Args) -> Result<(), llama_core::Error> {
    let t = Instant::now();
    let model = Arc::new(Model::load(
        &a.model,
        &ModelParams {
            n_gpu_layers: a.n_gpu_layers,
            no_repack: a.no_repack,
            ..ModelParams::default()
        },
        &mut |_, _| {},
    )?);
    let rss_model = rss_mib();
    let params = ContextParams {
        n_ctx: (a.n_prompt.max(a.n_gen)).max(16),
        n_ubatch: 512,
        n_threads: a.threads,
        flash_attn: !a.no_flash_attn,
        swa_full: a.swa_full,
        type_k: a.cache_type_k,
        type_v: a.cache_type_v,
        ..ContextParams::default()
    };
    let mut ctx = Context::new(model.clone(), params)?;
    let load_s = t.elapsed().as_secs_f64();
    let rss_context = rss_mib();
    let pp = if a.n_prompt > 0 {
        measure(a, |c, s| run_pp(c, a.n_prompt, s), &mut ctx)?
    } else {
        vec![]
    };
    let rss_pp = rss_mib();
    let tg = if a.n_gen > 0 {
        measure(a, |c, s| run_tg(c, a.n_gen, s), &mut ctx)?
    } else {
        vec![]
    };
    let ((pp_m, pp_sd), (tg_m, tg_sd)) = (stats(&pp), stats(&tg));
    let rss = peak_rss_mib().unwrap_or(0.0);
    if a.json {
        let j = serde_json::json!({
            "pp_tps": pp_m, "pp_sd": pp_sd, "tg_tps": tg_m, "tg_sd": tg_sd,
            "load_s": load_s, "peak_rss_mib": rss, "threads": a.threads,
            "n_prompt": a.n_prompt, "n_gen": a.n_gen, "reps": a.reps, "model": model.info().name,
            "type_k": a.cache_type_k.name(), "type_v": a.cache_type_v.name(),
            "memory": ctx.memory().lines(),
            "rss_mib": {"model": rss_model, "context": rss_context, "pp": rss_pp, "end": rss_mib()},
        });
        println!("{j}");
    } else {
        println!(
            "model: {} ({}), threads {}, KV cache K {} V {}",
            model.info().name,
            model.info().backend,
            a.threads,
            a.cache_type_k,
            a.cache_type_v
        );
        println!("pp{:<5} {:>9.2} ± {:>6.2} t/s", a.n_prompt, pp_m, pp_sd);
        println!("tg{:<5} {:>9.2} ± {:>6.2} t/s", a.n_gen, tg_m, tg_sd);
        println!("load     {load_s:>9.3} s");
        println!("peak RSS {rss:>9.1} MiB");
        println!("RSS after load {rss_model:?}, context {rss_context:?}, pp {rss_pp:?} MiB");
        for line in ctx.memory().lines() {
            println!("memory   {line}");
        }
    }
    Ok(())
}
