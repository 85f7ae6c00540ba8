//! OTLP logs against a real collector: the server binary (built with `otel`) exports its
//! `tracing` events as OTLP log records to `rotel-agent` (printing them with `--debug-log
//! logs`), and every record emitted while a request is served carries that request's trace
//! id — the request log line with the HTTP server span's id, the scheduler thread's lines with
//! the GenAI span's — next to the spans of the same trace.
//!
//! Without rotel the test is skipped with a note (it fails under CI).
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;
mod otel_support;

use common::Server;
use otel_support::{otel_env, Exported, LogRecord, Rotel};
use serde_json::json;
use std::time::Duration;

const HTTP_SPAN: &str = "POST /v1/chat/completions";
const GENAI_SPAN: &str = "chat smol";

/// The request's log line (`request`, the chat route).
fn request_line<'a>(e: &'a Exported, trace: &str) -> Option<&'a LogRecord> {
    e.logs.iter().find(|l| {
        l.body == "Str(request)"
            && l.attr("http.route") == Some("Str(/v1/chat/completions)")
            && l.trace_id == trace
    })
}

fn received(e: &Exported, trace: &str) -> bool {
    let span = |name| {
        e.spans
            .iter()
            .any(|s| s.name == name && s.trace_id == trace)
    };
    request_line(e, trace).is_some()
        && span(HTTP_SPAN)
        && span(GENAI_SPAN)
        && e.logs.iter().any(|l| l.body == "Str(generation finished)")
}

#[test]
fn log_records_carry_the_trace_ids_of_their_request() {
    let Some(rotel) = Rotel::start_with_logs() else {
        return;
    };
    let grpc = format!("http://127.0.0.1:{}", rotel.grpc_port);
    let env = otel_env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &grpc),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_LOGS_EXPORTER", ""),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "50"),
        ("OTEL_SERVICE_NAME", "llama-e2e-logs"),
    ]);
    // `-lv 4`: the scheduler's debug lines too.
    let args = ["-a", "smol", "-c", "512", "--parallel", "1", "-lv", "4"];
    let Some(mut server) = Server::start_with_env(&args, &env) else {
        return;
    };
    let body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
        "temperature": 0, "ignore_eos": true});
    let reply = server.post("/v1/chat/completions", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    // `00-{trace}-{HTTP span}-01`.
    let traceresponse = reply.header("traceresponse").expect("traceresponse");
    let trace = traceresponse.split('-').nth(1).unwrap().to_owned();
    let e = rotel.wait_for(Duration::from_secs(20), |e| received(e, &trace));

    let span_id = |name| {
        let span = e
            .spans
            .iter()
            .find(|s| s.name == name && s.trace_id == trace);
        span.map(|s| s.id.clone()).unwrap()
    };
    let (http, genai) = (span_id(HTTP_SPAN), span_id(GENAI_SPAN));
    let line = request_line(&e, &trace).unwrap();
    assert_eq!(line.span_id, http, "the request line names the server span");
    assert_eq!(line.severity, "INFO");
    assert_eq!(line.attr("http.request.method"), Some("Str(POST)"));
    assert_eq!(line.attr("http.response.status_code"), Some("Int(200)"));
    assert_eq!(line.attr("gen_ai.usage.output_tokens"), Some("Int(3)"));
    assert_eq!(
        line.attr("trace_id"),
        Some(format!("Str({trace})").as_str())
    );
    assert!(line
        .attr("duration_ms")
        .is_some_and(|d| d.starts_with("Double(")));

    // Every record written while the request was served: the scheduler thread's lines too.
    let served: Vec<&LogRecord> = e
        .logs
        .iter()
        .filter(|l| {
            l.body == "Str(request)" && l.attr("http.route").is_some_and(|r| r.contains("chat"))
                || l.body == "Str(generation finished)"
                || l.body.starts_with("Str(slot ")
        })
        .collect();
    assert!(served.len() >= 3, "{served:#?}");
    for record in &served {
        assert_eq!(record.trace_id, trace, "{record:#?}");
    }
    for record in served.iter().filter(|l| l.body != "Str(request)") {
        assert_eq!(
            record.span_id, genai,
            "scheduler lines name the GenAI span: {record:#?}"
        );
    }
    // Start-up lines belong to no request.
    let startup = e
        .logs
        .iter()
        .find(|l| l.body.starts_with("Str(llama-server listening on"))
        .expect("the readiness line was exported");
    assert_eq!(startup.trace_id, "");
    let (status, _) = server.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status}");
    eprintln!(
        "{} log records, {} of the request, all in trace {trace}",
        e.logs.len(),
        served.len()
    );
}
