//! `cargo xtask bench`: pp/tg throughput, load time and peak RSS of the engine (llama-bench
//! style), optionally against llama.cpp's own `llama-bench` in the same run.

use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Engine throughput, load time and peak RSS, llama-bench style.
///
/// Measures prompt processing (one N-token batch) and generation (N single-token steps) like
/// llama-bench, plus model load time and peak RSS. With --llama-cpp (or LLAMA_CPP_BENCH) pointing
/// at llama.cpp's llama-bench, runs it with the same settings in the same run, alternating, and
/// prints the ratios.
#[derive(Debug, clap::Args)]
pub struct Cli {
    /// GGUF model [default: models/SmolLM2-135M-Instruct.Q4_1.gguf]
    #[arg(short = 'm', long = "model", value_name = "MODEL")]
    model: Option<String>,
    /// Threads
    #[arg(short = 't', value_name = "THREADS", default_value_t = 2)]
    threads: usize,
    /// Prompt tokens (pp)
    #[arg(short = 'p', value_name = "N", default_value_t = 512)]
    n_prompt: usize,
    /// Generated tokens (tg)
    #[arg(short = 'n', value_name = "N", default_value_t = 128)]
    n_gen: usize,
    /// Repetitions
    #[arg(short = 'r', value_name = "N", default_value_t = 3)]
    reps: usize,
    /// Print one JSON summary object instead of the table
    #[arg(long)]
    json: bool,
    /// llama.cpp's llama-bench, to compare against [env: LLAMA_CPP_BENCH]
    #[arg(long = "llama-cpp", value_name = "PATH")]
    llama_cpp: Option<PathBuf>,
}

struct Opts {
    model: String,
    threads: usize,
    n_prompt: usize,
    n_gen: usize,
    reps: usize,
    json: bool,
    llama_cpp: Option<PathBuf>,
}

fn parse(a: Cli) -> Result<Opts> {
    Ok(Opts {
        model: match a.model {
            Some(m) => m,
            None => default_model()?,
        },
        threads: a.threads,
        n_prompt: a.n_prompt,
        n_gen: a.n_gen,
        reps: a.reps,
        json: a.json,
        llama_cpp: a
            .llama_cpp
            .or_else(|| std::env::var_os("LLAMA_CPP_BENCH").map(PathBuf::from)),
    })
}

fn default_model() -> Result<String> {
    let p = util::workspace_root().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !p.exists() {
        bail!(
            "no -m given and {} is missing (cargo xtask fetch-model)",
            p.display()
        );
    }
    Ok(p.to_string_lossy().into_owned())
}

pub fn run(args: Cli) -> Result<()> {
    let o = parse(args)?;
    util::run(util::cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "llama-cli",
        "--bin",
        "llama-bench",
    ]))?;
    let ours_bin = util::target_dir(&util::workspace_root()).join("release/llama-bench");
    // Alternate single-repetition runs of both engines so drift on a noisy machine hits both.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..o.reps {
        ours.push(run_ours(&ours_bin, &o)?);
        if let Some(bin) = &o.llama_cpp {
            theirs.push(run_llama_cpp(bin, &o)?);
        }
    }
    let summary = summarize(&ours, &theirs);
    if o.json {
        println!("{summary}");
    } else {
        print_table(&summary, &o);
    }
    Ok(())
}

/// One repetition of our llama-bench (it warms up itself).
fn run_ours(bin: &Path, o: &Opts) -> Result<Value> {
    let mut cmd = Command::new(bin);
    cmd.args([
        "-m",
        &o.model,
        "-t",
        &o.threads.to_string(),
        "-p",
        &o.n_prompt.to_string(),
    ])
    .args(["-n", &o.n_gen.to_string(), "-r", "1", "--json"]);
    let out = util::output(&mut cmd)?;
    serde_json::from_str(out.trim()).context("llama-bench printed no JSON")
}

