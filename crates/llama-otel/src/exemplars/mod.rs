//! Exemplars for the histograms recorded through the macros (otel builds): the aligned-bucket
//! reservoir the macros offer measurements to, and the OpenMetrics encoder that writes them on
//! the `_bucket` lines of `/metrics`.

pub(crate) mod openmetrics;
mod prom_names;
pub(crate) mod reservoir;

use std::sync::Arc;

use opentelemetry::metrics::Histogram;
use opentelemetry::KeyValue;

use crate::AsParent;
use reservoir::InstrumentReservoir;

/// A histogram call site's instrument and its instrument's exemplar reservoir. Public only
/// for the macros.
#[doc(hidden)]
#[derive(Clone)]
pub struct ExemplarHistogram {
    pub(crate) histogram: Histogram<f64>,
    pub(crate) reservoir: Arc<InstrumentReservoir>,
}

/// Which span a measurement's exemplar points to: the one given with `exemplar:` (the last,
/// if several), else the thread's current span. Public only for the macros.
#[doc(hidden)]
#[derive(Default)]
pub struct ExemplarFrom {
    explicit: Option<opentelemetry::trace::SpanContext>,
    given: bool,
}

impl ExemplarFrom {
    /// `exemplar: span` — a span guard, trace context or span context (or a reference or an
    /// `Option` of one); an unsampled or absent one means no exemplar for this measurement.
    pub fn explicit<P: AsParent>(mut self, span: P) -> Self {
        use opentelemetry::trace::TraceContextExt as _;
        self.given = true;
        self.explicit = span
            .parent_context()
            .map(|cx| cx.span().span_context().clone());
        self
    }
}

impl ExemplarHistogram {
    /// Records into the SDK's histogram, then offers the measurement to the reservoir.
    pub fn record(&self, value: f64, attributes: &[KeyValue], from: ExemplarFrom) {
        self.histogram.record(value, attributes);
        let span = match (from.given, &from.explicit) {
            (false, _) => reservoir::sampled(None),
            (true, Some(sc)) => reservoir::sampled(Some(sc)),
            (true, None) => None,
        };
        self.reservoir.offer(value, attributes, span);
    }
}
