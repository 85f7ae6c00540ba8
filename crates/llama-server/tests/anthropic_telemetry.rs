//! `/v1/messages` requests are chat operations in telemetry: each one (streamed and not) is
//! counted once in `llama.requests` as a success with `gen_ai.operation.name` = `chat`.
//! In-process, through the library's router, with the SDK's Prometheus reader.
//!
//! `cargo test -p llama-server --features otel --test anthropic_telemetry`
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_otel::names;
use llama_otel::semconv::OPERATION_CHAT;
use llama_server::cli::Cli;
use serde_json::json;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// `llama_requests_total` summed over the series with `outcome` and `gen_ai.operation.name`.
fn requests(outcome: &str, operation: &str) -> f64 {
    let text = llama_otel::prometheus_text();
    let prefix = format!("{}_total{{", names::REQUESTS.replace('.', "_"));
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix)?.rsplit_once("} "))
        .filter(|(labels, _)| {
            labels.contains(&format!("{}=\"{outcome}\"", names::OUTCOME))
                && labels.contains(&format!("gen_ai_operation_name=\"{operation}\""))
        })
        .map(|(_, v)| v.parse::<f64>().unwrap())
        .sum()
}

async fn send(app: &axum::Router, body: serde_json::Value) -> (StatusCode, String) {
    let req = Request::post("/v1/messages")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (parts, body) = app.clone().oneshot(req).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_counted_as_chat_operations() {
    let Some(model) = common::model_path() else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let args = [
        "llama-server",
        "-m",
        &model,
        "-t",
        "1",
        "-c",
        "512",
        "--parallel",
        "1",
    ];
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
    let (app, _sched) = llama_server::server::in_process_with_scheduler(&cli, 18184).unwrap();
    let success = names::Outcome::Success.as_str();
    let before = requests(success, OPERATION_CHAT);
    for stream in [false, true] {
        let body = json!({"max_tokens": 2, "temperature": 0, "stream": stream,
            "messages": [{"role": "user", "content": "Say hello"}]});
        let (status, text) = send(&app, body).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let start = Instant::now();
    while requests(success, OPERATION_CHAT) < before + 2.0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "not counted as chat"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(requests(success, OPERATION_CHAT), before + 2.0);
}
