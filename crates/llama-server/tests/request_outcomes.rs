//! Every request is counted in `llama.requests` exactly once, with the outcome of the path it
//! took: success (streamed and not), bad input, queue full, engine failure (streamed and not,
//! through the `fault-injection` hook), client disconnect while queued and while generating,
//! and shutdown with a request in flight. Each case reads the Prometheus text before and after
//! and requires the sum over all series to grow by exactly 1, on the expected series.
//! In-process, through the library's router, with the SDK's Prometheus reader.
//!
//! `cargo test -p llama-server --features otel --test request_outcomes`
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_otel::names::{self, CancelReason, EngineError, Outcome, RejectReason};
use llama_otel::semconv::{OPERATION_CHAT, OPERATION_TEXT_COMPLETION};
use llama_server::cli::Cli;
use llama_server::scheduler::SchedulerHandle;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// A `llama.requests` series: (outcome, error.type, gen_ai.operation.name), "" where absent.
type Series = (String, String, String);

const WAIT: Duration = Duration::from_secs(60);

/// `llama_requests_total` by series, from the Prometheus text.
fn requests() -> BTreeMap<Series, f64> {
    let text = llama_otel::prometheus_text();
    let prefix = format!("{}_total{{", prometheus(names::REQUESTS));
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        let (labels, value) = rest.rsplit_once("} ").unwrap();
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map_or(String::new(), |v| v.trim_end_matches('"').to_owned())
        };
        let key = (
            label(names::OUTCOME),
            label("error_type"),
            label("gen_ai_operation_name"),
        );
        *out.entry(key).or_insert(0.0) += value.parse::<f64>().unwrap();
    }
    assert!(!out.is_empty(), "no llama_requests_total in:\n{text}");
    out
}

/// An instrument's name in the Prometheus text.
fn prometheus(name: &str) -> String {
    name.replace('.', "_")
}

/// A gauge's value in the Prometheus text, summed over its lines.
fn gauge(name: &str) -> f64 {
    let text = llama_otel::prometheus_text();
    let values: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with([' ', '{']))
        })
        .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
        .collect();
    assert!(!values.is_empty(), "no {name} in:\n{text}");
    values.iter().sum()
}

fn total(m: &BTreeMap<Series, f64>) -> f64 {
    m.values().sum()
}

/// The series that changed between two readings, with their increase.
fn changes(before: &BTreeMap<Series, f64>, after: &BTreeMap<Series, f64>) -> Vec<(Series, f64)> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

fn series(outcome: Outcome, error: Option<&str>, op: Option<&str>) -> Series {
    (
        outcome.as_str().to_owned(),
        error.unwrap_or("").to_owned(),
        op.unwrap_or("").to_owned(),
    )
}

