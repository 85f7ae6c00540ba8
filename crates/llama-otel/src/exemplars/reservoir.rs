//! The aligned-bucket exemplar reservoir (the specification's
//! `AlignedHistogramBucketExemplarReservoir`): one slot per bucket of a histogram's explicit
//! boundaries, per attribute set; a measurement replaces the slot of the bucket it falls in
//! (latest wins), and only measurements made in a sampled span are offered (the trace-based
//! exemplar filter). opentelemetry_sdk 0.33 aggregates but never fills exemplars, so the
//! histogram macros offer each measurement here next to the SDK's `record`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, SpanId, TraceId};
use opentelemetry::KeyValue;

/// The SDK's default explicit-bucket boundaries, used when a call site gives no `buckets:`.
pub(crate) const SDK_DEFAULT_BOUNDS: [f64; 15] = [
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// Most attribute sets kept per instrument (the SDK's default cardinality limit); further
/// sets get no exemplars rather than unbounded memory.
const MAX_SERIES: usize = 2000;

/// One kept measurement and the span it was made in.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub value: f64,
    pub time: SystemTime,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

/// Attribute set of a series: `(key, value as text)`, sorted by key.
pub(crate) type SeriesKey = Vec<(String, String)>;

/// The reservoirs of one histogram instrument (shared by every call site recording it).
#[derive(Debug)]
pub struct InstrumentReservoir {
    pub(crate) name: &'static str,
    pub(crate) unit: &'static str,
    pub(crate) bounds: Vec<f64>,
    series: Mutex<HashMap<SeriesKey, Vec<Option<Exemplar>>>>,
}

/// The sampled span a measurement belongs to, if any: the explicit one, else the thread's
/// current context. Unsampled or invalid span contexts give `None` (no exemplar).
pub(crate) fn sampled(explicit: Option<&SpanContext>) -> Option<(TraceId, SpanId)> {
    let pick = |sc: &SpanContext| {
        (sc.is_valid() && sc.is_sampled()).then(|| (sc.trace_id(), sc.span_id()))
    };
    match explicit {
        Some(sc) => pick(sc),
        None => opentelemetry::Context::map_current(|cx| {
            use opentelemetry::trace::TraceContextExt as _;
            cx.has_active_span()
                .then(|| pick(cx.span().span_context()))
                .flatten()
        }),
    }
}

/// The bucket a value falls in, as the SDK counts it: bucket `i` holds `(bounds[i-1],
/// bounds[i]]`, the last one everything above the last boundary.
pub(crate) fn bucket_index(bounds: &[f64], value: f64) -> usize {
    bounds.partition_point(|&b| b < value)
}

fn series_key(attributes: &[KeyValue]) -> SeriesKey {
    let mut key: SeriesKey = attributes
        .iter()
        .map(|kv| (kv.key.as_str().to_owned(), kv.value.to_string()))
        .collect();
    key.sort();
    key
}

impl InstrumentReservoir {
    pub(crate) fn new(name: &'static str, unit: &'static str, bounds: Vec<f64>) -> Self {
        InstrumentReservoir {
            name,
            unit,
            bounds,
            series: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps `value` as the exemplar of its bucket in the series `attributes` when `span` is a
    /// sampled span (see [`sampled`]); otherwise does nothing.
    pub(crate) fn offer(
        &self,
        value: f64,
        attributes: &[KeyValue],
        span: Option<(TraceId, SpanId)>,
    ) {
        let Some((trace_id, span_id)) = span else {
            return;
        };
        if value.is_nan() {
            return; // the SDK drops NaN measurements too
        }
        let key = series_key(attributes);
        let index = bucket_index(&self.bounds, value);
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if !series.contains_key(&key) && series.len() >= MAX_SERIES {
            return;
        }
        let slots = series
            .entry(key)
            .or_insert_with(|| vec![None; self.bounds.len() + 1]);
        slots[index] = Some(Exemplar {
            value,
            time: SystemTime::now(),
            trace_id,
            span_id,
        });
    }

    /// The slots of one series (one per bucket, the overflow bucket last), by attribute set.
    #[cfg(test)]
    pub(crate) fn slots(&self, key: &SeriesKey) -> Option<Vec<Option<Exemplar>>> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.get(key).cloned()
    }

    /// The slots of the first series whose attribute set satisfies `matches`.
    pub(crate) fn slots_where(
        &self,
        matches: impl Fn(&SeriesKey) -> bool,
    ) -> Option<Vec<Option<Exemplar>>> {
        let series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series
            .iter()
            .find(|(key, _)| matches(key))
            .map(|(_, slots)| slots.clone())
    }
}

/// Every histogram instrument recorded through the macros since the SDK was installed.
static INSTRUMENTS: Mutex<Vec<Arc<InstrumentReservoir>>> = Mutex::new(Vec::new());

/// The reservoir of instrument `name`, created on first use. Call sites of one instrument
/// share it; a call site asking for other boundaries gets its own (the SDK keeps the first
/// registration's boundaries, and the encoders match boundaries before attaching exemplars).
pub(crate) fn instrument(
    name: &'static str,
    unit: &'static str,
    bounds: Option<&[f64]>,
) -> Arc<InstrumentReservoir> {
    let bounds = bounds.unwrap_or(&SDK_DEFAULT_BOUNDS);
    let mut all = INSTRUMENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(found) = all
        .iter()
        .find(|r| r.name == name && r.unit == unit && r.bounds == bounds)
    {
        return found.clone();
    }
    let made = Arc::new(InstrumentReservoir::new(name, unit, bounds.to_vec()));
    all.push(made.clone());
    made
}

/// A snapshot of the registered instruments, for the encoders.
pub(crate) fn instruments() -> Vec<Arc<InstrumentReservoir>> {
    INSTRUMENTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Forgets every exemplar: a newly installed SDK starts with empty histograms.
pub(crate) fn reset() {
    INSTRUMENTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

#[cfg(test)]
#[path = "reservoir_tests.rs"]
mod tests;
