//! Series and labels, seen through the SDK's in-memory exporters (feature `otel-testing`) on a
//! router whose model never finishes loading (no model file needed): counters with known label
//! values (request outcomes, rejection reasons, token kinds) exist at zero before the first
//! request, and no span attribute or metric label is ever an empty string — not on requests
//! rejected while loading, nor on an unknown route without a user agent.
//!
//! `cargo test -p llama-server --features otel-testing --test telemetry_labels`
#![cfg(feature = "otel-testing")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

use axum::body::Body;
use axum::http::{Request, StatusCode};
use llama_otel::names::{self, CancelReason, EngineError, TokenKind, REJECTION_REASONS};
use llama_otel::semconv;
use llama_otel::testing::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use llama_otel::testing::otel::{Array, KeyValue, Value};
use llama_otel::testing::{find_metric, init_for_tests};
use llama_server::http::{router, AppState, HttpConfig};
use llama_server::telemetry::OPERATIONS;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// The routes of a server still loading its model.
fn loading_app() -> axum::Router {
    router(AppState::new(HttpConfig {
        api_keys: Vec::new(),
        aliases: Vec::new(),
        model_path: "never-loaded.gguf".into(),
        max_body: 1 << 20,
        body_timeout: Duration::from_secs(5),
        server: Default::default(),
        trace_probes: false,
        capture_content: false,
        embeddings: false,
        sampling: Default::default(),
        slots_endpoint: true,
        props_endpoint: false,
        metrics_flag: false,
        n_batch: 2048,
        cors: Default::default(),
        sse_ping: None,
        reasoning_format: Default::default(),
        webui: true,
        verbose: false,
        slot_save_path: None,
    }))
}

type Point = (Vec<KeyValue>, Option<f64>);

/// Attribute sets and values of a metric's data points (values of sums and gauges only).
fn points(m: &Metric) -> Vec<Point> {
    match m.data() {
        AggregatedMetrics::F64(d) => points_of(d, |v| v),
        AggregatedMetrics::U64(d) => points_of(d, |v| v as f64),
        AggregatedMetrics::I64(d) => points_of(d, |v| v as f64),
    }
}

fn points_of<T: Copy>(d: &MetricData<T>, f: impl Fn(T) -> f64) -> Vec<Point> {
    match d {
        MetricData::Sum(s) => s
            .data_points()
            .map(|p| (p.attributes().cloned().collect(), Some(f(p.value()))))
            .collect(),
        MetricData::Gauge(g) => g
            .data_points()
            .map(|p| (p.attributes().cloned().collect(), Some(f(p.value()))))
            .collect(),
        MetricData::Histogram(h) => h
            .data_points()
            .map(|p| (p.attributes().cloned().collect(), None))
            .collect(),
        MetricData::ExponentialHistogram(h) => h
            .data_points()
            .map(|p| (p.attributes().cloned().collect(), None))
            .collect(),
    }
}

fn empty_string(v: &Value) -> bool {
    match v {
        Value::String(s) => s.as_str().is_empty(),
        Value::Array(Array::String(a)) => a.iter().any(|s| s.as_str().is_empty()),
        _ => false,
    }
}

fn has(attrs: &[KeyValue], key: &str, value: &str) -> bool {
    attrs
        .iter()
        .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
}

/// The value of the `llama.requests` point whose attributes are exactly `want`.
fn requests(exports: &[ResourceMetrics], want: &[(&str, &str)]) -> Option<f64> {
    let m = find_metric(exports, names::REQUESTS).expect("llama.requests");
    points(m)
        .into_iter()
        .find(|(attrs, _)| attrs.len() == want.len() && want.iter().all(|(k, v)| has(attrs, k, v)))
        .and_then(|(_, v)| v)
}

