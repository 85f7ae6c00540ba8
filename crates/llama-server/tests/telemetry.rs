//! The server's request telemetry seen through the SDK's in-memory exporters (feature
//! `otel-testing`), driving the real request path in-process through the library's router:
//! the span tree of a chat request (HTTP server span → GenAI span → `queue`, `prefill`,
//! `generate`, `first_token` event), its attributes, the links between the GenAI span and the
//! `llama.decode` spans in both directions, the metrics' names, units and buckets, and content
//! capture only with `--otel-capture-content`.
//!
//! `cargo test -p llama-server --features otel-testing --test telemetry`
#![cfg(feature = "otel-testing")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_otel::testing::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use llama_otel::testing::otel::trace::{SpanId, SpanKind, TraceId};
use llama_otel::testing::otel::{Array, Value};
use llama_otel::testing::sdk::trace::SpanData;
use llama_otel::testing::{find_metric, init_for_tests, TestTelemetry};
use llama_otel::{names, semconv};
use llama_server::cli::Cli;
use serde_json::{json, Value as Json};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const CALLER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER_SPAN: &str = "b7ad6b7169203331";
/// What the HTTP spans report as `server.port` (nothing listens in-process).
const PORT: u16 = 18181;
/// `--host` (the default), reported as `server.address`.
const HOST: &str = "127.0.0.1";
const MODEL: &str = "smol";
const USER_AGENT: &str = "telemetry-test/1.0";

/// The router over the test model with `extra` flags; `None` when the model is absent.
fn app(extra: &[&str]) -> Option<axum::Router> {
    let model = common::model_path()?;
    let model = model.to_string_lossy().into_owned();
    let mut args = vec!["llama-server", "-m", &model, "-a", MODEL, "-t", "2"];
    args.extend(["-c", "1024", "--parallel", "2"]);
    args.extend(extra);
    let cli = Cli::try_parse_from(args).unwrap();
    assert!(
        std::env::var("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT").is_err(),
        "unset OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT for these tests"
    );
    Some(llama_server::server::in_process(&cli, PORT).unwrap())
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(app: &axum::Router, req: Request<Body>) -> Reply {
    let (parts, body) = app.clone().oneshot(req).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// POSTs a chat request as a traced caller.
async fn chat(app: &axum::Router, body: Json) -> Reply {
    let req = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .header("user-agent", USER_AGENT)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

fn chat_body(stream: bool) -> Json {
    json!({"model": MODEL, "messages": [{"role": "user", "content": "Say hello"}],
        "max_tokens": 6, "temperature": 0.7, "top_p": 0.9, "top_k": 20, "seed": 42,
        "stop": ["zzqx"], "ignore_eos": true, "stream": stream})
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name:?} in {:?}",
            spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
        )
    })
}

/// Waits until the spans named `names` have all ended (the GenAI span ends on the scheduler
/// thread, just after the response is complete).
fn wait_for_spans(t: &TestTelemetry, names: &[&str]) -> Vec<SpanData> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans = t.finished_spans();
        if names.iter().all(|n| spans.iter().any(|s| s.name == *n)) {
            return spans;
        }
        assert!(Instant::now() < deadline, "spans {names:?} never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn strings(values: &[&str]) -> Value {
    Value::Array(Array::String(
        values.iter().map(|s| s.to_string().into()).collect(),
    ))
}

fn assert_no_duplicate_keys(spans: &[SpanData]) {
    for s in spans {
        let mut seen = HashSet::new();
        for kv in &s.attributes {
            assert!(
                seen.insert(kv.key.as_str()),
                "{}: attribute {} set twice",
                s.name,
                kv.key
            );
        }
    }
}

fn check_http_span(spans: &[SpanData], reply: &Reply) -> SpanId {
    let http = named(spans, "POST /v1/chat/completions");
    assert_eq!(http.span_kind, SpanKind::Server);
    assert_eq!(http.span_context.trace_id().to_string(), CALLER_TRACE);
    assert_eq!(http.parent_span_id.to_string(), CALLER_SPAN);
    assert!(http.parent_span_is_remote);
    let expected = [
        ("http.request.method", Value::from("POST")),
        ("http.route", Value::from("/v1/chat/completions")),
        ("url.path", Value::from("/v1/chat/completions")),
        ("http.response.status_code", Value::I64(200)),
        ("url.scheme", Value::from("http")),
        ("server.address", Value::from(HOST)),
        ("server.port", Value::I64(i64::from(PORT))),
        ("user_agent.original", Value::from(USER_AGENT)),
    ];
    for (key, value) in expected {
        assert_eq!(attr(http, key), Some(value), "HTTP span {key}");
    }
    let id = http.span_context.span_id();
    let traceresponse = reply
        .headers
        .get("traceresponse")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(traceresponse, format!("00-{CALLER_TRACE}-{id}-01"));
    id
}

