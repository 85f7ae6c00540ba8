//! The live part of `check-observability`: the real server (built with `otel`) and a real
//! Prometheus scraping it, under load while every query is evaluated.

use super::load::{burst_worker, load_worker};
use super::prometheus::evaluate;
use super::promql::Query;
use super::report::Report;
use crate::stack::files::{ALERTS, DEFAULT_MODEL};
use crate::stack::process::{free_port, target_dir, wait_http, which, Proc};
use crate::util::{self, TempDir};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(super) fn live(
    report: &mut Report,
    model: Option<String>,
    server: Option<String>,
    queries: &[Query],
    variables: &[Query],
) -> Result<()> {
    let root = util::workspace_root();
    let model = match model.or_else(|| std::env::var("LLAMA_TEST_MODEL").ok()) {
        Some(m) => root.join(m),
        None => root.join("models").join(DEFAULT_MODEL),
    };
    if !model.is_file() {
        bail!(
            "model {} not found: run `cargo xtask fetch-model` or pass --model",
            model.display()
        );
    }
    let Some(server_bin) = server_binary(report, &root, server)? else {
        return Ok(());
    };
    let prometheus = which("prometheus")
        .ok_or_else(|| anyhow!("prometheus not on PATH (Debian package `prometheus`)"))?;
    let tmp = TempDir::new(Some(&target_dir(&root).join("tmp")), "observability")?;
    let (mut server_proc, addr) = start_server(report, &server_bin, &model, tmp.path())?;
    let (prom_proc, prom_addr) = start_prometheus(report, &prometheus, &root, &addr, tmp.path())?;

    // Load while the queries run.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers: Vec<_> = (0..5)
        .map(|w| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || load_worker(addr, w, stop))
        })
        .collect();
    let (burst_addr, burst_stop) = (addr.clone(), stop.clone());
    workers.push(std::thread::spawn(move || {
        burst_worker(burst_addr, burst_stop)
    }));
    let result = evaluate(
        report,
        &prom_addr,
        &addr,
        &mut server_proc,
        queries,
        variables,
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    drop(prom_proc);
    drop(server_proc);
    result
}

/// `--server`, or llama-server built with `otel`; `None` (recorded as failed) when missing.
fn server_binary(
    report: &mut Report,
    root: &Path,
    server: Option<String>,
) -> Result<Option<PathBuf>> {
    let server_bin = match server {
        Some(s) => root.join(s),
        None => util::build_otel_server()?,
    };
    report.record(
        "llama-server built with otel",
        if server_bin.is_file() {
            Ok(server_bin.display().to_string())
        } else {
            Err(anyhow!("{} missing", server_bin.display()))
        },
    );
    Ok(server_bin.is_file().then_some(server_bin))
}

/// Whether this build has `--otel-ggml-ops` (recorded: the ggml op time panel needs it).
fn has_ggml_flag(report: &mut Report, server_bin: &Path) -> Result<bool> {
    let help = Command::new(server_bin)
        .arg("--help")
        .output()
        .context("llama-server --help")?;
    let ggml_flag = String::from_utf8_lossy(&help.stdout).contains("--otel-ggml-ops");
    report.record(
        "llama-server has --otel-ggml-ops",
        if ggml_flag {
            Ok(String::new())
        } else {
            Err(anyhow!(
                "not in --help: the ggml op time panel cannot be fed"
            ))
        },
    );
    Ok(ggml_flag)
}

/// Starts the server, with ggml op timing on when this build has the flag, and waits until it
/// is healthy; returns it and its address.
fn start_server(
    report: &mut Report,
    server_bin: &Path,
    model: &Path,
    tmp: &Path,
) -> Result<(Proc, String)> {
    let ggml_flag = has_ggml_flag(report, server_bin)?;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(server_bin);
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "-c",
        "2048",
        "--parallel",
        "2",
        "--queue-size",
        "2",
        "--alias",
        "llama",
    ])
    .arg("-m")
    .arg(model);
    if ggml_flag {
        cmd.arg("--otel-ggml-ops");
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("OTEL_SERVICE_NAME", "llama-server");
    let mut server_proc = Proc::spawn("llama-server", &mut cmd, tmp.join("server.log"))?;
    let ready = wait_http(&mut server_proc, &addr, "/health", Duration::from_secs(180));
    report.record(
        "llama-server starts and loads the model",
        ready
            .as_ref()
            .map(|d| format!("{addr}, ready in {}", util::duration(*d)))
            .map_err(|e| anyhow!("{e:#}")),
    );
    ready?;
    Ok((server_proc, addr))
}

/// Starts Prometheus scraping the server every 2 s and evaluating the real alert rules; returns
/// it and its address.
fn start_prometheus(
    report: &mut Report,
    prometheus: &Path,
    root: &Path,
    addr: &str,
    tmp: &Path,
) -> Result<(Proc, String)> {
    let prom_port = free_port()?;
    let prom_addr = format!("127.0.0.1:{prom_port}");
    let alerts = root.join(ALERTS);
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\nrule_files:\n  - {alerts:?}\nscrape_configs:\n  - job_name: llama-server\n    static_configs:\n      - targets: [\"{addr}\"]\n",
    );
    std::fs::write(tmp.join("prometheus.yml"), config)?;
    let mut prom_cmd = Command::new(prometheus);
    prom_cmd
        .arg(format!(
            "--config.file={}",
            tmp.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            tmp.join("data").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--enable-feature=exemplar-storage");
    let mut prom_proc = Proc::spawn("prometheus", &mut prom_cmd, tmp.join("prometheus.log"))?;
    let ready = wait_http(
        &mut prom_proc,
        &prom_addr,
        "/-/ready",
        Duration::from_secs(60),
    );
    report.record(
        "Prometheus starts with the alert rules",
        ready
            .as_ref()
            .map(|_| prom_addr.clone())
            .map_err(|e| anyhow!("{e:#}")),
    );
    ready?;
    Ok((prom_proc, prom_addr))
}
