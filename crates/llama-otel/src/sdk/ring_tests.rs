//! Tests of the trace buffer: what it keeps, its bounds, and the OTLP/JSON it serves.

use super::*;
use crate::traces::recent_traces_otlp_json;
use opentelemetry::trace::{Link, SpanContext, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use std::sync::MutexGuard;

/// A provider feeding a fresh buffer; the lock keeps other tests' SDKs away from `CURRENT`.
fn provider() -> (SdkTracerProvider, SdkTracer, MutexGuard<'static, ()>) {
    let serial = crate::state::TEST_SERIAL
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("ring-test")
                .build(),
        )
        .with_span_processor(RingProcessor::install())
        .build();
    let tracer = provider.tracer("ring-test");
    (provider, tracer, serial)
}

/// A root span `name` with one child, the child ended first; the root's context.
fn request(tracer: &SdkTracer, name: &str) -> SpanContext {
    let root = tracer.start(name.to_owned());
    let cx = Context::current_with_span(root);
    let mut child = tracer.start_with_context("child", &cx);
    child.end();
    let sc = cx.span().span_context().clone();
    cx.span().end();
    sc
}

fn names(trace: &[SpanData]) -> Vec<String> {
    trace.iter().map(|s| s.name.to_string()).collect()
}

#[test]
fn keeps_the_last_traces_newest_first_and_evicts_the_oldest() {
    let (_p, tracer, _serial) = provider();
    let extra = 5;
    for i in 0..MAX_TRACES + extra {
        request(&tracer, &format!("request {i}"));
    }
    let (_, traces) = snapshot(usize::MAX).expect("buffer installed");
    assert_eq!(traces.len(), MAX_TRACES);
    let newest = format!("request {}", MAX_TRACES + extra - 1);
    assert_eq!(names(&traces[0]), ["child", newest.as_str()]);
    let oldest_kept = format!("request {extra}");
    assert_eq!(names(&traces[MAX_TRACES - 1])[1], oldest_kept);
    assert_eq!(counters(), Some((0, extra as u64)));
    let (_, two) = snapshot(2).expect("buffer installed");
    assert_eq!(two.len(), 2);
}

#[test]
fn lone_roots_are_skipped_but_a_root_ending_before_its_children_is_kept() {
    let (_p, tracer, _serial) = provider();
    tracer.start("GET /health").end();
    // A streamed response: the HTTP span ends while the GenAI span below it still runs.
    let http = tracer.start("POST /v1/chat/completions");
    let cx = Context::current_with_span(http);
    let mut genai = tracer.start_with_context("chat smollm2", &cx);
    cx.span().end();
    genai.end();
    let (_, traces) = snapshot(10).expect("buffer installed");
    assert_eq!(traces.len(), 1, "only the request is kept");
    assert_eq!(
        names(&traces[0]),
        ["POST /v1/chat/completions", "chat smollm2"]
    );
    assert_eq!(counters(), Some((1, 0)), "the lone /health span is counted");
}

#[test]
fn a_linked_root_is_filed_under_every_trace_it_links_to() {
    let (_p, tracer, _serial) = provider();
    let a = request(&tracer, "request a");
    let b = request(&tracer, "request b");
    let links = vec![Link::with_context(a.clone()), Link::with_context(b.clone())];
    let mut decode = tracer
        .span_builder("llama.decode")
        .with_links(links)
        .start(&tracer);
    let decode_trace = decode.span_context().trace_id();
    decode.end();
    let (_, traces) = snapshot(10).expect("buffer installed");
    assert_eq!(traces.len(), 2, "the decode step is not a trace of its own");
    for trace in &traces {
        let step = trace.last().expect("spans");
        assert_eq!(step.name, "llama.decode");
        assert_eq!(step.span_context.trace_id(), decode_trace);
    }
    assert_eq!(traces[0][0].span_context.trace_id(), b.trace_id());
}

#[test]
fn a_trace_holds_at_most_its_bound_and_its_own_spans_displace_linked_ones() {
    let (_p, tracer, _serial) = provider();
    let root = tracer.start("big");
    let cx = Context::current_with_span(root);
    let target = cx.span().span_context().clone();
    let mut first = tracer.start_with_context("first", &cx);
    first.end();
    for _ in 0..MAX_SPANS_PER_TRACE {
        tracer
            .span_builder("llama.decode")
            .with_links(vec![Link::with_context(target.clone())])
            .start(&tracer)
            .end();
    }
    cx.span().end();
    let (_, traces) = snapshot(1).expect("buffer installed");
    let trace = &traces[0];
    assert_eq!(trace.len(), MAX_SPANS_PER_TRACE);
    let own = names(trace);
    assert_eq!(
        &own[..2],
        ["first", "big"],
        "the root displaced a linked step"
    );
    assert_eq!(counters(), Some((1, 0)), "one step past the bound");
}