/// One repetition of llama.cpp's llama-bench: throughput from its JSON, peak RSS by polling
/// `/proc`, and the process time of a load-only run as its load time.
fn run_llama_cpp(bin: &Path, o: &Opts) -> Result<Value> {
    let common = [
        "-m",
        &o.model,
        "-t",
        &o.threads.to_string(),
        "-r",
        "1",
        "-o",
        "json",
    ];
    let mut cmd = Command::new(bin);
    cmd.args(common)
        .args(["-p", &o.n_prompt.to_string(), "-n", &o.n_gen.to_string()]);
    let (out, rss) = output_with_peak_rss(&mut cmd)?;
    let results: Value =
        serde_json::from_str(&out).context("llama.cpp llama-bench printed no JSON")?;
    let tps = |want_gen: bool| -> f64 {
        results
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| (r["n_gen"].as_u64().unwrap_or(0) > 0) == want_gen)
            .and_then(|r| r["avg_ts"].as_f64())
            .unwrap_or(0.0)
    };
    let t = Instant::now();
    let mut load = Command::new(bin);
    load.args(common).args(["-p", "1", "-n", "0"]);
    output_with_peak_rss(&mut load)?;
    Ok(
        json!({"pp_tps": tps(false), "tg_tps": tps(true), "load_s": t.elapsed().as_secs_f64(), "peak_rss_mib": rss}),
    )
}

/// Runs `cmd`, sampling its `VmHWM` until it exits; returns stdout and the peak RSS in MiB.
fn output_with_peak_rss(cmd: &mut Command) -> Result<(String, f64)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("could not start `{}`", util::display(cmd)))?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0f64;
    let mut stdout = child.stdout.take().context("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    while child.try_wait()?.is_none() {
        if let Some(kib) = read_hwm_kib(&status_path) {
            peak_kib = peak_kib.max(kib);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = reader
        .join()
        .map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
    Ok((out, peak_kib / 1024.0))
}

fn read_hwm_kib(path: &str) -> Option<f64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn field(runs: &[Value], key: &str) -> Vec<f64> {
    runs.iter().filter_map(|r| r[key].as_f64()).collect()
}

fn summarize(ours: &[Value], theirs: &[Value]) -> Value {
    let mut s = json!({});
    for key in ["pp_tps", "tg_tps", "load_s", "peak_rss_mib"] {
        let (m, sd) = util::mean_sd(&field(ours, key));
        s[key] = json!(m);
        s[format!("{key}_sd")] = json!(sd);
        if !theirs.is_empty() {
            let (tm, tsd) = util::mean_sd(&field(theirs, key));
            s[format!("llama_cpp_{key}")] = json!(tm);
            s[format!("llama_cpp_{key}_sd")] = json!(tsd);
            s[format!("ratio_{key}")] = json!(if tm > 0.0 { m / tm } else { 0.0 });
        }
    }
    s
}

fn print_table(s: &Value, o: &Opts) {
    let rows = [
        (format!("pp{}", o.n_prompt), "pp_tps", "t/s"),
        (format!("tg{}", o.n_gen), "tg_tps", "t/s"),
        ("load".into(), "load_s", "s"),
        ("peak RSS".into(), "peak_rss_mib", "MiB"),
    ];
    println!(
        "{:<10} {:>18} {:>18} {:>7}",
        "test", "ours", "llama.cpp", "ratio"
    );
    for (name, key, unit) in rows {
        let f = |k: &str| s[k].as_f64().unwrap_or(0.0);
        let ours = format!("{:.2} ± {:.2} {unit}", f(key), f(&format!("{key}_sd")));
        let theirs = s
            .get(format!("llama_cpp_{key}"))
            .map_or("-".to_string(), |_| {
                format!(
                    "{:.2} ± {:.2} {unit}",
                    f(&format!("llama_cpp_{key}")),
                    f(&format!("llama_cpp_{key}_sd"))
                )
            });
        let ratio = s.get(format!("ratio_{key}")).map_or("-".to_string(), |r| {
            format!("{:.3}", r.as_f64().unwrap_or(0.0))
        });
        println!("{name:<10} {ours:>18} {theirs:>18} {ratio:>7}");
    }
    println!(
        "({} threads, {} repetitions; llama.cpp load = process time of a 1-token run)",
        o.threads, o.reps
    );
}
