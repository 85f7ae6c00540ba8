//! Every span attribute and metric the server really emits, held to the one table of names in
//! `llama_otel::catalog` (which cites the semantic-conventions version it follows): the
//! server's request paths are driven in-process through the SDK's in-memory exporters — chat
//! (plain, streamed with content capture, with tool-call events), legacy and llama.cpp
//! completions, Anthropic messages, rejections, probes, embeddings — and a name missing from
//! the table, or emitted with another value type, instrument or unit, fails. Also: no
//! `error.type` on a success, and probes untraced unless `--otel-trace-probes`.
//!
//! `cargo test -p llama-server --features otel-testing --test telemetry_catalog`
#![cfg(feature = "otel-testing")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_otel::testing::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use llama_otel::testing::otel::KeyValue;
use llama_otel::testing::sdk::trace::SpanData;
use llama_otel::testing::{
    find_metric, init_for_tests, metric_violations, span_violations, TestTelemetry,
};
use llama_otel::{catalog, names, semconv};
use llama_server::cli::Cli;
use serde_json::{json, Value as Json};
use std::time::{Duration, Instant};
use tower::ServiceExt;

const MODEL: &str = "smol";

fn app(model: &str, alias: &str, extra: &[&str]) -> axum::Router {
    let mut args = vec!["llama-server", "-m", model, "-a", alias, "-t", "2"];
    args.extend(["-c", "1024", "--parallel", "2"]);
    args.extend(extra);
    let cli = Cli::try_parse_from(args).unwrap();
    llama_server::server::in_process(&cli, 18183).unwrap()
}

async fn send(app: &axum::Router, method: &str, path: &str, body: Option<Json>) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("user-agent", "catalog-test/1.0");
    let req = match body {
        Some(b) => req.body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    };
    let (parts, body) = app
        .clone()
        .oneshot(req.unwrap())
        .await
        .unwrap()
        .into_parts();
    body.collect().await.unwrap();
    parts.status
}

