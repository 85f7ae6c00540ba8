//! `cargo xtask bench-embed`: embedding throughput (sentences/s) of our llama-server's
//! `/v1/embeddings`, optionally against llama.cpp's `llama-server --embedding` on the same batch.

use crate::http;
use crate::stack::process::{free_port, target_dir, wait_http, Proc};
use crate::util::{self, TempDir};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Embedding throughput: sentences/s of /v1/embeddings on one batch.
///
/// Builds llama-server (release), then in each of -r rounds starts each server alone (ours, then
/// llama.cpp's `llama-server --embedding` with --llama-cpp or LLAMA_CPP_SERVER) with
/// `-t THREADS -b/-ub BATCH`, sends one warm-up batch and then the same batch of --batch inputs
/// (the texts of testdata/reference/nomic-embed.json, repeated) for --seconds, and reports
/// sentences/s as mean ± sd over the rounds and the ratio.
#[derive(Debug, clap::Args)]
pub struct Cli {
    /// GGUF embedding model [default: models/nomic-embed-text-v1.5.f16.gguf]
    #[arg(short = 'm', long = "model", value_name = "MODEL")]
    model: Option<String>,
    /// Threads of each server
    #[arg(short = 't', value_name = "N", default_value_t = 2)]
    threads: usize,
    /// Inputs per request
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch: usize,
    /// Seconds measured per server and round
    #[arg(long, value_name = "S", default_value_t = 8)]
    seconds: u64,
    /// Rounds
    #[arg(short = 'r', value_name = "N", default_value_t = 3)]
    reps: usize,
    /// llama.cpp's llama-server binary [env: LLAMA_CPP_SERVER]
    #[arg(long = "llama-cpp", value_name = "PATH")]
    llama_cpp: Option<PathBuf>,
}

/// The request body: the reference texts repeated up to `n` inputs.
fn batch_body(n: usize) -> Result<String> {
    let path = util::workspace_root().join("testdata/reference/nomic-embed.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let reference: Value = serde_json::from_str(&text)?;
    let texts: Vec<&str> = reference["embed"]
        .as_array()
        .context("no embed cases")?
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect();
    if texts.is_empty() {
        bail!("{} holds no texts", path.display());
    }
    let input: Vec<&str> = texts.iter().copied().cycle().take(n.max(1)).collect();
    Ok(json!({ "input": input }).to_string())
}

/// Starts `bin` alone, measures sentences/s for `seconds`, stops it.
fn measure(
    name: &'static str,
    cmd: &mut Command,
    body: &str,
    n: usize,
    o: &Cli,
    logs: &Path,
) -> Result<f64> {
    let port = free_port()?;
    cmd.args(["--port", &port.to_string(), "--host", "127.0.0.1"]);
    let mut proc = Proc::spawn(
        name,
        cmd,
        logs.join(format!("{}.log", name.replace(' ', "-"))),
    )?;
    let addr = format!("127.0.0.1:{port}");
    wait_http(&mut proc, &addr, "/health", Duration::from_secs(180))?;
    let post = || -> Result<()> {
        let r = http::post_json(&addr, "/v1/embeddings", body, Duration::from_secs(300))?;
        if r.status != 200 {
            bail!(
                "{name}: /v1/embeddings answered {}: {} (log: {})",
                r.status,
                r.body,
                proc.tail()
            );
        }
        Ok(())
    };
    post()?; // warm-up: the first batch allocates graphs and buffers
    let (start, mut sentences) = (Instant::now(), 0usize);
    while start.elapsed() < Duration::from_secs(o.seconds) {
        post()?;
        sentences += n;
    }
    Ok(sentences as f64 / start.elapsed().as_secs_f64())
}

pub fn run(o: Cli) -> Result<()> {
    let root = util::workspace_root();
    let model = root.join(
        o.model
            .as_deref()
            .unwrap_or("models/nomic-embed-text-v1.5.f16.gguf"),
    );
    if !model.is_file() {
        bail!(
            "{} not found (cargo xtask fetch-model nomic-embed, or pass -m)",
            model.display()
        );
    }
    let theirs = o
        .llama_cpp
        .clone()
        .or_else(|| std::env::var_os("LLAMA_CPP_SERVER").map(PathBuf::from));
    util::run(util::cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "llama-server",
        "--bin",
        "llama-server",
    ]))?;
    let ours = target_dir(&root).join("release/llama-server");
    let tmp = TempDir::new(Some(&target_dir(&root).join("tmp")), "bench-embed")?;
    let body = batch_body(o.batch)?;
    let (t, b) = (o.threads.to_string(), o.batch.max(512).to_string());
    let (mut us, mut them) = (Vec::new(), Vec::new());
    for _ in 0..o.reps.max(1) {
        let mut cmd = Command::new(&ours);
        cmd.arg("-m")
            .arg(&model)
            .args(["--embeddings", "-t", &t, "-b", &b, "-ub", &b]);
        us.push(measure(
            "llama-server",
            &mut cmd,
            &body,
            o.batch,
            &o,
            tmp.path(),
        )?);
        if let Some(bin) = &theirs {
            let mut cmd = Command::new(bin);
            cmd.arg("-m").arg(&model).args([
                "--embedding",
                "-t",
                &t,
                "-b",
                &b,
                "-ub",
                &b,
                "-np",
                "1",
            ]);
            them.push(measure(
                "llama.cpp llama-server",
                &mut cmd,
                &body,
                o.batch,
                &o,
                tmp.path(),
            )?);
        }
    }
    let (m, sd) = util::mean_sd(&us);
    println!(
        "{} inputs per request, {} threads, {} rounds of {} s",
        o.batch,
        o.threads,
        us.len(),
        o.seconds
    );
    println!("ours        {m:8.1} ± {sd:.1} sentences/s");
    if !them.is_empty() {
        let (m2, sd2) = util::mean_sd(&them);
        println!("llama.cpp   {m2:8.1} ± {sd2:.1} sentences/s");
        println!("ratio       {:8.3}", m / m2);
    }
    Ok(())
}
