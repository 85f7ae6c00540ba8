//! Tool calls on the GenAI span (feature `otel-testing`, in-process router, Qwen2.5-Coder with a
//! weather tool and content capture on): `llama.response.tool_calls`, one `gen_ai.tool.call`
//! event per call with the id, name and arguments the client got, `tool_calls` in
//! `gen_ai.response.finish_reasons`, and a `tool_call` part in `gen_ai.output.messages`.
//!
//! `cargo test -p llama-server --features otel-testing --test telemetry_tool_calls`
#![cfg(feature = "otel-testing")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_otel::semconv;
use llama_otel::testing::init_for_tests;
use llama_otel::testing::otel::{Array, Value};
use llama_otel::testing::sdk::trace::SpanData;
use llama_server::cli::Cli;
use serde_json::{json, Value as Json};
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_are_counted_and_recorded_as_events() {
    let t = init_for_tests();
    let Some(model) = common::named_model("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf") else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let args = [
        "llama-server",
        "-m",
        &model,
        "-a",
        "qwen",
        "-c",
        "2048",
        "--parallel",
        "1",
    ];
    let cli = Cli::try_parse_from(args.iter().chain(&["--otel-capture-content"])).unwrap();
    let app = llama_server::server::in_process(&cli, 18183).unwrap();
    let body = json!({"model": "qwen", "temperature": 0, "max_tokens": 96,
        "messages": [{"role": "user", "content": "What is the weather like in Paris right now?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]});
    let req = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (parts, body) = app.oneshot(req).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(parts.status, StatusCode::OK);
    let reply: Json = serde_json::from_slice(&bytes).unwrap();
    let call = &reply["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather", "{reply}");

    let deadline = Instant::now() + Duration::from_secs(30);
    let genai = loop {
        if let Some(s) = t
            .finished_spans()
            .into_iter()
            .find(|s| s.name == "chat qwen")
        {
            break s;
        }
        assert!(Instant::now() < deadline, "the GenAI span never ended");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        attr(&genai, semconv::GEN_AI_RESPONSE_FINISH_REASONS),
        Some(Value::Array(Array::String(vec!["tool_calls".into()])))
    );
    let n_calls = reply["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        attr(&genai, "llama.response.tool_calls"),
        Some(Value::I64(n_calls as i64))
    );
    let events: Vec<_> = genai
        .events
        .iter()
        .filter(|e| e.name == "gen_ai.tool.call")
        .collect();
    assert_eq!(events.len(), n_calls);
    let event_attr = |key: &str| {
        events[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    assert_eq!(
        event_attr("gen_ai.tool.call.id").as_deref(),
        call["id"].as_str()
    );
    assert_eq!(
        event_attr("gen_ai.tool.name").as_deref(),
        Some("get_weather")
    );
    assert_eq!(
        event_attr("gen_ai.tool.call.arguments").as_deref(),
        call["function"]["arguments"].as_str()
    );
    let output: Json =
        serde_json::from_str(&attr(&genai, "gen_ai.output.messages").unwrap().to_string()).unwrap();
    let part = &output[0]["parts"][0];
    assert_eq!(part["type"], "tool_call", "{output}");
    assert_eq!(part["name"], "get_weather");
    assert_eq!(part["id"], call["id"]);
    assert_eq!(output[0]["finish_reason"], "tool_calls");
    // The tool-call events' attributes against the catalog of emitted names.
    let violations = llama_otel::testing::span_violations(std::slice::from_ref(&genai));
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