/// Checks the GenAI span's attributes against the request and the response body.
fn check_genai_attributes(genai: &SpanData, response: &Json, stream: bool) {
    let usage = &response["usage"];
    let expected = [
        (semconv::GEN_AI_OPERATION_NAME, Value::from("chat")),
        (semconv::GEN_AI_PROVIDER_NAME, Value::from(names::PROVIDER)),
        (semconv::SERVER_ADDRESS, Value::from(HOST)),
        (semconv::SERVER_PORT, Value::I64(i64::from(PORT))),
        (semconv::GEN_AI_REQUEST_MODEL, Value::from(MODEL)),
        (semconv::GEN_AI_REQUEST_MAX_TOKENS, Value::I64(6)),
        (semconv::GEN_AI_REQUEST_TEMPERATURE, Value::F64(0.7)),
        (semconv::GEN_AI_REQUEST_TOP_P, Value::F64(0.9)),
        (semconv::GEN_AI_REQUEST_TOP_K, Value::F64(20.0)),
        (semconv::GEN_AI_REQUEST_SEED, Value::I64(42)),
        (semconv::GEN_AI_REQUEST_STREAM, Value::Bool(stream)),
        (semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, Value::I64(0)),
        (semconv::GEN_AI_REQUEST_STOP_SEQUENCES, strings(&["zzqx"])),
        (
            semconv::GEN_AI_RESPONSE_ID,
            Value::from(response["id"].as_str().unwrap().to_owned()),
        ),
        (semconv::GEN_AI_RESPONSE_MODEL, Value::from(MODEL)),
        (
            semconv::GEN_AI_RESPONSE_FINISH_REASONS,
            strings(&["length"]),
        ),
        (
            semconv::GEN_AI_USAGE_INPUT_TOKENS,
            Value::I64(usage["prompt_tokens"].as_i64().unwrap()),
        ),
        (semconv::GEN_AI_USAGE_OUTPUT_TOKENS, Value::I64(6)),
    ];
    for (key, value) in expected {
        assert_eq!(attr(genai, key), Some(value), "GenAI span {key}");
    }
    assert_eq!(
        attr(genai, semconv::ERROR_TYPE),
        None,
        "error.type on a success"
    );
}

/// `queue`, `prefill` and `generate` under the GenAI span, in that order, with the
/// `first_token` event between prefill and generate.
fn check_phases(spans: &[SpanData], genai: &SpanData) {
    let id = genai.span_context.span_id();
    let [queue, prefill, generate] = ["queue", "prefill", "generate"].map(|n| named(spans, n));
    for phase in [queue, prefill, generate] {
        assert_eq!(phase.parent_span_id, id, "{} parent", phase.name);
        assert_eq!(phase.span_context.trace_id(), genai.span_context.trace_id());
    }
    assert!(
        queue.end_time <= prefill.start_time,
        "queue ends before prefill"
    );
    assert!(
        prefill.end_time <= generate.start_time,
        "prefill ends before generate"
    );
    assert!(generate.end_time <= genai.end_time);
    let first = genai
        .events
        .events
        .iter()
        .find(|e| e.name == "first_token")
        .expect("first_token event");
    assert!(prefill.start_time <= first.timestamp && first.timestamp <= generate.start_time);
}

/// The GenAI span links to every decode step that served it, and each links back.
fn check_links(spans: &[SpanData], genai: &SpanData) {
    let me = &genai.span_context;
    let decodes: Vec<&SpanData> = spans.iter().filter(|s| s.name == "llama.decode").collect();
    let linked_back: HashSet<SpanId> = decodes
        .iter()
        .filter(|d| d.links.links.iter().any(|l| l.span_context == *me))
        .map(|d| d.span_context.span_id())
        .collect();
    let links: HashSet<SpanId> = genai
        .links
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    // 1 prefill step + 5 single-token steps (the 6th token needs no decode).
    assert_eq!(links.len(), 6, "GenAI span links: {links:?}");
    assert_eq!(links, linked_back, "links in both directions");
    for d in decodes
        .iter()
        .filter(|d| links.contains(&d.span_context.span_id()))
    {
        assert_eq!(d.parent_span_id, SpanId::INVALID, "decode steps are roots");
        assert_ne!(d.span_context.trace_id(), TraceId::INVALID);
        assert!(attr(d, "llama.decode.n_tokens").is_some());
    }
}