/// Waits until `n` spans named like GenAI spans (`{operation} {model}`) have ended.
fn wait_genai(t: &TestTelemetry, n: usize) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let spans = t.finished_spans();
        let genai = spans
            .iter()
            .filter(|s| {
                s.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == semconv::GEN_AI_OPERATION_NAME)
            })
            .count();
        if genai >= n {
            return spans;
        }
        assert!(
            Instant::now() < deadline,
            "{genai} of {n} GenAI spans ended"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has(attrs: &[KeyValue], key: &str) -> bool {
    attrs.iter().any(|kv| kv.key.as_str() == key)
}

fn value(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Data-point attribute sets of metric `name` (all kinds).
fn point_attrs(exports: &[ResourceMetrics], name: &str) -> Vec<Vec<KeyValue>> {
    fn of<T>(d: &MetricData<T>) -> Vec<Vec<KeyValue>> {
        match d {
            MetricData::Sum(s) => s
                .data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
            MetricData::Histogram(h) => h
                .data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
            MetricData::Gauge(g) => g
                .data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
            MetricData::ExponentialHistogram(h) => h
                .data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
        }
    }
    match find_metric(exports, name).map(|m| m.data()) {
        Some(AggregatedMetrics::F64(d)) => of(d),
        Some(AggregatedMetrics::U64(d)) => of(d),
        Some(AggregatedMetrics::I64(d)) => of(d),
        None => Vec::new(),
    }
}

/// `error.type` only where the request failed: HTTP spans and durations only for a 5xx (the
/// HTTP conventions' rule for servers), never on GenAI spans of served requests nor on
/// `llama.requests{outcome="success"}`.
fn check_no_error_type_on_success(spans: &[SpanData], exports: &[ResourceMetrics]) {
    for s in spans {
        let ok_http = value(&s.attributes, semconv::HTTP_RESPONSE_STATUS_CODE)
            .is_some_and(|c| c.parse::<u16>().unwrap() < 500);
        let ok_genai = has(&s.attributes, semconv::GEN_AI_RESPONSE_MODEL);
        if ok_http || ok_genai {
            assert!(
                !has(&s.attributes, semconv::ERROR_TYPE),
                "error.type on {:?}",
                s.name
            );
        }
    }
    for p in point_attrs(exports, names::REQUESTS) {
        if value(&p, names::OUTCOME).as_deref() == Some("success") {
            assert!(
                !has(&p, semconv::ERROR_TYPE),
                "llama.requests success with error.type: {p:?}"
            );
        }
    }
    for p in point_attrs(exports, semconv::HTTP_SERVER_REQUEST_DURATION) {
        let code: u16 = value(&p, semconv::HTTP_RESPONSE_STATUS_CODE)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            has(&p, semconv::ERROR_TYPE),
            code >= 500,
            "http.server.request.duration {p:?}"
        );
    }
    for p in point_attrs(exports, semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN) {
        assert!(
            !has(&p, semconv::ERROR_TYPE),
            "time to first token is for successes: {p:?}"
        );
    }
}

fn assert_catalog(spans: &[SpanData], exports: &[ResourceMetrics]) {
    let mut v = span_violations(spans);
    v.extend(metric_violations(exports));
    assert!(
        v.is_empty(),
        "against the catalog ({}):\n{}",
        catalog::SPEC_VERSION,
        v.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_emitted_name_is_in_the_catalog() {
    let t = init_for_tests();
    let Some(model) = common::model_path() else {
        return;
    };
    let app = app(
        &model.to_string_lossy(),
        MODEL,
        &[
            "--otel-capture-content",
            "--otel-trace-probes",
            "--otel-ggml-ops",
        ],
    );
    let chat = |stream: bool| {
        json!({"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}],
        "max_tokens": 4, "temperature": 0.7, "top_p": 0.9, "top_k": 20, "seed": 42, "stop": ["zzqx"],
        "frequency_penalty": 0.1, "presence_penalty": 0.1, "stream": stream})
    };
    let calls = [
        ("POST", "/v1/chat/completions", Some(chat(false))),
        ("POST", "/v1/chat/completions", Some(chat(true))),
        (
            "POST",
            "/v1/completions",
            Some(json!({"model": MODEL, "prompt": "Hi", "max_tokens": 3})),
        ),
        (
            "POST",
            "/completion",
            Some(json!({"prompt": "Hi", "n_predict": 3, "cache_prompt": true})),
        ),
        (
            "POST",
            "/completion",
            Some(json!({"prompt": "Hi", "n_predict": 3, "cache_prompt": true})),
        ),
        (
            "POST",
            "/v1/messages",
            Some(json!({"model": MODEL, "max_tokens": 3,
            "messages": [{"role": "user", "content": "Hi"}]})),
        ),
    ];
    for (method, path, body) in calls {
        assert_eq!(
            send(&app, method, path, body).await,
            StatusCode::OK,
            "{method} {path}"
        );
    }
    assert_eq!(
        send(
            &app,
            "POST",
            "/v1/chat/completions",
            Some(json!({"messages": 3}))
        )
        .await
        .as_u16()
            / 100,
        4
    );
    assert_eq!(
        send(&app, "GET", "/no/such/route", None).await,
        StatusCode::NOT_FOUND
    );
    for probe in ["/health", "/metrics", "/props"] {
        assert_eq!(
            send(&app, "GET", probe, None).await,
            StatusCode::OK,
            "{probe}"
        );
    }
    let purge = send(&app, "PURGE", "/v1/models", None).await;
    assert_eq!(purge, StatusCode::METHOD_NOT_ALLOWED);
    let spans = wait_genai(&t, 6);
    let exports = t.collect_metrics();
    let other = spans
        .iter()
        .find(|s| s.name == "HTTP /v1/models")
        .expect("span of PURGE");
    assert_eq!(
        value(&other.attributes, semconv::HTTP_REQUEST_METHOD).as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        value(&other.attributes, semconv::HTTP_REQUEST_METHOD_ORIGINAL).as_deref(),
        Some("PURGE")
    );
    assert!(
        spans.iter().any(|s| s.name == "GET /health"),
        "--otel-trace-probes traces /health"
    );
    assert!(
        spans
            .iter()
            .any(|s| has(&s.attributes, semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
        "gen_ai.usage.cache_read.input_tokens recorded"
    );
    assert_catalog(&spans, &exports);
    check_no_error_type_on_success(&spans, &exports);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_names_are_in_the_catalog() {
    let t = init_for_tests();
    let Some(model) = common::named_model("nomic-embed-text-v1.5.f16.gguf") else {
        return;
    };
    let app = app(&model.to_string_lossy(), "nomic", &["--embeddings"]);
    let body = json!({"input": ["a", "b c"], "model": "nomic"});
    assert_eq!(
        send(&app, "POST", "/v1/embeddings", Some(body)).await,
        StatusCode::OK
    );
    let spans = wait_genai(&t, 1);
    let exports = t.collect_metrics();
    assert_catalog(&spans, &exports);
    check_no_error_type_on_success(&spans, &exports);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_are_not_traced_by_default() {
    let t = init_for_tests();
    let Some(model) = common::model_path() else {
        return;
    };
    let app = app(&model.to_string_lossy(), MODEL, &[]);
    for probe in ["/health", "/v1/health", "/metrics", "/props"] {
        assert_eq!(
            send(&app, "GET", probe, None).await,
            StatusCode::OK,
            "{probe}"
        );
    }
    assert_eq!(send(&app, "GET", "/v1/models", None).await, StatusCode::OK);
    t.flush_spans();
    let spans = t.finished_spans();
    let http: Vec<_> = spans
        .iter()
        .filter(|s| s.name.starts_with("GET "))
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(
        http,
        ["GET /v1/models"],
        "only the non-probe request is traced"
    );
    let exports = t.collect_metrics();
    let routes: Vec<_> = point_attrs(&exports, semconv::HTTP_SERVER_REQUEST_DURATION)
        .iter()
        .filter_map(|p| value(p, semconv::HTTP_ROUTE))
        .collect();
    for probe in ["/health", "/v1/health", "/metrics", "/props", "/v1/models"] {
        assert!(
            routes.iter().any(|r| r == probe),
            "{probe}'s duration recorded: {routes:?}"
        );
    }
}
