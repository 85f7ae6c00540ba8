//! The live part: the real server (built with `otel`) and a real Prometheus scraping it and
//! evaluating the real alert rules, under a load of every request kind while the queries run.

use super::evaluate::{evaluate, Patience};
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

pub(super) fn live(report: &mut Report, opts: &CheckOpts, queries: &[Query]) -> Result<()> {
    let root = util::workspace_root();
    let env = std::env::var("LLAMA_TEST_MODEL").ok();
    let model = opts.model.clone().or(env);
    let model = model.map_or(root.join("models").join(DEFAULT_MODEL), |m| root.join(m));
    if !model.is_file() {
        let model = model.display();
        bail!("model {model} not found: run `cargo xtask fetch-model` or pass --model");
    }
    let server = match &opts.server {
        Some(s) => root.join(s),
        None => util::build_otel_server()?,
    };
    let built = match server.is_file() {
        true => Ok(server.display().to_string()),
        false => Err(anyhow!("{} missing", server.display())),
    };
    report.record("llama-server built with otel", built);
    let tmp = TempDir::new(Some(&target_dir(&root).join("tmp")), "observability")?;
    let (mut server, addr) = start_server(report, &server, &model, tmp.path())?;
    let (_prom, prom) = start_prometheus(report, &root.join(ALERTS), &addr, tmp.path())?;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // More workers than slots plus queue hold: requests queue and some are turned away.
        for worker in 0..8 {
            let (addr, stop) = (&addr, &stop);
            let go = move |_: &usize| !stop.load(Ordering::Relaxed);
            s.spawn(move || (worker..).take_while(go).for_each(|i| request(addr, i)));
        }
        // Only a query that never returns series waits the deadline; on a busy machine a
        // request can take a minute before the first request-duration sample exists.
        let (warm_up, deadline) = (Duration::from_secs(20), Duration::from_secs(240));
        let patience = Patience { warm_up, deadline };
        let result = evaluate(report, &prom, &mut || server.alive(), queries, patience);
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Waits until `proc` answers 200 on `path` and records it; fails when it did not in time.
fn ready(report: &mut Report, mut proc: Proc, addr: String, path: &str) -> Result<(Proc, String)> {
    let waited = wait_http(&mut proc, &addr, path, Duration::from_secs(180));
    let detail = waited.map(|d| format!("{addr}, ready in {}", util::duration(d)));
    let failed = detail.is_err();
    report.record(&format!("{} starts", proc.name), detail);
    match failed {
        true => bail!("{} did not start", proc.name),
        false => Ok((proc, addr)),
    }
}

/// Starts the server with ggml op timing on (the ggml op time panel needs it), 2 slots and a
/// queue of 2.
fn start_server(r: &mut Report, bin: &Path, model: &Path, tmp: &Path) -> Result<(Proc, String)> {
    let port = free_port()?;
    let args = format!("--host 127.0.0.1 --port {port} -c 2048 --parallel 2 --queue-size 2");
    let args = args + " --otel-ggml-ops";
    let mut cmd = Command::new(bin);
    cmd.args(args.split_whitespace())
        .args(["--alias", "llama", "-m"]);
    for (k, _) in std::env::vars_os().filter(|(k, _)| k.to_string_lossy().starts_with("OTEL_")) {
        cmd.env_remove(k);
    }
    cmd.arg(model).env("OTEL_SERVICE_NAME", "llama-server");
    let proc = Proc::spawn("llama-server", &mut cmd, tmp.join("server.log"))?;
    ready(r, proc, format!("127.0.0.1:{port}"), "/health")
}

/// Starts Prometheus (on PATH) scraping `addr` as job `llama-server` every 2 s, with the
/// `alerts` rules.
fn start_prometheus(
    r: &mut Report,
    alerts: &Path,
    addr: &str,
    tmp: &Path,
) -> Result<(Proc, String)> {
    let bin = which("prometheus").context("no prometheus (Debian package `prometheus`)")?;
    let prom = format!("127.0.0.1:{}", free_port()?);
    let config = format!(
        "global: {{scrape_interval: 2s, scrape_timeout: 2s, evaluation_interval: 2s}}
rule_files: [{alerts:?}]
scrape_configs: [{{job_name: llama-server, static_configs: [{{targets: [\"{addr}\"]}}]}}]
"
    );
    let (file, data) = (tmp.join("prometheus.yml"), tmp.join("data"));
    std::fs::write(&file, config)?;
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--config.file={}", file.display()));
    cmd.arg(format!("--storage.tsdb.path={}", data.display()));
    cmd.arg(format!("--web.listen-address={prom}"));
    cmd.arg("--enable-feature=exemplar-storage");
    let proc = Proc::spawn("prometheus", &mut cmd, tmp.join("prometheus.log"))?;
    ready(r, proc, prom, "/-/ready")
}

/// The `i`-th request of a worker, its kind cycling with `i`: chat (plain and streamed), legacy
/// and llama.cpp completions, streams the client abandons, bad JSON.
fn request(addr: &str, i: usize) {
    let prompt = format!("Count from {} to {} in words.", i % 17, i % 17 + 5);
    let chat = |stream: bool, max: u32| {
        let messages = json!([{"role": "user", "content": prompt}]);
        let body = json!({"model": "llama", "messages": messages, "max_tokens": max,
            "stream": stream, "temperature": 0.7, "seed": i});
        body.to_string()
    };
    let chat_path = "/v1/chat/completions";
    let n_predict = json!({"prompt": prompt, "n_predict": 6}).to_string();
    let legacy = json!({"prompt": prompt, "max_tokens": 6}).to_string();
    let (path, body) = match i % 8 {
        0..=2 => (chat_path, chat(false, 6)),
        3 => (chat_path, chat(true, 8)),
        4 => ("/completion", n_predict),
        5 => {
            let _ = http::abandon_stream(addr, chat_path, &chat(true, 64), "data:");
            return;
        }
        6 => (chat_path, "{\"messages\": [".to_string()),
        _ => ("/v1/completions", legacy),
    };
    // Failures are part of the load (bad input, queue full): the queries look at the outcome.
    // A pause after each keeps turned-away workers from spinning on a busy machine.
    let _ = http::post_json(addr, path, &body, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(250));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves a fixed `/metrics` text to every connection, as a stand-in for the server.
    fn metrics_server(body: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let _ = stream.read(&mut [0u8; 4096]);
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                let _ = stream.write_all((head + body).as_bytes());
            }
        });
        addr
    }

    /// A dashboard query on a metric the server does not export fails the check, while one
    /// on a metric it does passes: a real Prometheus scrapes a stand-in `/metrics`.
    #[test]
    fn a_query_on_a_metric_not_exported_fails() {
        if which("prometheus").is_none() {
            assert!(
                !util::in_ci(),
                "prometheus missing (Debian package `prometheus`)"
            );
            return eprintln!("skipped: prometheus not installed (Debian package `prometheus`)");
        }
        let addr = metrics_server("llama_requests_total{outcome=\"ok\"} 3\n");
        let (tmp, mut report) = (TempDir::new(None, "evaluate").unwrap(), Report::default());
        let alerts = util::workspace_root().join(ALERTS);
        let (_proc, prom) = start_prometheus(&mut report, &alerts, &addr, tmp.path()).unwrap();
        let queries = [
            Query::new("exported".into(), "sum(llama_requests_total)"),
            Query::new("not exported".into(), "sum(rate(llama_made_up_total[1m]))"),
            // Collector series: no series here, but their syntax is still checked.
            Query::new(
                "span metrics".into(),
                "sum(rate(traces_span_metrics_calls_total[1m]))",
            ),
            Query::new(
                "broken".into(),
                "sum(rate(traces_span_metrics_calls_total[1m])",
            ),
        ];
        let (warm_up, deadline) = (Duration::from_secs(3), Duration::from_secs(15));
        let patience = Patience { warm_up, deadline };
        evaluate(&mut report, &prom, &mut || Ok(()), &queries, patience).unwrap();
        let failed = report.failed.join("\n");
        assert!(failed.contains("query broken: "), "{failed}");
        assert!(failed.contains("parse error"), "{failed}");
        let failed: Vec<_> = report
            .failed
            .iter()
            .filter(|f| !f.starts_with("query broken"))
            .collect();
        assert_eq!(
            failed,
            ["query not exported: no series: sum(rate(llama_made_up_total[1m]))"]
        );
    }
}