/// The first histogram data point of `name` whose attributes include `with` (any when `None`):
/// its bucket boundaries and count.
fn histogram(
    exports: &[ResourceMetrics],
    name: &str,
    unit: &str,
    with: Option<(&str, &str)>,
) -> (Vec<f64>, u64) {
    let m = find_metric(exports, name).unwrap_or_else(|| panic!("no metric {name}"));
    assert_eq!(m.unit(), unit, "{name} unit");
    let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() else {
        panic!("{name} is not an f64 histogram");
    };
    let dp = h
        .data_points()
        .find(|dp| {
            with.is_none_or(|(k, v)| {
                dp.attributes()
                    .any(|kv| kv.key.as_str() == k && kv.value.as_str() == v)
            })
        })
        .unwrap_or_else(|| panic!("{name}: no data point with {with:?}"));
    (dp.bounds().collect(), dp.count())
}

/// `llama.tokens{gen_ai.token.type}`.
fn tokens_counted(exports: &[ResourceMetrics], kind: &str) -> u64 {
    let m = find_metric(exports, "llama.tokens").expect("llama.tokens");
    assert_eq!(m.unit(), "{token}");
    let AggregatedMetrics::U64(MetricData::Sum(s)) = m.data() else {
        panic!("llama.tokens is not a u64 sum");
    };
    assert!(s.is_monotonic());
    s.data_points()
        .filter(|dp| {
            dp.attributes().any(|kv| {
                kv.key.as_str() == semconv::GEN_AI_TOKEN_TYPE && kv.value.as_str() == kind
            })
        })
        .map(|dp| dp.value())
        .sum()
}

fn check_metrics(t: &TestTelemetry, prompt_tokens: u64) {
    let exports = t.collect_metrics();
    let chat = Some((semconv::GEN_AI_OPERATION_NAME, "chat"));
    let spec = [
        (
            semconv::GEN_AI_SERVER_REQUEST_DURATION,
            &semconv::REQUEST_DURATION_BUCKETS[..],
        ),
        (
            semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
            &semconv::TIME_TO_FIRST_TOKEN_BUCKETS[..],
        ),
        (
            semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
            &semconv::TIME_PER_OUTPUT_TOKEN_BUCKETS[..],
        ),
    ];
    for (name, buckets) in spec {
        let (bounds, count) = histogram(&exports, name, "s", chat);
        assert_eq!(bounds, buckets.to_vec(), "{name} buckets");
        assert_eq!(count, 1, "{name} count");
        let (_, by_provider) = histogram(
            &exports,
            name,
            "s",
            Some((semconv::GEN_AI_PROVIDER_NAME, names::PROVIDER)),
        );
        let (_, by_model) = histogram(
            &exports,
            name,
            "s",
            Some((semconv::GEN_AI_REQUEST_MODEL, MODEL)),
        );
        let (_, by_server) = histogram(&exports, name, "s", Some((semconv::SERVER_ADDRESS, HOST)));
        assert_eq!(
            (by_provider, by_model, by_server),
            (1, 1, 1),
            "{name} attributes"
        );
    }
    let (bounds, count) = histogram(
        &exports,
        semconv::HTTP_SERVER_REQUEST_DURATION,
        "s",
        Some((semconv::HTTP_ROUTE, "/v1/chat/completions")),
    );
    assert_eq!(bounds, semconv::HTTP_REQUEST_DURATION_BUCKETS.to_vec());
    assert_eq!(count, 1, "http.server.request.duration count");
    assert_eq!(tokens_counted(&exports, "input"), prompt_tokens);
    assert_eq!(tokens_counted(&exports, "output"), 6);
    let (bounds, count) = histogram(&exports, "llama.queue.wait.duration", "s", None);
    assert!(
        !bounds.is_empty() && count == 1,
        "llama.queue.wait.duration"
    );
    for (name, unit) in [
        ("llama.requests", "{request}"),
        ("llama.requests.active", "{request}"),
        ("llama.requests.queued", "{request}"),
        ("llama.decode.duration", "s"),
        ("llama.decode.tokens", "{token}"),
        ("llama.sampling.duration", "s"),
        ("llama.slots.busy", "{slot}"),
        ("llama.kv_cache.usage", "1"),
        ("llama.kv_cache.tokens", "{token}"),
        ("llama.context.utilization", "1"),
        ("llama.model.load.duration", "s"),
    ] {
        let m = find_metric(&exports, name).unwrap_or_else(|| panic!("no metric {name}"));
        assert_eq!(m.unit(), unit, "{name} unit");
    }
}

