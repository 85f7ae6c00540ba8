//! The OpenMetrics encoder against the real opentelemetry-prometheus exporter: family names
//! as the exporter writes them, exemplars on the bucket their value fell in, counter naming.

use std::sync::PoisonError;

use super::super::prom_names::family_name;
use crate::{histogram_record, span, MetricsFormat, TelemetryConfig};

fn telemetry() -> (std::sync::MutexGuard<'static, ()>, crate::TelemetryGuard) {
    let serial = crate::state::TEST_SERIAL
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let config = TelemetryConfig {
        disabled: Some(false),
        otlp: Some(false),
        prometheus: true,
        ..Default::default()
    };
    (serial, crate::init(config).expect("init"))
}

fn line_with<'a>(text: &'a str, starts: &str, has: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(starts) && l.contains(has))
        .unwrap_or_else(|| panic!("no line starting {starts:?} with {has:?} in:\n{text}"))
}

#[test]
fn family_names_are_the_exporters() {
    let (_serial, _guard) = telemetry();
    histogram_record!("llama.t.dur", 0.1, unit: "s");
    histogram_record!("gen_ai.t.ratio", 0.1, unit: "1");
    histogram_record!("llama.t.tok", 1.0, unit: "{token}");
    histogram_record!("llama.t.mem", 1.0, unit: "By");
    histogram_record!("llama.t-rate", 1.0, unit: "1/s");
    histogram_record!("llama.t.speed", 1.0, unit: "m/s");
    histogram_record!("llama.t/x", 1.0, unit: "ms");
    let names: Vec<String> = crate::state::registry()
        .expect("prometheus registry")
        .gather()
        .iter()
        .map(|mf| mf.name().to_owned())
        .collect();
    for (name, unit) in [
        ("llama.t.dur", "s"),
        ("gen_ai.t.ratio", "1"),
        ("llama.t.tok", "{token}"),
        ("llama.t.mem", "By"),
        ("llama.t-rate", "1/s"),
        ("llama.t.speed", "m/s"),
        ("llama.t/x", "ms"),
    ] {
        let want = family_name(name, unit);
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
}

#[test]
fn each_bucket_line_carries_the_latest_sampled_exemplar_of_its_bucket() {
    let (_serial, _guard) = telemetry();
    let bounds = [0.1, 0.5, 1.0];
    let first = span!("first");
    let second = span!("second");
    let late = span!("late");
    let unsampled = crate::extract_w3c(
        Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
        None,
    );
    let record = |v: f64, span: &crate::SpanGuard| {
        histogram_record!("llama.t.latency", v, unit: "s", buckets: &bounds,
            exemplar: span, route = "/x");
    };
    record(0.3, &first);
    record(2.0, &second);
    record(0.4, &late);
    histogram_record!("llama.t.latency", 0.05, unit: "s", buckets: &bounds,
        exemplar: &unsampled, route = "/x");
    histogram_record!("llama.t.latency", 0.07, unit: "s", buckets: &bounds, route = "/x");
    crate::counter_add!("llama.t.requests", 3, route = "/x");

    let text = crate::metrics_text(MetricsFormat::OpenMetrics);
    let family = "llama_t_latency_seconds";
    assert!(text.contains(&format!(
        "# TYPE {family} histogram\n# UNIT {family} seconds\n"
    )));
    let bucket = format!("{family}_bucket{{");
    let in_05 = line_with(&text, &bucket, "le=\"0.5\"");
    let (late_trace, late_span) = (late.trace_id().unwrap(), late.span_context());
    let late_span = late_span.traceresponse().unwrap()[36..52].to_owned();
    // 0.3, 0.4, 0.05 and 0.07 are at most 0.5.
    let want = format!(" 4 # {{trace_id=\"{late_trace}\",span_id=\"{late_span}\"}} 0.4 ");
    assert!(in_05.contains(&want), "{in_05}\nwant {want}");
    let overflow = line_with(&text, &bucket, "le=\"+Inf\"");
    let second_trace = second.trace_id().unwrap();
    assert!(
        overflow.contains(&format!("trace_id=\"{second_trace}\"")),
        "{overflow}"
    );
    assert!(overflow.contains("} 2 "), "{overflow}");
    // The unsampled and the span-less measurements made no exemplar.
    assert!(
        !line_with(&text, &bucket, "le=\"0.1\"").contains('#'),
        "{text}"
    );
    assert!(
        !line_with(&text, &bucket, "le=\"1\"").contains('#'),
        "{text}"
    );
    assert!(text.contains("# TYPE llama_t_requests counter\n"), "{text}");
    assert!(line_with(&text, "llama_t_requests_total{", "route").ends_with(" 3"));
    // The plain format is unchanged: no exemplars.
    let plain = crate::metrics_text(MetricsFormat::Prometheus);
    assert_eq!(plain, crate::prometheus_text());
    assert!(!plain.contains("trace_id"), "{plain}");
    assert!(plain.contains("llama_t_requests_total{"), "{plain}");
}
