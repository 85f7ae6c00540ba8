//! Holds exported telemetry to [`crate::catalog`]: every span, span-event and data-point
//! attribute and every metric must have a row there, with the same value type, instrument and
//! unit (feature `testing`).

use crate::catalog::{self, AttrType, Instrument};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::trace::SpanData;

/// The table's type for an exported value; `None` for types the table never uses.
fn value_type(v: &Value) -> Option<AttrType> {
    match v {
        Value::Bool(_) => Some(AttrType::Bool),
        Value::I64(_) => Some(AttrType::Int),
        Value::F64(_) => Some(AttrType::Double),
        Value::String(_) => Some(AttrType::String),
        Value::Array(Array::String(_)) => Some(AttrType::StringArray),
        _ => None,
    }
}

fn check_attr(kv: &KeyValue, place: &str, out: &mut Vec<String>) {
    let name = kv.key.as_str();
    match catalog::attribute(name) {
        None => out.push(format!("{place}: attribute {name} is not in the catalog")),
        Some(row) if value_type(&kv.value) != Some(row.ty) => out.push(format!(
            "{place}: attribute {name} is {:?}, the catalog says {:?}",
            kv.value, row.ty
        )),
        Some(_) => {}
    }
}

/// Violations among `spans`' attributes and their events' attributes.
pub fn span_violations(spans: &[SpanData]) -> Vec<String> {
    let mut out = Vec::new();
    for span in spans {
        let place = format!("span {:?}", span.name);
        for kv in &span.attributes {
            check_attr(kv, &place, &mut out);
        }
        for event in &span.events.events {
            let place = format!("{place} event {:?}", event.name);
            for kv in &event.attributes {
                check_attr(kv, &place, &mut out);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The instrument and the data points' attribute sets of one metric's data.
fn shape<T>(data: &MetricData<T>) -> (Instrument, Vec<Vec<KeyValue>>) {
    match data {
        MetricData::Gauge(g) => (
            Instrument::Gauge,
            g.data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
        ),
        MetricData::Sum(s) => {
            let kind = if s.is_monotonic() {
                Instrument::Counter
            } else {
                Instrument::UpDownCounter
            };
            (
                kind,
                s.data_points()
                    .map(|p| p.attributes().cloned().collect())
                    .collect(),
            )
        }
        MetricData::Histogram(h) => (
            Instrument::Histogram,
            h.data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
        ),
        MetricData::ExponentialHistogram(h) => (
            Instrument::Histogram,
            h.data_points()
                .map(|p| p.attributes().cloned().collect())
                .collect(),
        ),
    }
}

fn check_metric(m: &Metric, out: &mut Vec<String>) {
    let name = m.name();
    let Some(row) = catalog::metric_row(name) else {
        out.push(format!("metric {name} is not in the catalog"));
        return;
    };
    if m.unit() != row.unit {
        out.push(format!(
            "metric {name}: unit {:?}, the catalog says {:?}",
            m.unit(),
            row.unit
        ));
    }
    let (instrument, points) = match m.data() {
        AggregatedMetrics::F64(d) => shape(d),
        AggregatedMetrics::U64(d) => shape(d),
        AggregatedMetrics::I64(d) => shape(d),
    };
    if instrument != row.instrument {
        out.push(format!(
            "metric {name}: a {instrument:?}, the catalog says {:?}",
            row.instrument
        ));
    }
    let place = format!("metric {name}");
    for kv in points.iter().flatten() {
        check_attr(kv, &place, out);
    }
}

/// Violations among the metrics of `exports`.
pub fn metric_violations(exports: &[ResourceMetrics]) -> Vec<String> {
    let mut out = Vec::new();
    for rm in exports {
        for m in rm.scope_metrics().flat_map(|sm| sm.metrics()) {
            check_metric(m, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}