/// `GET /metrics` in-process: llama.cpp's series, then the OpenTelemetry ones.
async fn check_prometheus(app: &axum::Router) {
    let reply = send(app, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::OK);
    for series in [
        "llamacpp:tokens_predicted_total",
        "gen_ai_server_request_duration_seconds_bucket",
        "gen_ai_server_time_to_first_token_seconds_bucket",
        "gen_ai_server_time_per_output_token_seconds_bucket",
        "llama_tokens_total",
    ] {
        assert!(reply.body.contains(series), "/metrics lacks {series}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_request_span_tree_links_and_metrics() {
    let t = init_for_tests();
    let Some(app) = app(&[]) else { return };
    let reply = chat(&app, chat_body(false)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let response: Json = serde_json::from_str(&reply.body).unwrap();
    let genai_name = format!("chat {MODEL}");
    let spans = wait_for_spans(&t, &["POST /v1/chat/completions", &genai_name]);
    assert_no_duplicate_keys(&spans);
    let http_id = check_http_span(&spans, &reply);
    let genai = named(&spans, &genai_name);
    assert_eq!(genai.parent_span_id, http_id);
    assert_eq!(genai.span_context.trace_id().to_string(), CALLER_TRACE);
    check_genai_attributes(genai, &response, false);
    for key in ["gen_ai.input.messages", "gen_ai.output.messages"] {
        assert_eq!(
            attr(genai, key),
            None,
            "{key} recorded without content capture"
        );
    }
    check_phases(&spans, genai);
    check_links(&spans, genai);
    check_metrics(&t, response["usage"]["prompt_tokens"].as_u64().unwrap());
    check_prometheus(&app).await;
    let exports = t.collect_metrics();
    assert!(
        find_metric(&exports, "llama.ggml.op.duration").is_none(),
        "op timing is opt-in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ggml_op_timing_only_with_the_flag() {
    let t = init_for_tests();
    let Some(app) = app(&["--otel-ggml-ops"]) else {
        return;
    };
    let reply = chat(&app, chat_body(false)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let exports = t.collect_metrics();
    let (bounds, count) = histogram(
        &exports,
        "llama.ggml.op.duration",
        "s",
        Some(("ggml.op", "MUL_MAT")),
    );
    assert!(!bounds.is_empty() && count > 0, "matmuls were not timed");
}

/// The text and the id of an SSE chat stream.
fn streamed(body: &str) -> (String, String) {
    let chunks: Vec<Json> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    (text, chunks[0]["id"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_captured_only_with_the_flag() {
    let t = init_for_tests();
    let Some(app) = app(&["--otel-capture-content"]) else {
        return;
    };
    let reply = chat(&app, chat_body(true)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (text, id) = streamed(&reply.body);
    let genai_name = format!("chat {MODEL}");
    let spans = wait_for_spans(&t, &["POST /v1/chat/completions", &genai_name]);
    assert_no_duplicate_keys(&spans);
    let genai = named(&spans, &genai_name);
    let prompt_tokens = attr(genai, semconv::GEN_AI_USAGE_INPUT_TOKENS).unwrap();
    let response = json!({"id": id, "usage": {"prompt_tokens": prompt_tokens.to_string().parse::<i64>().unwrap()}});
    check_genai_attributes(genai, &response, true);
    let input: Json =
        serde_json::from_str(&attr(genai, "gen_ai.input.messages").unwrap().to_string()).unwrap();
    assert_eq!(
        input,
        json!([{"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}])
    );
    let output: Json =
        serde_json::from_str(&attr(genai, "gen_ai.output.messages").unwrap().to_string()).unwrap();
    assert_eq!(
        output,
        json!([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "length"}])
    );
    let http = named(&spans, "POST /v1/chat/completions");
    assert_eq!(genai.parent_span_id, http.span_context.span_id());
    assert!(
        http.end_time <= genai.end_time,
        "a stream's HTTP span ends with the response head"
    );
}
