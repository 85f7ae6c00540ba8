//! Items the exported macros expand to. Not part of the public API; may change at any time.

pub use crate::instrument::{HistogramOptions, InstrumentOptions};
pub use crate::trace::SpanOptions;
use crate::AttrValue;

#[cfg(feature = "otel")]
pub use crate::exemplars::{ExemplarFrom, ExemplarHistogram};
#[cfg(feature = "otel")]
pub use crate::instrument::InstrumentCell;
#[cfg(feature = "otel")]
pub use opentelemetry::metrics::{Counter, Gauge, Histogram, UpDownCounter};

/// One atomic load: is an SDK installed?
#[cfg(feature = "otel")]
#[inline]
pub fn active() -> bool {
    crate::state::is_active()
}

/// The start time for `time_histogram!`, read only while telemetry is active.
#[cfg(feature = "otel")]
#[inline]
pub fn now_if_active() -> Option<std::time::Instant> {
    active().then(std::time::Instant::now)
}

/// Builds one attribute.
#[cfg(feature = "otel")]
#[inline]
pub fn kv(key: &'static str, value: impl AttrValue) -> opentelemetry::KeyValue {
    opentelemetry::KeyValue::new(key, value.into_otel())
}

/// Type-checks an attribute (and consumes it, like the `otel` build does) without using it.
#[inline(always)]
pub fn check_attr<V: AttrValue>(_key: &'static str, _value: V) {}

/// Type-checks a span or event name.
#[inline(always)]
pub fn check_name<N: Into<std::borrow::Cow<'static, str>>>(_name: N) {}

/// Type-checks an `exemplar:` span (anything a span can take as parent) without using it.
#[inline(always)]
pub fn check_exemplar<P: crate::AsParent>(_span: P) {}
