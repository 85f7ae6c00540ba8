//! `OTEL_SDK_DISABLED=true` on the `otel` build: the server starts and serves, and `/metrics`
//! still has llama.cpp's `llamacpp:*` series (the OpenTelemetry ones are gone with the SDK).
#![cfg(feature = "otel")]

mod common;
mod otel_support;

use common::{chat_body, Server};
use otel_support::otel_env;

#[test]
fn sdk_disabled_server_still_serves_and_scrapes() {
    let env = otel_env(&[("OTEL_SDK_DISABLED", "true")]);
    let Some(s) = Server::start_with_env(&["-c", "512", "-np", "1"], &env) else {
        return;
    };
    let r = s.post("/v1/chat/completions", &chat_body("What is 2+2?", 4));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["usage"]["completion_tokens"], 4);
    let metrics = s.get("/metrics").expect("metrics");
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    for series in [
        "llamacpp:prompt_tokens_total ",
        "llamacpp:tokens_predicted_total 4",
        "llamacpp:n_decode_total ",
        "llamacpp:requests_processing ",
        "llamacpp:requests_rejected_total{reason=\"queue_full\"} 0",
    ] {
        assert!(
            metrics.body.contains(series),
            "/metrics lacks {series}:\n{}",
            metrics.body
        );
    }
    assert!(
        !metrics.body.contains("gen_ai_server_request_duration"),
        "OpenTelemetry series although the SDK is disabled:\n{}",
        metrics.body
    );
}
