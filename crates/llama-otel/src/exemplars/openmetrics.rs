//! OpenMetrics 1.0 text from the Prometheus registry's gathered families, with the kept
//! exemplars on the `_bucket` lines. Neither prometheus 0.14 nor opentelemetry-prometheus 0.33
//! writes OpenMetrics or carries exemplars, so this encodes the families itself: counters as
//! family `x` with sample `x_total` (a counter whose name lacks `_total` is written as
//! `unknown`, keeping its series name), `# UNIT` only where the name ends with the unit, and
//! the same sample names and `le` values as the plain text format, so a scraper switching
//! formats keeps its series. The caller writes the `# EOF` terminator.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use prometheus::proto::{Histogram, LabelPair, Metric, MetricFamily, MetricType};

use super::prom_names::{family_name, label_name};
use super::reservoir::{self, Exemplar, InstrumentReservoir};
use crate::exposition::text::{escape, header};

/// Prefix of the labels the exporter adds for the instrumentation scope.
const SCOPE_LABEL_PREFIX: &str = "otel_scope_";

/// The registered histogram reservoirs by the Prometheus family name their instrument gets.
pub(crate) struct ExemplarIndex(HashMap<String, Arc<InstrumentReservoir>>);

impl ExemplarIndex {
    /// Every instrument recorded through the macros since the SDK was installed.
    pub(crate) fn current() -> Self {
        let by_family = reservoir::instruments()
            .into_iter()
            .map(|r| (family_name(r.name, r.unit), r))
            .collect();
        ExemplarIndex(by_family)
    }

    /// The exemplar slots of one histogram series (one per bucket, the overflow last), when
    /// the series has any and the family's boundaries are the reservoir's.
    fn slots(&self, family: &str, metric: &Metric) -> Option<Vec<Option<Exemplar>>> {
        let reservoir = self.0.get(family)?;
        let bounds: Vec<f64> = finite_bounds(metric.get_histogram());
        if bounds != reservoir.bounds {
            return None;
        }
        let mut labels: Vec<(String, String)> = metric
            .get_label()
            .iter()
            .filter(|l| !l.name().starts_with(SCOPE_LABEL_PREFIX))
            .map(|l| (l.name().to_owned(), l.value().to_owned()))
            .collect();
        labels.sort();
        reservoir.slots_where(|key| {
            let mut named: Vec<(String, String)> = key
                .iter()
                .map(|(k, v)| (label_name(k), v.clone()))
                .collect();
            named.sort();
            named == labels
        })
    }
}

fn finite_bounds(h: &Histogram) -> Vec<f64> {
    h.get_bucket()
        .iter()
        .map(|b| b.upper_bound())
        .filter(|b| b.is_finite())
        .collect()
}

/// Appends `families` (merged by name, first occurrence first) as OpenMetrics text.
pub(crate) fn encode(families: &[MetricFamily], exemplars: &ExemplarIndex, out: &mut String) {
    let mut order: Vec<&str> = Vec::new();
    let mut merged: HashMap<&str, Vec<&MetricFamily>> = HashMap::new();
    for mf in families {
        let parts = merged.entry(mf.name()).or_default();
        if parts.is_empty() {
            order.push(mf.name());
        }
        parts.push(mf);
    }
    for name in order {
        let parts = &merged[name];
        let metrics: Vec<&Metric> = parts.iter().flat_map(|mf| mf.get_metric()).collect();
        family(parts[0], &metrics, exemplars, out);
    }
}

fn family(mf: &MetricFamily, metrics: &[&Metric], ex: &ExemplarIndex, out: &mut String) {
    let name = mf.name();
    let (om_name, om_type) = match mf.get_field_type() {
        MetricType::COUNTER => match name.strip_suffix("_total") {
            Some(base) => (base, "counter"),
            None => (name, "unknown"),
        },
        MetricType::GAUGE => (name, "gauge"),
        MetricType::HISTOGRAM => (name, "histogram"),
        MetricType::SUMMARY => (name, "summary"),
        MetricType::UNTYPED => (name, "unknown"),
    };
    header(om_name, om_type, mf.help(), true, out);
    for m in metrics {
        let labels = m.get_label();
        let ts = m.timestamp_ms();
        match mf.get_field_type() {
            MetricType::COUNTER => sample(out, name, labels, None, m.get_counter().get_value(), ts),
            MetricType::GAUGE => sample(out, name, labels, None, m.get_gauge().get_value(), ts),
            MetricType::UNTYPED => sample(out, name, labels, None, untyped(m), ts),
            MetricType::SUMMARY => summary(out, name, m),
            MetricType::HISTOGRAM => histogram(out, name, m, ex.slots(name, m).as_deref()),
        }
    }
}

