//! Behaviour with the SDK installed, observed through in-memory exporters (feature `testing`).
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

use std::cell::Cell;

use llama_otel::testing::data::{AggregatedMetrics, MetricData};
use llama_otel::testing::otel::trace::{SpanKind as OtelKind, Status};
use llama_otel::testing::otel::{Key, Value};
use llama_otel::testing::sdk::trace::SpanData;
use llama_otel::testing::{find_metric, init_for_tests};
use llama_otel::{
    counter_add, event, gauge_set, histogram_record, semconv, set_attr, span, time_histogram,
    updown_add, SpanContext, SpanKind,
};

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name:?} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

#[test]
fn span_records_name_kind_and_attributes_of_every_key_form() {
    let t = init_for_tests();
    let model = String::from("smollm2");
    {
        let s = span!("chat smollm2", kind: Server,
            "gen_ai.request.model" = &model,
            max_tokens = 128u32,
            [semconv::GEN_AI_OPERATION_NAME] = semconv::OPERATION_CHAT,
            temperature = 0.5f64,
            stream = true,
            stop = vec!["</s>", "\n\n"]);
        assert!(s.is_recording());
        set_attr!(s, [semconv::GEN_AI_USAGE_OUTPUT_TOKENS] = 42usize);
        event!(s, "first_token", token_id = 7i64);
        s.set_error("client went away");
    }
    let spans = t.finished_spans();
    let s = by_name(&spans, "chat smollm2");
    assert_eq!(s.span_kind, OtelKind::Server);
    assert_eq!(
        attr(s, "gen_ai.request.model"),
        Some(Value::from("smollm2"))
    );
    assert_eq!(attr(s, "max_tokens"), Some(Value::I64(128)));
    assert_eq!(attr(s, "gen_ai.operation.name"), Some(Value::from("chat")));
    assert_eq!(attr(s, "temperature"), Some(Value::F64(0.5)));
    assert_eq!(attr(s, "stream"), Some(Value::Bool(true)));
    assert_eq!(attr(s, "gen_ai.usage.output_tokens"), Some(Value::I64(42)));
    assert!(matches!(attr(s, "stop"), Some(Value::Array(_))));
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].name, "first_token");
    assert_eq!(s.status, Status::error("client went away"));
}

#[test]
fn parent_option_nests_spans_in_one_trace() {
    let t = init_for_tests();
    {
        let root = span!("request");
        let child = span!("tokenize", parent: &root);
        let grandchild = span!("lookup", parent: child.context());
        assert_eq!(root.trace_id(), grandchild.trace_id());
        let _ = (child, grandchild);
        let unrelated = span!("background");
        assert_ne!(root.trace_id(), unrelated.trace_id());
    }
    let spans = t.finished_spans();
    let (root, child, grandchild) = (
        by_name(&spans, "request"),
        by_name(&spans, "tokenize"),
        by_name(&spans, "lookup"),
    );
    assert_eq!(child.parent_span_id, root.span_context.span_id());
    assert_eq!(grandchild.parent_span_id, child.span_context.span_id());
    assert_eq!(child.span_context.trace_id(), root.span_context.trace_id());
    assert_eq!(
        by_name(&spans, "background").parent_span_id,
        llama_otel::testing::otel::trace::SpanId::INVALID
    );
    assert_eq!(by_name(&spans, "request").span_kind, OtelKind::Internal);
}

#[test]
fn links_connect_requests_and_batches_in_both_directions() {
    let t = init_for_tests();
    {
        let req_a = span!("request a", kind: Server);
        let req_b = span!("request b", kind: Server);
        let served: Vec<SpanContext> = vec![req_a.span_context(), req_b.span_context()];
        let batch = span!("decode_batch", kind: Consumer, links: &served, n_tokens = 2usize);
        req_a.add_link(&batch.span_context());
        req_b.add_link(&batch.span_context());
        drop(batch);
    }
    let spans = t.finished_spans();
    let batch = by_name(&spans, "decode_batch");
    let (a, b) = (by_name(&spans, "request a"), by_name(&spans, "request b"));
    assert_eq!(batch.span_kind, OtelKind::Consumer);
    let linked: Vec<_> = batch
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    assert_eq!(
        linked,
        vec![a.span_context.span_id(), b.span_context.span_id()]
    );
    for req in [a, b] {
        assert_eq!(req.links.len(), 1);
        assert_eq!(
            req.links[0].span_context.span_id(),
            batch.span_context.span_id()
        );
    }
}

