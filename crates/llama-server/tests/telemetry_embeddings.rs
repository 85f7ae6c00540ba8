//! The telemetry of an embedding request, through the SDK's in-memory exporters (feature
//! `otel-testing`), in-process with nomic-embed-text: HTTP span → GenAI span
//! `embeddings {model}` with `gen_ai.operation.name = embeddings` → `queue`; the request counted
//! in `llama.requests` with that operation.
//!
//! `cargo test -p llama-server --features otel-testing --test telemetry_embeddings`
#![cfg(feature = "otel-testing")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_otel::semconv;
use llama_otel::testing::init_for_tests;
use llama_otel::testing::otel::Value;
use llama_otel::testing::sdk::trace::SpanData;
use llama_server::cli::Cli;
use serde_json::json;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedding_request_has_an_embeddings_genai_span() {
    let t = init_for_tests();
    let model = common::workspace().join("models/nomic-embed-text-v1.5.f16.gguf");
    if !model.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} missing",
            model.display()
        );
        eprintln!("skipping: {} not found", model.display());
        return;
    }
    let model = model.to_string_lossy().into_owned();
    let args = ["llama-server", "-m", &model, "-a", "nomic", "-t", "2"];
    let app = llama_server::server::in_process(&Cli::try_parse_from(args).unwrap(), 18182).unwrap();
    let body = json!({"input": ["a", "b c"], "model": "nomic"});
    let req = Request::post("/v1/embeddings")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (parts, body) = app.oneshot(req).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(parts.status, StatusCode::OK);
    let response: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = t.finished_spans();
        let names = [
            "POST /v1/embeddings",
            "embeddings nomic",
            "queue",
            "llama.embed",
            "llama.decode",
        ];
        if names.iter().all(|n| spans.iter().any(|s| s.name == *n)) {
            break spans;
        }
        assert!(Instant::now() < deadline, "embedding spans never ended");
        std::thread::sleep(Duration::from_millis(20));
    };
    let http = spans
        .iter()
        .find(|s| s.name == "POST /v1/embeddings")
        .unwrap();
    let genai = spans.iter().find(|s| s.name == "embeddings nomic").unwrap();
    assert_eq!(genai.parent_span_id, http.span_context.span_id());
    let queue = spans.iter().find(|s| s.name == "queue").unwrap();
    assert_eq!(queue.parent_span_id, genai.span_context.span_id());
    // The encoder's graph computation is a `llama.decode` span like a generative decode call.
    let embed = spans.iter().find(|s| s.name == "llama.embed").unwrap();
    let decode = spans.iter().find(|s| s.name == "llama.decode").unwrap();
    assert_eq!(decode.parent_span_id, embed.span_context.span_id());
    assert_eq!(
        attr(decode, "llama.decode.encoder"),
        Some(Value::Bool(true))
    );
    let tokens = response["usage"]["prompt_tokens"].as_i64().unwrap();
    for (key, value) in [
        (semconv::GEN_AI_OPERATION_NAME, Value::from("embeddings")),
        (
            semconv::GEN_AI_PROVIDER_NAME,
            Value::from(llama_otel::names::PROVIDER),
        ),
        (semconv::GEN_AI_REQUEST_MODEL, Value::from("nomic")),
        (semconv::GEN_AI_RESPONSE_MODEL, Value::from("nomic")),
        (semconv::GEN_AI_USAGE_INPUT_TOKENS, Value::I64(tokens)),
    ] {
        assert_eq!(attr(genai, key), Some(value), "GenAI span {key}");
    }
}