fn histogram(out: &mut String, name: &str, m: &Metric, slots: Option<&[Option<Exemplar>]>) {
    let h = m.get_histogram();
    let bucket_name = format!("{name}_bucket");
    let mut saw_inf = false;
    for (i, b) in h.get_bucket().iter().enumerate() {
        let le = b.upper_bound();
        saw_inf |= le.is_infinite() && le > 0.0;
        let exemplar = slots.and_then(|s| s.get(i)).and_then(Option::as_ref);
        let extra = ("le", number(le));
        let count = b.cumulative_count() as f64;
        sample_ex(
            out,
            &bucket_name,
            m.get_label(),
            Some(extra),
            count,
            exemplar,
        );
    }
    if !saw_inf {
        let overflow = slots.and_then(|s| s.last()).and_then(Option::as_ref);
        let extra = ("le", "+Inf".to_owned());
        let count = h.get_sample_count() as f64;
        sample_ex(
            out,
            &bucket_name,
            m.get_label(),
            Some(extra),
            count,
            overflow,
        );
    }
    let labels = m.get_label();
    sample(
        out,
        &format!("{name}_sum"),
        labels,
        None,
        h.get_sample_sum(),
        0,
    );
    sample(
        out,
        &format!("{name}_count"),
        labels,
        None,
        h.get_sample_count() as f64,
        0,
    );
}

/// The value of an untyped sample (the exporter writes none; other collectors may).
#[allow(deprecated)] // the accessor is protobuf-specific upstream, but the only one there is
fn untyped(m: &Metric) -> f64 {
    m.get_untyped().get_value()
}

fn summary(out: &mut String, name: &str, m: &Metric) {
    let s = m.get_summary();
    for q in s.get_quantile() {
        let extra = ("quantile", number(q.quantile()));
        sample(out, name, m.get_label(), Some(extra), q.value(), 0);
    }
    sample(
        out,
        &format!("{name}_sum"),
        m.get_label(),
        None,
        s.sample_sum(),
        0,
    );
    sample(
        out,
        &format!("{name}_count"),
        m.get_label(),
        None,
        s.sample_count() as f64,
        0,
    );
}

fn sample(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    extra: Option<(&str, String)>,
    value: f64,
    timestamp_ms: i64,
) {
    write_series(out, name, labels, extra);
    let _ = write!(out, " {}", number(value));
    if timestamp_ms != 0 {
        let _ = write!(out, " {}", number(timestamp_ms as f64 / 1000.0));
    }
    out.push('\n');
}

fn sample_ex(
    out: &mut String,
    name: &str,
    labels: &[LabelPair],
    extra: Option<(&str, String)>,
    value: f64,
    exemplar: Option<&Exemplar>,
) {
    write_series(out, name, labels, extra);
    let _ = write!(out, " {}", number(value));
    if let Some(e) = exemplar {
        let ts = e.time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let _ = write!(
            out,
            " # {{trace_id=\"{}\",span_id=\"{}\"}} {} {}.{:03}",
            e.trace_id,
            e.span_id,
            number(e.value),
            ts.as_secs(),
            ts.subsec_millis()
        );
    }
    out.push('\n');
}

fn write_series(out: &mut String, name: &str, labels: &[LabelPair], extra: Option<(&str, String)>) {
    out.push_str(name);
    if labels.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let pairs = labels.iter().map(|l| (l.name(), l.value()));
    let extra = extra.as_ref().map(|(k, v)| (*k, v.as_str()));
    for (i, (k, v)) in pairs.chain(extra).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape(v));
    }
    out.push('}');
}

/// A number as OpenMetrics writes it (`+Inf`, `-Inf`, `NaN`; otherwise as the plain text
/// format writes it, so `le` values match across formats).
pub(crate) fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        v.to_string()
    }
}

#[cfg(test)]
#[path = "openmetrics_tests.rs"]
mod tests;