#[test]
fn string_values_are_cut_in_the_buffer() {
    let (_p, tracer, _serial) = provider();
    let root = tracer.start("root");
    let cx = Context::current_with_span(root);
    let mut child = tracer.start_with_context("child", &cx);
    child.set_attribute(KeyValue::new("long", "x".repeat(MAX_VALUE_CHARS * 4)));
    child.end();
    cx.span().end();
    let (_, traces) = snapshot(1).expect("buffer installed");
    let value = traces[0][0].attributes[0].value.as_str();
    assert_eq!(value.chars().count(), MAX_VALUE_CHARS);
}

#[test]
fn otlp_json_uses_the_protobuf_json_field_names() {
    let (provider, tracer, _serial) = provider();
    let root = tracer.start("POST /v1/chat/completions");
    let cx = Context::current_with_span(root);
    let mut child = tracer.start_with_context("chat smollm2", &cx);
    child.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", 12_i64));
    child.set_attribute(KeyValue::new("gen_ai.request.model", "smollm2"));
    child.end();
    let sc = cx.span().span_context().clone();
    cx.span().end();
    let text = recent_traces_otlp_json(5).expect("buffer installed");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let rs = &json["resourceSpans"];
    assert_eq!(rs.as_array().map(Vec::len), Some(1), "{json}");
    let service = &rs[0]["resource"]["attributes"]
        .as_array()
        .expect("resource attributes")
        .iter()
        .find(|kv| kv["key"] == "service.name")
        .expect("service.name")["value"]["stringValue"];
    assert_eq!(service, "ring-test");
    let spans = rs[0]["scopeSpans"][0]["spans"].as_array().expect("spans");
    let genai = &spans[0];
    assert_eq!(genai["traceId"], sc.trace_id().to_string());
    assert_eq!(genai["parentSpanId"], sc.span_id().to_string());
    assert_eq!(genai["spanId"].as_str().map(str::len), Some(16));
    assert_eq!(genai["traceId"].as_str().map(str::len), Some(32));
    assert!(genai["startTimeUnixNano"].is_string(), "{genai}");
    assert!(genai["endTimeUnixNano"].is_string(), "{genai}");
    let attrs = genai["attributes"].as_array().expect("attributes");
    let value = |key: &str| {
        attrs
            .iter()
            .find(|kv| kv["key"] == key)
            .map(|kv| kv["value"].clone())
    };
    assert_eq!(
        value("gen_ai.usage.input_tokens"),
        Some(serde_json::json!({"intValue": "12"}))
    );
    assert_eq!(
        value("gen_ai.request.model"),
        Some(serde_json::json!({"stringValue": "smollm2"}))
    );
    assert_eq!(spans[1]["name"], "POST /v1/chat/completions");
    assert_eq!(rs[0]["scopeSpans"][0]["scope"]["name"], "ring-test");
    let _ = provider.shutdown();
    assert!(
        recent_traces_otlp_json(5).is_none(),
        "nothing to read once the provider is shut down"
    );
}

#[test]
fn the_oldest_traces_go_when_the_buffer_passes_its_byte_bound() {
    let (_p, tracer, _serial) = provider();
    let value = "v".repeat(MAX_VALUE_CHARS);
    for t in 0..MAX_TRACES {
        let root = tracer.start(format!("request {t}"));
        let cx = Context::current_with_span(root);
        // 20 spans of ~32 KiB: ~640 KiB a trace, 20 MiB for all of them.
        for _ in 0..20 {
            let mut child = tracer.start_with_context("child", &cx);
            child.set_attributes((0..100).map(|i| KeyValue::new(format!("a{i}"), value.clone())));
            child.end();
        }
        cx.span().end();
    }
    let (_, traces) = snapshot(usize::MAX).expect("buffer installed");
    let bytes: usize = traces.iter().flatten().map(span_bytes).sum();
    assert!(bytes <= MAX_BYTES, "{bytes} bytes held");
    assert!(
        traces.len() < MAX_TRACES,
        "{} traces of ~640 KiB each",
        traces.len()
    );
    let (_, evicted) = counters().expect("buffer installed");
    assert_eq!(evicted as usize, MAX_TRACES - traces.len());
    assert_eq!(
        names(&traces[0]).last().map(String::as_str),
        Some("request 31")
    );
}
