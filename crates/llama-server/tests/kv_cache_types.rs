//! `-ctk`/`-ctv` through the server (SmolLM2, in-process): `/props` `memory` shows the smaller
//! quantized cache (q8_0: 34 bytes per 32 elements instead of F16's 64), a greedy answer is
//! served from it, `-fa off` with a quantized V is refused with llama.cpp's message, and with
//! `otel-testing` the `llama.kv_cache.alloc` span carries the types and `llama.memory.usage`
//! the same K/V bytes as `/props`.
//!
//! `cargo test -p llama-server --test kv_cache_types` (add `--features otel-testing`)
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Parser;
use http_body_util::BodyExt;
use llama_server::cli::Cli;
use serde_json::Value as Json;
use tower::ServiceExt;

fn cli(extra: &[&str]) -> Option<Cli> {
    let path = common::model_path()?;
    let model = path.to_string_lossy().into_owned();
    let mut args = vec![
        "llama-server",
        "-m",
        &model,
        "-t",
        "1",
        "-c",
        "1024",
        "-np",
        "1",
    ];
    args.extend_from_slice(extra);
    Some(
        Cli::try_parse_from(llama_server::cli::normalize_args(
            args.iter().map(|s| s.to_string()),
        ))
        .unwrap(),
    )
}

async fn call(app: &axum::Router, req: Request<Body>) -> Json {
    let (parts, body) = app.clone().oneshot(req).await.unwrap().into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    assert_eq!(parts.status, StatusCode::OK, "{bytes:?}");
    serde_json::from_slice(&bytes).unwrap()
}

async fn memory(app: &axum::Router) -> Json {
    let props = call(app, Request::get("/props").body(Body::empty()).unwrap()).await;
    props["memory"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantized_cache_shows_in_props_and_serves() {
    #[cfg(feature = "otel-testing")]
    let t = llama_otel::testing::init_for_tests();
    let Some(q8) = cli(&["-ctk", "q8_0", "-ctv", "q8_0", "-fa", "on"]) else {
        return;
    };
    let q8_app = llama_server::server::in_process(&q8, 18302).unwrap();
    let m8 = memory(&q8_app).await;
    // SmolLM2-135M: 30 layers, 3 KV heads of 64 = 192 elements per cell, 1024 cells; q8_0
    // stores them in 6 blocks of 34 bytes (F16 would take 384 bytes: 11,796,480 per kind).
    for kind in ["kv_k", "kv_v"] {
        assert_eq!(m8[kind].as_u64(), Some(30 * 1024 * 6 * 34), "{kind}: {m8}");
    }
    let body = serde_json::json!({"prompt": "The capital of France is", "n_predict": 4,
                                  "temperature": 0, "cache_prompt": false});
    let req = Request::post("/completion")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let answer = call(&q8_app, req).await;
    assert!(
        answer["content"].as_str().unwrap().starts_with(" Paris"),
        "{answer}"
    );
    #[cfg(feature = "otel-testing")]
    otel::check(&t, &m8);
}

#[test]
fn quantized_v_without_flash_attention_stops_the_server() {
    let Some(cli) = cli(&["-ctv", "q4_0", "-fa", "off"]) else {
        return;
    };
    let err = llama_server::server::in_process(&cli, 18303).unwrap_err();
    assert!(
        err.contains("quantized V cache requires flash_attn to be enabled"),
        "{err}"
    );
}

#[cfg(feature = "otel-testing")]
mod otel {
    use super::Json;
    use llama_otel::testing::data::{AggregatedMetrics, MetricData};
    use llama_otel::testing::{find_metric, TestTelemetry};

    /// The q8_0 context's alloc span names its types; `llama.memory.usage` of kind kv_k
    /// reports `/props`' q8_0 figure.
    pub fn check(t: &TestTelemetry, m8: &Json) {
        let spans = t.finished_spans();
        let typed = spans
            .iter()
            .filter(|s| s.name == "llama.kv_cache.alloc")
            .any(|s| {
                let attr = |k: &str| {
                    s.attributes
                        .iter()
                        .find(|kv| kv.key.as_str() == k)
                        .map(|kv| kv.value.to_string())
                };
                attr("llama.kv_cache.type_k").as_deref() == Some("q8_0")
                    && attr("llama.kv_cache.type_v").as_deref() == Some("q8_0")
            });
        assert!(typed, "no llama.kv_cache.alloc span with q8_0 types");
        let exports = t.collect_metrics();
        let m = find_metric(&exports, "llama.memory.usage").unwrap();
        fn is_kv_k<'a>(
            mut a: impl Iterator<Item = &'a llama_otel::testing::otel::KeyValue>,
        ) -> bool {
            a.any(|kv| kv.key.as_str() == "llama.memory.kind" && kv.value.as_str() == "kv_k")
        }
        let kv_k: Vec<f64> = match m.data() {
            AggregatedMetrics::F64(MetricData::Sum(s)) => s
                .data_points()
                .filter(|p| is_kv_k(p.attributes()))
                .map(|p| p.value())
                .collect(),
            AggregatedMetrics::F64(MetricData::Gauge(g)) => g
                .data_points()
                .filter(|p| is_kv_k(p.attributes()))
                .map(|p| p.value())
                .collect(),
            _ => panic!("llama.memory.usage: not an f64 sum or gauge"),
        };
        assert!(
            kv_k.contains(&m8["kv_k"].as_f64().unwrap()),
            "kv_k points {kv_k:?} vs /props {}",
            m8["kv_k"]
        );
    }
}
