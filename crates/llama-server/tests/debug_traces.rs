//! `GET /debug/traces` on the `otel` build with no OTLP endpoint at all: the in-process buffer
//! holds the last requests' spans (HTTP → GenAI → queue/prefill/generate, and the
//! `llama.decode` steps linked to them) and serves them as OTLP/JSON; it is bounded (the oldest
//! trace evicted) and `limit` picks the newest.
#![cfg(feature = "otel")]

mod common;
mod otel_support;

use common::{chat_body, Server};
use otel_support::otel_env;
use serde_json::Value;

/// The trace id of a response's `traceresponse` header.
fn trace_id(r: &common::Response) -> String {
    let header = r.header("traceresponse").expect("traceresponse header");
    header.split('-').nth(1).expect("trace id").to_owned()
}

fn start(args: &[&str]) -> Option<Server> {
    let mut all = vec!["-c", "1024", "-np", "2", "--api-key", "sk-t"];
    all.extend_from_slice(args);
    Server::start_with_env(&all, &otel_env(&[]))
}

fn traces(s: &Server, query: &str) -> Value {
    let r = s.get(&format!("/debug/traces{query}")).expect("request");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.json()
}

/// The spans of each `resourceSpans` entry (one per trace).
fn entries(json: &Value) -> Vec<Vec<Value>> {
    json["resourceSpans"]
        .as_array()
        .expect("resourceSpans")
        .iter()
        .map(|rs| {
            rs["scopeSpans"]
                .as_array()
                .expect("scopeSpans")
                .iter()
                .flat_map(|ss| ss["spans"].as_array().expect("spans").clone())
                .collect()
        })
        .collect()
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn nanos(span: &Value, field: &str) -> u128 {
    let text = span[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string: {span}"));
    text.parse().unwrap_or_else(|_| panic!("{field}: {text}"))
}

fn named<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
}

#[test]
fn a_request_shows_as_one_trace_with_its_phases_and_linked_decode_steps() {
    let Some(s) = start(&[]) else {
        return;
    };
    let r = s.post("/v1/chat/completions", &chat_body("What is 2+2?", 6));
    assert_eq!(r.status, 200, "{}", r.body);
    let id = trace_id(&r);
    let json = traces(&s, "?limit=5");
    let all = entries(&json);
    // The request and the model load; /health and the other GETs are lone spans, not kept.
    assert_eq!(all.len(), 2, "{json}");
    assert!(
        all[1].iter().any(|s| s["name"] == "llama.model.load"),
        "{json}"
    );
    let resource = &json["resourceSpans"][0]["resource"]["attributes"];
    assert!(resource
        .as_array()
        .is_some_and(|a| a.iter().any(|kv| kv["key"] == "service.name")));
    let spans = &all[0];
    let own: Vec<Value> = spans
        .iter()
        .filter(|s| s["traceId"] == id)
        .cloned()
        .collect();
    let http = named(&own, "POST /v1/chat/completions");
    assert_eq!(http["kind"], 2, "SERVER");
    assert!(http.get("parentSpanId").is_none_or(|p| p == ""), "{http}");
    assert_eq!(
        attr(http, "http.response.status_code"),
        Some(&serde_json::json!({"intValue": "200"}))
    );
    let genai = own
        .iter()
        .find(|s| attr(s, "gen_ai.operation.name").is_some())
        .expect("GenAI span");
    assert_eq!(genai["parentSpanId"], http["spanId"]);
    assert_eq!(
        attr(genai, "gen_ai.usage.output_tokens"),
        Some(&serde_json::json!({"intValue": "6"}))
    );
    for phase in ["queue", "prefill", "generate"] {
        let span = named(&own, phase);
        assert_eq!(span["parentSpanId"], genai["spanId"], "{phase}");
        assert!(nanos(span, "endTimeUnixNano") >= nanos(span, "startTimeUnixNano"));
        assert!(nanos(span, "startTimeUnixNano") >= nanos(genai, "startTimeUnixNano"));
    }
    let steps: Vec<&Value> = spans.iter().filter(|s| s["traceId"] != id).collect();
    assert!(steps.len() >= 2, "prefill and generation steps: {steps:?}");
    for step in &steps {
        assert_eq!(step["name"], "llama.decode");
        let linked = step["links"].as_array().is_some_and(|links| {
            links
                .iter()
                .any(|l| l["traceId"] == id && l["spanId"] == genai["spanId"])
        });
        assert!(
            linked,
            "a decode step filed here links to the GenAI span: {step}"
        );
        assert_eq!(step["spanId"].as_str().map(str::len), Some(16));
    }
    // A second, streamed request: `limit=1` returns only the newest.
    let body = serde_json::json!({"messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 3, "stream": true});
    let streamed = s.post("/v1/chat/completions", &body);
    let id2 = trace_id(&streamed);
    let newest = entries(&traces(&s, "?limit=1"));
    assert_eq!(newest.len(), 1);
    assert!(newest[0]
        .iter()
        .any(|s| s["traceId"] == id2 && s["name"] == "POST /v1/chat/completions"));
    assert!(
        newest[0]
            .iter()
            .any(|s| s["traceId"] == id2 && s["name"] == "generate"),
        "the streamed request's GenAI spans outlive its HTTP span and are in the same entry"
    );
    assert_eq!(
        entries(&traces(&s, "")).len(),
        3,
        "two requests and the model load"
    );
    for bad in ["?limit=0", "?limit=x"] {
        assert_eq!(
            s.get(&format!("/debug/traces{bad}"))
                .expect("request")
                .status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn the_buffer_keeps_the_last_traces_and_evicts_the_oldest() {
    let Some(s) = start(&[]) else {
        return;
    };
    let bound = llama_otel::TRACE_BUFFER_TRACES;
    let ids: Vec<String> = (0..bound + 3)
        .map(|i| {
            let r = s.post(
                "/v1/chat/completions",
                &chat_body(&format!("Count to {i}"), 1),
            );
            assert_eq!(r.status, 200, "{}", r.body);
            trace_id(&r)
        })
        .collect();
    let r = s.get("/debug/traces?limit=100000").expect("request");
    let header = r
        .header("x-trace-buffer")
        .expect("x-trace-buffer")
        .to_owned();
    assert!(
        header.starts_with(&format!("traces={bound}, spans-per-trace=")),
        "{header}"
    );
    // The model load's trace came first: it and the first three requests are gone.
    let evicted = ids.len() + 1 - bound;
    assert!(
        header.ends_with(&format!("evicted-traces={evicted}")),
        "{header}"
    );
    let held = |key: &str| -> usize {
        let at = header
            .find(&format!(" {key}="))
            .unwrap_or_else(|| panic!("{key} in {header}"));
        let digits = header[at + key.len() + 2..]
            .split(|c: char| !c.is_ascii_digit())
            .next();
        digits
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {header}"))
    };
    assert!(held("bytes") <= llama_otel::TRACE_BUFFER_BYTES, "{header}");
    eprintln!("{bound} requests held: {header}");
    let all = entries(&r.json());
    assert_eq!(all.len(), bound, "at most {bound} traces");
    let kept: Vec<&str> = all
        .iter()
        .map(|spans| {
            spans
                .iter()
                .find(|s| s["name"] == "POST /v1/chat/completions")
                .and_then(|s| s["traceId"].as_str())
                .expect("every kept trace is a request")
        })
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().take(bound).map(String::as_str).collect();
    assert_eq!(kept, newest_first, "the newest {bound}, newest first");
    for spans in &all {
        assert!(spans.len() <= llama_otel::TRACE_BUFFER_SPANS_PER_TRACE);
    }
}
