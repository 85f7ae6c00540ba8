//! The collector is down: the server (built with `otel`, OTLP pointed at a closed port, or at
//! a black hole that accepts TCP and never answers) keeps serving. Many requests all succeed
//! and none waits for the exporter (an absolute bound below the OTLP timeout), `/metrics`
//! still answers and counts the lost telemetry, memory stays bounded, and SIGTERM still exits
//! 0 within a bounded time.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;
mod otel_support;

use common::Server;
use otel_support::{closed_port, otel_env, rss_bytes, BlackHole};
use serde_json::json;
use std::time::{Duration, Instant};

/// Sequential requests whose latency is compared.
const TIMED_REQUESTS: usize = 12;
/// Further requests (4 clients) before memory is measured again: ~6 spans each, several
/// times the span queue's bound.
const LOAD_REQUESTS: usize = 60;
/// Allowed RSS growth over [`LOAD_REQUESTS`] (the span queue is bounded at 128 spans here).
const RSS_GROWTH_LIMIT: u64 = 16 << 20;
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);
/// The exporters' timeout, set explicitly (it is also the OTLP default).
const OTLP_TIMEOUT: Duration = Duration::from_secs(10);
/// Most time one request may take: half the OTLP timeout, so a request that waited for a
/// blocked export cannot pass.
const LATENCY_LIMIT: Duration = Duration::from_secs(5);

/// One scenario at a time: three debug servers decoding at once on a small machine would slow
/// each other down.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn start(endpoint: &str, protocol: &str) -> Option<Server> {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "128"),
        // Log records (a request line each, and more) are bounded and counted like spans.
        ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "16"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
    ];
    Server::start_with_env(&["-c", "1024", "--parallel", "4"], &otel_env(&vars))
}

/// One short greedy completion; its latency.
fn request(server: &Server, i: usize) -> Duration {
    let body = json!({"prompt": format!("Count {i}:"), "n_predict": 1, "temperature": 0,
        "cache_prompt": false});
    let started = Instant::now();
    let r = server.post("/completion", &body);
    assert_eq!(r.status, 200, "request {i}: {}", r.body);
    started.elapsed()
}

/// Median and maximum latency of [`TIMED_REQUESTS`] sequential requests (after a warm-up);
/// every one must succeed.
fn latencies(server: &Server) -> (Duration, Duration) {
    request(server, 0);
    let mut times: Vec<Duration> = (1..=TIMED_REQUESTS).map(|i| request(server, i)).collect();
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

/// Requests one after another with the collector down: none waits on the exporter. A request
/// blocked by a stuck export would take at least the OTLP timeout ([`OTLP_TIMEOUT`]), while a
/// one-token completion stays well under [`LATENCY_LIMIT`] even on a busy machine (spikes of
/// 1.7–3 s were measured under CPU contention): an absolute bound, not a ratio that
/// contention breaks (ratios belong in `bench-otel`).
fn steady_latency(server: &Server) -> (Duration, Duration) {
    let (median, max) = latencies(server);
    assert!(
        max < LATENCY_LIMIT,
        "a request took {max:?} (median {median:?}) with the collector down: blocked on the \
         exporter (OTLP timeout {OTLP_TIMEOUT:?})?"
    );
    (median, max)
}

/// [`LOAD_REQUESTS`] from 4 clients at once.
fn load(server: &Server) {
    std::thread::scope(|s| {
        for c in 0..4 {
            s.spawn(move || {
                for i in (c..LOAD_REQUESTS).step_by(4) {
                    request(server, 1000 + i);
                }
            });
        }
    });
}

/// `llama_telemetry_dropped_total` summed over the label sets matching every filter.
fn dropped(metrics: &str, filters: &[&str]) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("llama_telemetry_dropped") && filters.iter().all(|f| l.contains(f))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn prometheus(server: &Server) -> String {
    let r = server.get("/metrics").unwrap();
    assert_eq!(r.status, 200, "/metrics: {}", r.body);
    assert!(
        r.body.contains("llamacpp:requests_processing"),
        "{}",
        r.body
    );
    r.body
}

/// The whole scenario; `lost` is the label filter of the drops the collector must cause.
fn keeps_serving(endpoint: &str, protocol: &str, lost: &str) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let Some(mut server) = start(endpoint, protocol) else {
        return;
    };
    let (median, max) = steady_latency(&server);
    let rss_before = rss_bytes(server.pid());
    load(&server);
    let rss_after = rss_bytes(server.pid());
    let growth = rss_after.saturating_sub(rss_before);
    assert!(
        growth < RSS_GROWTH_LIMIT,
        "RSS grew by {} MiB over {LOAD_REQUESTS} requests",
        growth >> 20
    );
    let metrics = prometheus(&server);
    assert!(
        metrics.contains("gen_ai_server_request_duration_seconds_count"),
        "no OpenTelemetry metrics in /metrics"
    );
    let lost_spans = dropped(&metrics, &[lost, "signal=\"spans\""]);
    assert!(
        lost_spans > 0.0,
        "no dropped spans counted ({lost}):\n{metrics}"
    );
    let lost_logs = dropped(&metrics, &[lost, "signal=\"logs\""]);
    assert!(
        lost_logs > 0.0,
        "no dropped log records counted ({lost}):\n{metrics}"
    );
    let (status, took) = server.terminate(SHUTDOWN_LIMIT).unwrap_or_else(|| {
        panic!("no exit within {SHUTDOWN_LIMIT:?} of SIGTERM");
    });
    assert!(status.success(), "exit status {status}");
    eprintln!(
        "{protocol} {endpoint}: latency median {median:?} max {max:?}; RSS {} -> {} MiB; {lost_spans} spans and {lost_logs} log records lost; SIGTERM exit in {took:?}; \
         {:.1} s in all",
        rss_before >> 20,
        rss_after >> 20,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn closed_collector_port_grpc() {
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    keeps_serving(&endpoint, "grpc", "reason=\"export_failed\"");
}

#[test]
fn black_hole_collector_grpc() {
    let hole = BlackHole::start();
    let endpoint = format!("http://127.0.0.1:{}", hole.port);
    keeps_serving(&endpoint, "grpc", "reason=\"queue_full\"");
    assert!(
        hole.finish() > 0,
        "the server never connected to the black hole"
    );
}

#[test]
fn black_hole_collector_http_protobuf() {
    let hole = BlackHole::start();
    let endpoint = format!("http://127.0.0.1:{}", hole.port);
    keeps_serving(&endpoint, "http/protobuf", "reason=\"queue_full\"");
    assert!(
        hole.finish() > 0,
        "the server never connected to the black hole"
    );
}