#[test]
fn traceparent_extraction_continues_the_callers_trace() {
    let t = init_for_tests();
    let incoming = llama_otel::extract_w3c(
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        Some("vendor=opaque"),
    );
    let header;
    {
        let s = span!("POST /v1/chat/completions", parent: &incoming, kind: Server);
        assert_eq!(
            s.trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        header = s
            .traceresponse()
            .expect("a recording span has a traceresponse");
        let span_id = s.span_context().span_id().unwrap();
        assert_eq!(
            header,
            format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{span_id}-01")
        );
        assert_eq!(
            llama_otel::format_traceresponse(&s.span_context()),
            Some(header.clone())
        );
    }
    let spans = t.finished_spans();
    let s = by_name(&spans, "POST /v1/chat/completions");
    assert_eq!(format!("{:016x}", s.parent_span_id), "00f067aa0ba902b7");
    assert!(s.parent_span_is_remote);
    assert_eq!(
        format!("{:032x}", s.span_context.trace_id()),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[test]
fn kind_option_accepts_a_runtime_value() {
    let t = init_for_tests();
    let kind = if std::env::args().count() > 0 {
        SpanKind::Producer
    } else {
        SpanKind::Client
    };
    drop(span!("enqueue", kind: kind));
    assert_eq!(
        by_name(&t.finished_spans(), "enqueue").span_kind,
        OtelKind::Producer
    );
}

fn histogram_bounds(
    exports: &[llama_otel::testing::data::ResourceMetrics],
    name: &str,
) -> (Vec<f64>, u64, f64) {
    let m = find_metric(exports, name).unwrap_or_else(|| panic!("no metric {name}"));
    match m.data() {
        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
            let dp = h.data_points().next().expect("one data point");
            (dp.bounds().collect(), dp.count(), dp.sum())
        }
        other => panic!("{name} is not an f64 histogram: {other:?}"),
    }
}

#[test]
fn metrics_have_names_units_buckets_and_values() {
    let t = init_for_tests();
    for _ in 0..3 {
        counter_add!("llama.test.requests", 2, unit: "{request}", description: "requests seen",
            "gen_ai.operation.name" = "chat");
    }
    updown_add!("llama.test.active", 5);
    updown_add!("llama.test.active", -2);
    gauge_set!("llama.test.kv_usage", 0.25, unit: "1");
    histogram_record!(semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, 0.03, unit: "s",
        buckets: &semconv::TIME_TO_FIRST_TOKEN_BUCKETS, [semconv::GEN_AI_OPERATION_NAME] = "chat");
    let v = time_histogram!("llama.test.decode", { 40 + 2 });
    assert_eq!(v, 42);
    let exports = t.collect_metrics();

    let requests = find_metric(&exports, "llama.test.requests").expect("counter exported");
    assert_eq!(requests.unit(), "{request}");
    assert_eq!(requests.description(), "requests seen");
    match requests.data() {
        AggregatedMetrics::U64(MetricData::Sum(s)) => {
            let dp = s.data_points().next().unwrap();
            assert_eq!(dp.value(), 6);
            assert!(s.is_monotonic());
            assert!(dp
                .attributes()
                .any(|kv| kv.key == Key::new("gen_ai.operation.name")));
        }
        other => panic!("unexpected {other:?}"),
    }
    match find_metric(&exports, "llama.test.active").unwrap().data() {
        AggregatedMetrics::I64(MetricData::Sum(s)) => {
            assert!(!s.is_monotonic());
            assert_eq!(s.data_points().next().unwrap().value(), 3);
        }
        other => panic!("unexpected {other:?}"),
    }
    match find_metric(&exports, "llama.test.kv_usage").unwrap().data() {
        AggregatedMetrics::F64(MetricData::Gauge(g)) => {
            assert_eq!(g.data_points().next().unwrap().value(), 0.25)
        }
        other => panic!("unexpected {other:?}"),
    }
    let (bounds, count, sum) =
        histogram_bounds(&exports, semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN);
    assert_eq!(bounds, semconv::TIME_TO_FIRST_TOKEN_BUCKETS.to_vec());
    assert_eq!((count, sum), (1, 0.03));
    assert_eq!(
        find_metric(&exports, semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN)
            .unwrap()
            .unit(),
        "s"
    );
    let (_, count, sum) = histogram_bounds(&exports, "llama.test.decode");
    assert_eq!(count, 1);
    assert!((0.0..1.0).contains(&sum), "a trivial block took {sum} s");
    assert_eq!(
        find_metric(&exports, "llama.test.decode").unwrap().unit(),
        "s"
    );
}

#[test]
fn semconv_histograms_use_the_spec_buckets() {
    let t = init_for_tests();
    histogram_record!(semconv::GEN_AI_SERVER_REQUEST_DURATION, 1.0, unit: "s",
        buckets: &semconv::REQUEST_DURATION_BUCKETS);
    histogram_record!(semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, 0.02, unit: "s",
        buckets: &semconv::TIME_PER_OUTPUT_TOKEN_BUCKETS);
    histogram_record!(semconv::GEN_AI_CLIENT_TOKEN_USAGE, 300.0, unit: "{token}",
        buckets: &semconv::TOKEN_USAGE_BUCKETS, [semconv::GEN_AI_TOKEN_TYPE] = "input");
    let exports = t.collect_metrics();
    for (name, buckets) in [
        (
            semconv::GEN_AI_SERVER_REQUEST_DURATION,
            &semconv::REQUEST_DURATION_BUCKETS[..],
        ),
        (
            semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
            &semconv::TIME_PER_OUTPUT_TOKEN_BUCKETS[..],
        ),
        (
            semconv::GEN_AI_CLIENT_TOKEN_USAGE,
            &semconv::TOKEN_USAGE_BUCKETS[..],
        ),
    ] {
        assert_eq!(
            histogram_bounds(&exports, name).0,
            buckets.to_vec(),
            "{name}"
        );
    }
    assert_eq!(
        find_metric(&exports, semconv::GEN_AI_CLIENT_TOKEN_USAGE)
            .unwrap()
            .unit(),
        "{token}"
    );
}

fn record_request_metric() {
    counter_add!("llama.test.rebind", 1);
}

#[test]
fn call_sites_rebind_to_a_newly_installed_sdk() {
    {
        let first = init_for_tests();
        record_request_metric();
        assert!(find_metric(&first.collect_metrics(), "llama.test.rebind").is_some());
    }
    let second = init_for_tests();
    record_request_metric();
    let exports = second.collect_metrics();
    match find_metric(&exports, "llama.test.rebind").map(|m| m.data()) {
        Some(AggregatedMetrics::U64(MetricData::Sum(s))) => {
            assert_eq!(s.data_points().next().unwrap().value(), 1)
        }
        other => panic!("the cached call site did not record into the new SDK: {other:?}"),
    }
}

#[test]
fn arguments_are_evaluated_once_when_active_and_never_when_inactive() {
    let calls = Cell::new(0u32);
    let bump = || {
        calls.set(calls.get() + 1);
        1u64
    };
    {
        let _serial = llama_otel::testing::serial();
        assert!(!llama_otel::is_active());
        let s = span!("inactive", n = bump());
        counter_add!("llama.test.lazy", bump(), n = bump());
        set_attr!(s, n = bump());
        assert!(!s.is_recording());
        assert_eq!(calls.get(), 0);
        assert_eq!(s.trace_id(), None);
    }
    let _t = init_for_tests();
    let s = span!("active", n = bump());
    counter_add!("llama.test.lazy", bump(), n = bump());
    set_attr!(s, n = bump());
    assert_eq!(calls.get(), 4);
}

#[test]
fn prometheus_text_contains_recorded_metrics() {
    let _t = init_for_tests();
    counter_add!("llama.test.prom_requests", 3, unit: "{request}", route = "/completion");
    histogram_record!("llama.test.prom_latency", 0.2, unit: "s", buckets: &[0.1, 0.5]);
    let text = llama_otel::prometheus_text();
    let line = text
        .lines()
        .find(|l| l.starts_with("llama_test_prom_requests_total{"))
        .unwrap_or_else(|| panic!("counter missing from:\n{text}"));
    assert!(line.contains("route=\"/completion\""), "{line}");
    assert!(line.ends_with(" 3"), "{line}");
    assert!(
        text.contains("llama_test_prom_latency_seconds_bucket{"),
        "{text}"
    );
    assert!(text.contains("le=\"0.5\""), "{text}");
}

#[test]
fn dropped_counter_is_exported_even_when_nothing_was_dropped() {
    let t = init_for_tests();
    let exports = t.collect_metrics();
    let m = find_metric(&exports, semconv::LLAMA_TELEMETRY_DROPPED).expect("exported");
    match m.data() {
        AggregatedMetrics::U64(MetricData::Sum(s)) => {
            // Spans (queue full, export failed), metrics (export failed) and logs (queue full,
            // export failed): every series exists at 0 before anything was dropped.
            let mut series: Vec<String> = s
                .data_points()
                .map(|dp| {
                    let mut kv: Vec<String> = dp
                        .attributes()
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect();
                    kv.sort();
                    kv.join(",")
                })
                .collect();
            series.sort();
            assert_eq!(series.len(), 5, "{series:?}");
            assert_eq!(
                series.iter().filter(|s| s.contains("logs")).count(),
                2,
                "{series:?}"
            );
            assert!(s.data_points().all(|dp| dp.value() == 0));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn guards_are_send_and_usable_across_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let t = init_for_tests();
    let parent = span!("parent");
    assert_send(&parent);
    let cx = parent.context();
    std::thread::spawn(move || drop(span!("on another thread", parent: &cx)))
        .join()
        .unwrap();
    drop(parent);
    let spans = t.finished_spans();
    assert_eq!(
        by_name(&spans, "on another thread").parent_span_id,
        by_name(&spans, "parent").span_context.span_id()
    );
}
