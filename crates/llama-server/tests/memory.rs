//! Memory telemetry through the real request path in-process (Gemma 3, whose sliding-window
//! layers keep their own cache): `GET /props` carries the `memory` object — weights equal to
//! the GGUF's tensor data, K/V by layer kind, the process's RSS within 10 % of
//! `/proc/self/status` VmRSS — and, with `otel-testing`, `llama.memory.usage` has a data point
//! for each kind that matches `/props`, the OS process metrics and the device metrics are
//! collected, the load and context spans carry the same figures, and `/metrics` serves them.
//!
//! `cargo test -p llama-server --test memory` (add `--features otel-testing` for the metrics)
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_core::gguf::GgufFile;
use llama_server::cli::Cli;
use serde_json::Value as Json;
use std::path::PathBuf;
use tower::ServiceExt;

const MODEL: &str = "gemma-3-270m-q4_k_m.gguf";
const KINDS: [&str; 5] = ["weights", "kv_k", "kv_v", "compute", "output"];

fn app() -> Option<(axum::Router, PathBuf)> {
    let path = common::named_model(MODEL)?;
    let model = path.to_string_lossy().into_owned();
    let args = [
        "llama-server",
        "-m",
        &model,
        "-t",
        "2",
        "-c",
        "2048",
        "--parallel",
        "2",
    ];
    let cli = Cli::try_parse_from(args).unwrap();
    Some((llama_server::server::in_process(&cli, 18182).unwrap(), path))
}

