//! The live part: the real server (built with `otel`) and a real Prometheus scraping it and
//! evaluating the real alert rules, under a load of every request kind while the queries run.

use super::evaluate::evaluate;
use super::promql::Query;
use super::{CheckOpts, Report};
use crate::http;
use crate::stack::files::{ALERTS, DEFAULT_MODEL};
use crate::stack::process::{free_port, target_dir, wait_http, which, Proc};
use crate::util::{self, TempDir};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(super) fn live(
    report: &mut Report,
    opts: &CheckOpts,
    queries: &[Query],
    variables: &[Query],
) -> Result<()> {
    let root = util::workspace_root();
    let model = opts
        .model
        .clone()
        .or_else(|| std::env::var("LLAMA_TEST_MODEL").ok());
    let model = model.map_or_else(|| root.join("models").join(DEFAULT_MODEL), |m| root.join(m));
    if !model.is_file() {
        bail!(
            "model {} not found: run `cargo xtask fetch-model` or pass --model",
            model.display()
        );
    }
    let server = match &opts.server {
        Some(s) => root.join(s),
        None => util::build_otel_server()?,
    };
    if !server.is_file() {
        bail!("llama-server: {} missing", server.display());
    }
    report.record(
        "llama-server built with otel",
        Ok(server.display().to_string()),
    );
    let prometheus =
        which("prometheus").context("prometheus not on PATH (Debian package `prometheus`)")?;
    let tmp = TempDir::new(Some(&target_dir(&root).join("tmp")), "observability")?;
    let (mut server_proc, addr) = start_server(report, &server, &model, tmp.path())?;
    let (_prom_proc, prom_addr) =
        start_prometheus(report, &prometheus, &root.join(ALERTS), &addr, tmp.path())?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        for worker in 0..5 {
            let (addr, stop) = (&addr, &stop);
            s.spawn(move || {
                (worker..)
                    .take_while(|_| !stop.load(Ordering::Relaxed))
                    .for_each(|i| request(addr, i))
            });
        }
        s.spawn(|| burst(&addr, &stop));
        let result = evaluate(
            report,
            &prom_addr,
            &addr,
            &mut server_proc,
            queries,
            variables,
        );
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Records whether `proc` answered on `addr` in time; fails when it did not.
fn started(report: &mut Report, what: &str, ready: Result<Duration>, addr: &str) -> Result<()> {
    let detail = ready
        .as_ref()
        .map(|d| format!("{addr}, ready in {}", util::duration(*d)));
    report.record(what, detail.map_err(|e| anyhow!("{e:#}")));
    ready.map(|_| ())
}

/// Starts the server with ggml op timing on (the ggml op time panel needs it) and waits until
/// it is healthy; returns it and its address.
fn start_server(
    report: &mut Report,
    bin: &Path,
    model: &Path,
    tmp: &Path,
) -> Result<(Proc, String)> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let args = format!("--host 127.0.0.1 --port {port} -c 2048 --parallel 2 --queue-size 2");
    let mut cmd = Command::new(bin);
    cmd.args(args.split_whitespace())
        .args(["--alias", "llama", "--otel-ggml-ops", "-m"])
        .arg(model);
    for (k, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("OTEL_")) {
        cmd.env_remove(k);
    }
    cmd.env("OTEL_SERVICE_NAME", "llama-server");
    let mut proc = Proc::spawn("llama-server", &mut cmd, tmp.join("server.log"))?;
    let ready = wait_http(&mut proc, &addr, "/health", Duration::from_secs(180));
    started(
        report,
        "llama-server starts and loads the model",
        ready,
        &addr,
    )?;
    Ok((proc, addr))
}

/// Starts Prometheus scraping the server every 2 s with the stack's alert rules; returns it and
/// its address.
fn start_prometheus(
    report: &mut Report,
    bin: &Path,
    alerts: &Path,
    addr: &str,
    tmp: &Path,
) -> Result<(Proc, String)> {
    let prom_addr = format!("127.0.0.1:{}", free_port()?);
    let config = format!(
        "global: {{scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 2s}}
rule_files: [{alerts:?}]
scrape_configs: [{{job_name: llama-server, static_configs: [{{targets: [\"{addr}\"]}}]}}]
"
    );
    let (config_file, data) = (tmp.join("prometheus.yml"), tmp.join("data"));
    std::fs::write(&config_file, config)?;
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--config.file={}", config_file.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .args([
            format!("--web.listen-address={prom_addr}"),
            "--enable-feature=exemplar-storage".into(),
        ]);
    let mut proc = Proc::spawn("prometheus", &mut cmd, tmp.join("prometheus.log"))?;
    let ready = wait_http(&mut proc, &prom_addr, "/-/ready", Duration::from_secs(60));
    started(
        report,
        "Prometheus starts with the alert rules",
        ready,
        &prom_addr,
    )?;
    Ok((proc, prom_addr))
}

/// The `i`-th request of a worker, its kind cycling with `i`: chat (plain and streamed), legacy
/// and llama.cpp completions, streams the client abandons, unknown models, bad JSON. More workers
/// than slots with a short queue, so requests queue and some are turned away.
fn request(addr: &str, i: usize) {
    let prompt = format!("Count from {} to {} in words.", i % 17, i % 17 + 5);
    let chat = |stream: bool, max: u32, model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max, "stream": stream, "temperature": 0.7, "seed": i})
        .to_string()
    };
    let (path, body) = match i % 8 {
        0..=2 => ("/v1/chat/completions", chat(false, 12, "llama")),
        3 => ("/v1/chat/completions", chat(true, 16, "llama")),
        4 => (
            "/completion",
            json!({"prompt": prompt, "n_predict": 8}).to_string(),
        ),
        5 => {
            let (path, body) = ("/v1/chat/completions", chat(true, 64, "llama"));
            let _ = http::abandon_stream(addr, path, &body, "data:");
            return;
        }
        6 if i % 16 == 6 => ("/v1/chat/completions", chat(false, 4, "gpt-4")),
        6 => ("/v1/chat/completions", "{\"messages\": [".to_string()),
        _ => (
            "/v1/completions",
            json!({"prompt": prompt, "max_tokens": 8}).to_string(),
        ),
    };
    // Failures are part of the load (bad input, queue full): the queries look at the outcome.
    let _ = http::post_json(addr, path, &body, Duration::from_secs(60));
}

/// Every 15 s, more simultaneous requests than slots plus queue hold: some are turned away with
/// `queue_full` (a server-side error for the error-ratio queries), the rest queue.
fn burst(addr: &str, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::scope(|s| {
            for n in 0..6 {
                let say = format!("Say {n} words.");
                let body =
                    json!({"messages": [{"role": "user", "content": say}], "max_tokens": 24});
                let timeout = Duration::from_secs(60);
                s.spawn(move || {
                    http::post_json(addr, "/v1/chat/completions", &body.to_string(), timeout)
                });
            }
        });
        for _ in 0..15 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}