/// Waits until the counter moved since `before`, lets late recordings land, then checks that
/// exactly one request was counted, on `want`.
async fn expect_one(case: &str, before: &BTreeMap<Series, f64>, want: Series) {
    let start = Instant::now();
    while total(&requests()) == total(before) {
        assert!(start.elapsed() < WAIT, "{case}: nothing counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A second count (the error mapping, the HTTP layer) would come right after the first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = changes(before, &requests());
    assert_eq!(got, vec![(want, 1.0)], "{case}");
}

fn post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// Sends the request and reads the whole answer: status and body.
async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let (parts, body) = app.clone().oneshot(req).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn completion(n_predict: u32, stream: bool) -> String {
    json!({"prompt": "Once upon a time", "n_predict": n_predict, "ignore_eos": true,
        "temperature": 0, "stream": stream})
    .to_string()
}

fn chat(max_tokens: u32, stream: bool) -> String {
    json!({"messages": [{"role": "user", "content": "Say hello"}], "max_tokens": max_tokens,
        "temperature": 0, "stream": stream})
    .to_string()
}

/// A request that keeps its slot busy until it is cancelled, sent on its own task.
fn endless(app: &axum::Router) -> tokio::task::JoinHandle<(StatusCode, String)> {
    let app = app.clone();
    tokio::spawn(async move { send(&app, post("/completion", &completion(100_000, false))).await })
}

/// Waits until `done` holds for the scheduler's (slot count busy, in flight).
async fn wait_for(sched: &SchedulerHandle, what: &str, done: impl Fn(usize, usize) -> bool) {
    let start = Instant::now();
    loop {
        let slots = sched.slots().await.unwrap();
        let generating = slots.iter().filter(|s| s.n_decoded > 0).count();
        if done(generating, sched.in_flight()) {
            return;
        }
        assert!(start.elapsed() < WAIT, "{what} not within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Success (both APIs, streamed and not) and bad input.
async fn answered(app: &axum::Router) {
    let op_text = Some(OPERATION_TEXT_COMPLETION);
    let before = requests();
    let (status, body) = send(app, post("/completion", &completion(2, false))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    expect_one("success", &before, series(Outcome::Success, None, op_text)).await;

    let before = requests();
    let (status, body) = send(app, post("/v1/chat/completions", &chat(2, true))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("[DONE]"), "{body}");
    let want = series(Outcome::Success, None, Some(OPERATION_CHAT));
    expect_one("streamed success", &before, want).await;

    let long = json!({"prompt": "hello ".repeat(2000), "n_predict": 1}).to_string();
    for (case, body, reason) in [
        ("malformed JSON", "{", RejectReason::InvalidJson),
        (
            "bad parameter",
            r#"{"prompt": "x", "repeat_penalty": -1}"#,
            RejectReason::BadRequest,
        ),
        (
            "prompt over the context",
            long.as_str(),
            RejectReason::ContextExceeded,
        ),
    ] {
        let before = requests();
        let (status, text) = send(app, post("/completion", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case}: {text}");
        expect_one(
            case,
            &before,
            series(Outcome::Rejected, Some(reason.as_str()), None),
        )
        .await;
    }
}

/// Queue full, then the queued and the running request disconnect.
async fn queue_and_disconnects(app: &axum::Router, sched: &SchedulerHandle) {
    let running = endless(app);
    wait_for(sched, "the first request generating", |g, _| g == 1).await;
    let queued = endless(app);
    wait_for(sched, "the second request queued", |_, n| n == 2).await;

    let before = requests();
    let (status, body) = send(app, post("/completion", &completion(2, false))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let want = series(
        Outcome::Rejected,
        Some(RejectReason::QueueFull.as_str()),
        None,
    );
    expect_one("queue full", &before, want).await;

    let op = Some(OPERATION_TEXT_COMPLETION);
    let gone = Some(CancelReason::ClientDisconnected.as_str());
    let before = requests();
    queued.abort();
    let want = series(Outcome::Cancelled, gone, op);
    expect_one("disconnect while queued", &before, want.clone()).await;

    let before = requests();
    running.abort();
    expect_one("disconnect while generating", &before, want).await;
    wait_for(sched, "the slot freed", |g, n| g == 0 && n == 0).await;
    // Each request left the gauges it entered.
    assert_eq!(gauge(&prometheus(names::REQUESTS_QUEUED)), 0.0);
    assert_eq!(gauge(&prometheus(names::REQUESTS_ACTIVE)), 0.0);
}

/// The engine fails a request's decode call (`fault-injection` hook).
#[cfg(feature = "fault-injection")]
async fn engine_failures(app: &axum::Router, sched: &SchedulerHandle) {
    let decode = Some(EngineError::Decode.as_str());
    let before = requests();
    sched.fail_next_decode();
    let (status, body) = send(app, post("/completion", &completion(4, false))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let want = series(Outcome::Error, decode, Some(OPERATION_TEXT_COMPLETION));
    expect_one("engine failure", &before, want).await;

    let before = requests();
    sched.fail_next_decode();
    let (status, body) = send(app, post("/v1/chat/completions", &chat(4, true))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("decode failed"), "{body}");
    let want = series(Outcome::Error, decode, Some(OPERATION_CHAT));
    expect_one("streamed engine failure", &before, want).await;
}

#[cfg(not(feature = "fault-injection"))]
async fn engine_failures(_: &axum::Router, _: &SchedulerHandle) {
    // The crate's dev-dependency on itself turns the hook on for every test build.
    let _ = EngineError::Decode;
    panic!("built without the `fault-injection` hook");
}

/// Shutdown: the request in flight is cancelled at the deadline, new ones are refused.
async fn shutdown(app: &axum::Router, sched: &SchedulerHandle) {
    let running = endless(app);
    wait_for(sched, "a request generating", |g, _| g == 1).await;
    let before = requests();
    sched.shutdown();
    sched.cancel_all();
    let (status, body) = running.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let stopped = Some(CancelReason::Shutdown.as_str());
    let want = series(Outcome::Cancelled, stopped, Some(OPERATION_TEXT_COMPLETION));
    expect_one("shutdown in flight", &before, want).await;

    let before = requests();
    let (status, body) = send(app, post("/completion", &completion(2, false))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let want = series(
        Outcome::Rejected,
        Some(RejectReason::ShuttingDown.as_str()),
        None,
    );
    expect_one("after shutdown", &before, want).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_exactly_one_outcome() {
    let Some(model) = common::model_path() else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let mut args = vec!["llama-server", "-m", &model, "-t", "1", "-c", "512"];
    args.extend(["--parallel", "1", "--queue-size", "1"]);
    let cli = Cli::try_parse_from(args).unwrap();
    let _telemetry = llama_otel::init(llama_otel::TelemetryConfig {
        prometheus: true,
        ..Default::default()
    })
    .unwrap();
    assert!(
        llama_otel::is_active(),
        "telemetry off (OTEL_SDK_DISABLED?)"
    );
    let (app, sched) = llama_server::server::in_process_with_scheduler(&cli, 18183).unwrap();
    answered(&app).await;
    queue_and_disconnects(&app, &sched).await;
    engine_failures(&app, &sched).await;
    shutdown(&app, &sched).await;
}