async fn get(app: &axum::Router, path: &str) -> String {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let (parts, body) = app.clone().oneshot(req).await.unwrap().into_parts();
    assert_eq!(parts.status, StatusCode::OK);
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// Sum of the GGUF's tensor data sizes, from llama-core's own reader.
fn gguf_tensor_bytes(path: &PathBuf) -> u64 {
    let file = GgufFile::open(path).unwrap();
    file.tensors().iter().map(|t| t.n_bytes()).sum()
}

fn vm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn within_10_percent(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.1 * b
}

/// `/props` and VmRSS read right after it (before the test allocates anything).
async fn props(app: &axum::Router) -> (Json, u64) {
    let text = get(app, "/props").await;
    let rss = vm_rss();
    (serde_json::from_str(&text).unwrap(), rss)
}

/// The `memory` object of `/props`, checked against independent figures; `vm_rss` was read
/// just after it.
fn check_props_memory(memory: &Json, gguf: &PathBuf, vm_rss: u64) -> u64 {
    let rss = memory["process"]["rss"].as_u64().unwrap();
    assert!(
        within_10_percent(rss as f64, vm_rss as f64),
        "rss {rss} vs VmRSS {vm_rss}"
    );
    // Repacked weights are copies of exactly their file bytes (ggml's CPU_REPACK keeps
    // `ggml_nbytes`) and the mapped buffer counts only the tensors it serves.
    assert_eq!(memory["weights"].as_u64().unwrap(), gguf_tensor_bytes(gguf));
    for kind in KINDS {
        assert!(memory[kind].as_u64().unwrap() > 0, "{kind}: {memory}");
    }
    let buffers = memory["buffers"].as_array().unwrap();
    let sum: u64 = buffers.iter().map(|b| b["bytes"].as_u64().unwrap()).sum();
    assert_eq!(sum, memory["total"].as_u64().unwrap());
    for layers in ["full", "swa"] {
        assert!(
            buffers
                .iter()
                .any(|b| b["kind"] == "kv_k" && b["layers"] == layers),
            "no kv_k/{layers}: {buffers:?}"
        );
    }
    let cpu = memory["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "CPU");
    assert!(cpu.unwrap()["total"].as_u64().unwrap() > 0);
    memory["weights"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn props_reports_memory() {
    #[cfg(feature = "otel-testing")]
    let _t = llama_otel::testing::init_for_tests();
    let Some((app, path)) = app() else { return };
    let (props, rss) = props(&app).await;
    check_props_memory(&props["memory"], &path, rss);
}

#[cfg(feature = "otel-testing")]
mod otel {
    use super::*;
    use llama_otel::testing::data::{AggregatedMetrics, MetricData};
    use llama_otel::testing::{find_metric, init_for_tests};

    /// Data points of an f64 sum or gauge: (attributes as `key=value` strings, value).
    fn points(
        exports: &[llama_otel::testing::data::ResourceMetrics],
        name: &str,
    ) -> Vec<(Vec<String>, f64)> {
        let m = find_metric(exports, name).unwrap_or_else(|| panic!("no metric {name}"));
        let attrs = |a: &mut dyn Iterator<Item = &llama_otel::testing::otel::KeyValue>| {
            a.map(|kv| format!("{}={}", kv.key, kv.value))
                .collect::<Vec<_>>()
        };
        match m.data() {
            AggregatedMetrics::F64(MetricData::Sum(s)) => s
                .data_points()
                .map(|p| (attrs(&mut p.attributes()), p.value()))
                .collect(),
            AggregatedMetrics::F64(MetricData::Gauge(g)) => g
                .data_points()
                .map(|p| (attrs(&mut p.attributes()), p.value()))
                .collect(),
            _ => panic!("{name}: not an f64 sum or gauge"),
        }
    }

    fn sum_where(points: &[(Vec<String>, f64)], attr: &str) -> f64 {
        let has = |a: &Vec<String>| a.iter().any(|x| x == attr);
        points.iter().filter(|(a, _)| has(a)).map(|(_, v)| v).sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_and_process_metrics() {
        let t = init_for_tests();
        let Some((app, path)) = app() else { return };
        let (props, rss) = props(&app).await;
        let weights = check_props_memory(&props["memory"], &path, rss);
        let exports = t.collect_metrics();
        let vm_rss = vm_rss();
        let usage = points(&exports, "llama.memory.usage");
        for kind in KINDS {
            let bytes = sum_where(&usage, &format!("llama.memory.kind={kind}"));
            assert_eq!(
                bytes,
                props["memory"][kind].as_f64().unwrap(),
                "{kind}: {usage:?}"
            );
        }
        assert!(usage
            .iter()
            .all(|(a, _)| a.iter().any(|x| x.starts_with("llama.backend="))));
        assert!(sum_where(&usage, "llama.kv_cache.layers=swa") > 0.0);
        let rss = points(&exports, "process.memory.usage")[0].1;
        assert!(within_10_percent(rss, vm_rss as f64), "{rss} vs {vm_rss}");
        assert!(points(&exports, "process.memory.virtual")[0].1 >= rss);
        let cpu = points(&exports, "process.cpu.time");
        assert!(sum_where(&cpu, "cpu.mode=user") > 0.0, "{cpu:?}");
        assert_eq!(cpu.len(), 2, "{cpu:?}");
        let total = points(&exports, "llama.device.memory.total");
        assert!(sum_where(&total, "llama.device=CPU") > 0.0, "{total:?}");
        check_spans(&t, weights);
        let text = get(&app, "/metrics").await;
        for series in [
            "llama_memory_usage_bytes{",
            "llama_memory_kind=\"kv_v\"",
            "process_memory_usage_bytes",
            "process_cpu_time_seconds_total{",
            "llama_device_memory_total_bytes{",
        ] {
            assert!(text.contains(series), "/metrics lacks {series}");
        }
    }

    fn check_spans(t: &llama_otel::testing::TestTelemetry, weights: u64) {
        let spans = t.finished_spans();
        let attr = |name: &str, key: &str| {
            let span = spans.iter().find(|s| s.name == name).unwrap();
            let kv = span.attributes.iter().find(|kv| kv.key.as_str() == key);
            kv.map(|kv| kv.value.to_string())
        };
        let w = attr("llama.model.load", "llama.memory.weights.bytes");
        assert_eq!(w, Some(weights.to_string()));
        let kv = attr("llama.context.init", "llama.memory.kv_k.bytes").unwrap();
        assert!(kv.parse::<u64>().unwrap() > 0);
        let lines = attr("llama.context.init", "llama.memory.buffers").unwrap();
        assert!(lines.contains("kv_v/swa CPU"), "{lines}");
    }
}
