//! Metric instrument options (`unit:`, `description:`, `buckets:`) and, with `otel`, the
//! per-call-site instrument cache the metric macros expand to.

/// Options of a counter, up-down counter or gauge call site; applied when the instrument is
/// first created. Public only for the macros.
#[doc(hidden)]
#[derive(Default)]
pub struct InstrumentOptions {
    #[cfg(feature = "otel")]
    unit: Option<&'static str>,
    #[cfg(feature = "otel")]
    description: Option<&'static str>,
}

/// Options of a histogram call site, including explicit bucket boundaries.
#[doc(hidden)]
#[derive(Default)]
pub struct HistogramOptions {
    #[cfg(feature = "otel")]
    base: InstrumentOptions,
    #[cfg(feature = "otel")]
    buckets: Option<Vec<f64>>,
}

impl InstrumentOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// `unit: "{token}"` (UCUM; Prometheus turns `s` into a `_seconds` suffix).
    pub fn unit(&mut self, unit: &'static str) {
        #[cfg(feature = "otel")]
        {
            self.unit = Some(unit);
        }
        #[cfg(not(feature = "otel"))]
        let _ = unit;
    }

    /// `description: "..."`.
    pub fn description(&mut self, description: &'static str) {
        #[cfg(feature = "otel")]
        {
            self.description = Some(description);
        }
        #[cfg(not(feature = "otel"))]
        let _ = description;
    }
}

impl HistogramOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Options of `time_histogram!`: unit `s` unless overridden.
    pub fn seconds() -> Self {
        let mut o = Self::default();
        o.unit(crate::semconv::UNIT_SECONDS);
        o
    }

    pub fn unit(&mut self, unit: &'static str) {
        #[cfg(feature = "otel")]
        self.base.unit(unit);
        #[cfg(not(feature = "otel"))]
        let _ = unit;
    }

    pub fn description(&mut self, description: &'static str) {
        #[cfg(feature = "otel")]
        self.base.description(description);
        #[cfg(not(feature = "otel"))]
        let _ = description;
    }

    /// `buckets: &BOUNDS` — explicit bucket boundaries, strictly increasing.
    pub fn buckets(&mut self, boundaries: &[f64]) {
        #[cfg(feature = "otel")]
        {
            self.buckets = Some(boundaries.to_vec());
        }
        #[cfg(not(feature = "otel"))]
        let _ = boundaries;
    }
}

#[cfg(feature = "otel")]
pub use cache::InstrumentCell;

#[cfg(feature = "otel")]
mod cache {
    use std::sync::{PoisonError, RwLock};

    use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};

    use super::{HistogramOptions, InstrumentOptions};
    use crate::exemplars::{reservoir, ExemplarHistogram};
    use crate::state;

    /// One call site's instrument, rebuilt when the SDK generation changes.
    pub struct InstrumentCell<T> {
        slot: RwLock<Option<(u64, &'static str, T)>>,
    }

    impl<T: Clone> InstrumentCell<T> {
        pub const fn new() -> Self {
            InstrumentCell {
                slot: RwLock::new(None),
            }
        }

        /// The cached instrument, or a new one from `make` if none exists for the current
        /// generation. `name` must be the same on every call from one call site.
        pub fn get(&self, name: &'static str, make: impl FnOnce(&Meter) -> T) -> T {
            let generation = state::generation();
            if let Some((g, cached_name, inst)) =
                &*self.slot.read().unwrap_or_else(PoisonError::into_inner)
            {
                if *g == generation {
                    debug_assert_eq!(
                        *cached_name, name,
                        "llama-otel: one call site used two instrument names"
                    );
                    return inst.clone();
                }
            }
            let inst = make(&state::meter());
            *self.slot.write().unwrap_or_else(PoisonError::into_inner) =
                Some((generation, name, inst.clone()));
            inst
        }
    }

    impl<T: Clone> Default for InstrumentCell<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    macro_rules! apply_base {
        ($builder:expr, $opts:expr) => {{
            let mut b = $builder;
            if let Some(unit) = $opts.unit {
                b = b.with_unit(unit);
            }
            if let Some(description) = $opts.description {
                b = b.with_description(description);
            }
            b
        }};
    }

    impl InstrumentOptions {
        pub fn u64_counter(self, meter: &Meter, name: &'static str) -> Counter<u64> {
            apply_base!(meter.u64_counter(name), self).build()
        }

        pub fn i64_up_down_counter(self, meter: &Meter, name: &'static str) -> UpDownCounter<i64> {
            apply_base!(meter.i64_up_down_counter(name), self).build()
        }

        pub fn f64_gauge(self, meter: &Meter, name: &'static str) -> Gauge<f64> {
            apply_base!(meter.f64_gauge(name), self).build()
        }
    }

    impl HistogramOptions {
        pub fn f64_histogram(self, meter: &Meter, name: &'static str) -> Histogram<f64> {
            let mut b = apply_base!(meter.f64_histogram(name), self.base);
            if let Some(buckets) = self.buckets {
                b = b.with_boundaries(buckets);
            }
            b.build()
        }

        /// The histogram and the exemplar reservoir of its instrument (aligned to the same
        /// boundaries).
        pub fn exemplar_histogram(self, meter: &Meter, name: &'static str) -> ExemplarHistogram {
            let unit = self.base.unit.unwrap_or("");
            let reservoir = reservoir::instrument(name, unit, self.buckets.as_deref());
            ExemplarHistogram {
                histogram: self.f64_histogram(meter, name),
                reservoir,
            }
        }
    }
}