fn check_zero_series(exports: &[ResourceMetrics]) {
    let e = semconv::ERROR_TYPE;
    let op = semconv::GEN_AI_OPERATION_NAME;
    let outcome = names::OUTCOME;
    for reason in REJECTION_REASONS {
        let want = [(outcome, "rejected"), (e, reason)];
        assert_eq!(requests(exports, &want), Some(0.0), "{want:?}");
    }
    for operation in OPERATIONS {
        assert_eq!(
            requests(exports, &[(outcome, "success"), (op, operation)]),
            Some(0.0)
        );
        for reason in CancelReason::ALL.map(CancelReason::as_str) {
            let want = [(outcome, "cancelled"), (e, reason), (op, operation)];
            assert_eq!(requests(exports, &want), Some(0.0), "{want:?}");
        }
        for reason in EngineError::ALL.map(EngineError::as_str) {
            let want = [(outcome, "error"), (e, reason), (op, operation)];
            assert_eq!(requests(exports, &want), Some(0.0), "{want:?}");
        }
    }
    let tokens = points(find_metric(exports, names::TOKENS).expect("llama.tokens"));
    for kind in TokenKind::ALL.map(TokenKind::as_str) {
        assert!(
            tokens
                .iter()
                .any(|(a, v)| has(a, names::TOKEN_KIND, kind) && *v == Some(0.0)),
            "llama.tokens{{type={kind}}}: {tokens:?}"
        );
    }
    let text = llama_otel::prometheus_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("llama_requests_total{") && l.contains("error_type=\"queue_full\""))
        .unwrap_or_else(|| panic!("no queue_full series in:\n{text}"));
    assert!(line.ends_with(" 0"), "{line}");
}

async fn send(app: &axum::Router, req: Request<Body>) -> StatusCode {
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_series_start_at_zero_and_no_label_is_empty() {
    let t = init_for_tests();
    let app = loading_app();
    check_zero_series(&t.collect_metrics());
    let chat = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"messages":[{"role":"user","content":"hi"}]}"#,
        ))
        .unwrap();
    assert_eq!(send(&app, chat).await, StatusCode::SERVICE_UNAVAILABLE);
    let unknown = Request::get("/no/such/route").body(Body::empty()).unwrap();
    assert_eq!(send(&app, unknown).await, StatusCode::NOT_FOUND);
    let deadline = Instant::now() + Duration::from_secs(10);
    let spans = loop {
        let spans = t.finished_spans();
        if spans.len() >= 2 {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "HTTP spans never ended: {spans:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for s in &spans {
        for kv in &s.attributes {
            assert!(
                !empty_string(&kv.value),
                "span {:?}: attribute {} is empty",
                s.name,
                kv.key
            );
        }
    }
    // HTTP conventions: `error.type` on the 503, not on the 404 (a client error for a server).
    let error_type = |name: &str| {
        let s = spans.iter().find(|s| s.name == name).unwrap();
        let e = s
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == semconv::ERROR_TYPE);
        e.map(|kv| kv.value.to_string())
    };
    assert_eq!(
        error_type("POST /v1/chat/completions").as_deref(),
        Some("loading")
    );
    assert_eq!(error_type("GET"), None, "a 404 is not a server error");
    let violations = llama_otel::testing::span_violations(&spans);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let exports = t.collect_metrics();
    let violations = llama_otel::testing::metric_violations(&exports);
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    let loading = [("outcome", "rejected"), (semconv::ERROR_TYPE, "loading")];
    assert_eq!(
        requests(&exports, &loading),
        Some(1.0),
        "rejected while loading, no operation label"
    );
    for m in exports
        .last()
        .unwrap()
        .scope_metrics()
        .flat_map(|sm| sm.metrics())
    {
        for (attrs, _) in points(m) {
            for kv in &attrs {
                assert!(
                    !empty_string(&kv.value),
                    "{}: label {} is empty",
                    m.name(),
                    kv.key
                );
            }
        }
    }
    let text = llama_otel::prometheus_text();
    assert!(
        !text.contains("=\"\""),
        "an empty Prometheus label:\n{text}"
    );
}
