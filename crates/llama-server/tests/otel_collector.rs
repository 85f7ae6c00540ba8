//! End to end against a real collector: the server binary (built with `otel`) exports over
//! OTLP gRPC and, separately, OTLP http/protobuf to `rotel-agent` (PyPI `rotel`), and what
//! rotel prints shows the caller's trace continued (server span under the caller's span,
//! `traceresponse` naming it), the GenAI span tree, links to and from the decode steps, the
//! resource, and the metric names.
//!
//! Without rotel the tests are skipped with a note (they fail under CI). `ROTEL_AGENT` may
//! name the binary.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;
mod otel_support;

use common::Server;
use otel_support::{otel_env, Exported, Rotel, SpanRecord};
use serde_json::json;
use std::time::{Duration, Instant};

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const HTTP_SPAN: &str = "POST /v1/chat/completions";
const GENAI_SPAN: &str = "chat smol";

const METRICS: [&str; 10] = [
    "gen_ai.server.request.duration",
    "gen_ai.server.time_to_first_token",
    "gen_ai.server.time_per_output_token",
    "llama.tokens",
    "llama.requests",
    "llama.queue.wait.duration",
    "llama.decode.duration",
    "llama.kv_cache.usage",
    "llama.model.load.duration",
    "llama.telemetry.dropped",
];

#[derive(Clone, Copy, Debug)]
enum How {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
    GrpcByEnv,
    /// `--otlp-endpoint` + `--otlp-protocol http/protobuf`.
    HttpByFlags,
}

/// Starts the server exporting to `rotel` as `how` says.
fn start_server(rotel: &Rotel, how: How, service: &str) -> Option<Server> {
    let grpc = format!("http://127.0.0.1:{}", rotel.grpc_port);
    let http = format!("http://127.0.0.1:{}", rotel.http_port);
    let mut vars = vec![
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_SERVICE_NAME", service),
    ];
    let mut args = vec!["-a", "smol", "-c", "512", "--parallel", "1"];
    match how {
        How::GrpcByEnv => {
            vars.push(("OTEL_EXPORTER_OTLP_ENDPOINT", &grpc));
            vars.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"));
        }
        How::HttpByFlags => {
            vars.push(("OTEL_EXPORTER_OTLP_ENDPOINT", ""));
            args.extend(["--otlp-endpoint", &http, "--otlp-protocol", "http/protobuf"]);
        }
    }
    Server::start_with_env(&args, &otel_env(&vars))
}

fn received_everything(e: &Exported) -> bool {
    let ours = |name| {
        e.spans
            .iter()
            .any(|s| s.name == name && s.trace_id == CALLER_TRACE)
    };
    [HTTP_SPAN, GENAI_SPAN, "queue", "prefill", "generate"]
        .into_iter()
        .all(ours)
        && METRICS.iter().all(|m| e.metrics.contains(*m))
}

fn in_trace<'a>(e: &'a Exported, name: &str) -> &'a SpanRecord {
    e.spans
        .iter()
        .find(|s| s.name == name && s.trace_id == CALLER_TRACE)
        .unwrap_or_else(|| panic!("no span {name} in the caller's trace"))
}

/// The span tree, ids and links as rotel printed them.
fn check_spans(e: &Exported, traceresponse: &str) {
    let http = in_trace(e, HTTP_SPAN);
    assert_eq!(
        http.parent_id, CALLER_SPAN,
        "server span continues the caller's"
    );
    assert_eq!(http.kind, "SPAN_KIND_SERVER");
    assert_eq!(http.attr("http.response.status_code"), Some("Int(200)"));
    assert_eq!(http.attr("http.route"), Some("Str(/v1/chat/completions)"));
    assert_eq!(http.attr("user_agent.original"), Some("Str(e2e-test)"));
    assert_eq!(traceresponse, format!("00-{CALLER_TRACE}-{}-01", http.id));
    let genai = in_trace(e, GENAI_SPAN);
    assert_eq!(genai.parent_id, http.id);
    assert_eq!(genai.attr("gen_ai.operation.name"), Some("Str(chat)"));
    assert_eq!(genai.attr("gen_ai.usage.output_tokens"), Some("Int(3)"));
    assert!(genai.events.iter().any(|n| n == "first_token"));
    for phase in ["queue", "prefill", "generate"] {
        assert_eq!(in_trace(e, phase).parent_id, genai.id, "{phase} parent");
    }
    assert!(
        !genai.links.is_empty(),
        "the GenAI span links to decode steps"
    );
    for (trace, id) in &genai.links {
        let decode = e
            .spans
            .iter()
            .find(|s| &s.id == id && &s.trace_id == trace)
            .unwrap_or_else(|| panic!("linked span {trace}/{id} was not exported"));
        assert_eq!(decode.name, "llama.decode");
        assert!(
            decode
                .links
                .contains(&(CALLER_TRACE.to_owned(), genai.id.clone())),
            "decode step {id} does not link back"
        );
    }
}

/// What the collector received, against `llama_otel::catalog`: every metric name and every
/// span attribute (with the value type rotel prints) has a row there.
fn check_catalog(e: &Exported) {
    use llama_otel::catalog::{self, AttrType};
    let mut problems: Vec<String> = e
        .metrics
        .iter()
        .filter(|m| catalog::metric_row(m).is_none())
        .map(|m| format!("metric {m} is not in the catalog"))
        .collect();
    for span in &e.spans {
        for (key, value) in &span.attributes {
            let ty = match value.split_once('(').map(|(t, _)| t) {
                Some("Str") => Some(AttrType::String),
                Some("Int") => Some(AttrType::Int),
                Some("Double") => Some(AttrType::Double),
                Some("Bool") => Some(AttrType::Bool),
                Some("Slice") => Some(AttrType::StringArray),
                _ => None,
            };
            match catalog::attribute(key) {
                None => problems.push(format!("{}: {key} is not in the catalog", span.name)),
                Some(row) if Some(row.ty) != ty => problems.push(format!(
                    "{}: {key} = {value}, the catalog says {:?}",
                    span.name, row.ty
                )),
                Some(_) => {}
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn end_to_end(how: How) {
    let Some(rotel) = Rotel::start() else { return };
    let started = Instant::now();
    let service = format!("llama-e2e-{how:?}");
    let Some(mut server) = start_server(&rotel, how, &service) else {
        return;
    };
    let body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
        "temperature": 0, "ignore_eos": true});
    let headers =
        format!("traceparent: 00-{CALLER_TRACE}-{CALLER_SPAN}-01\r\nUser-Agent: e2e-test\r\n");
    let reply = server
        .post_raw("/v1/chat/completions", &body.to_string(), &headers)
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let traceresponse = reply
        .header("traceresponse")
        .expect("traceresponse")
        .to_owned();
    let exported = rotel.wait_for(Duration::from_secs(20), received_everything);
    check_spans(&exported, &traceresponse);
    check_catalog(&exported);
    let service_attr = format!("Str({service})");
    assert!(
        exported
            .resource
            .iter()
            .any(|(k, v)| k == "service.name" && *v == service_attr),
        "resource: {:?}",
        exported.resource
    );
    let (status, took) = server.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status}");
    eprintln!(
        "{how:?}: {:.1} s (shutdown {took:?})",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn exports_over_grpc_to_a_real_collector() {
    end_to_end(How::GrpcByEnv);
}

#[test]
fn exports_over_http_protobuf_to_a_real_collector() {
    end_to_end(How::HttpByFlags);
}
