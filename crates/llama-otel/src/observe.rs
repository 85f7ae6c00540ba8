//! Observable instruments: values read when metrics are collected (a callback per instrument)
//! rather than recorded at a call site — process memory and CPU, memory held by the engine,
//! device memory. Register with [`observe`] at any time, before or after [`crate::init`]: each
//! SDK installed registers every instrument known then, and an instrument registered while an
//! SDK runs joins it at once. Registering a name again replaces its callback (a server started
//! twice in one process reports the second). Without the `otel` feature nothing is stored and no
//! callback ever runs.

use std::sync::Arc;

/// The instrument kind of an observed series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedKind {
    /// A value that goes up and down (`process.memory.usage`).
    UpDownCounter,
    /// A monotonic total (`process.cpu.time`).
    Counter,
    /// A sampled value (`process.cpu.utilization`).
    Gauge,
}

/// What an observable instrument is.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
    pub kind: ObservedKind,
}

/// One data point of a collection: a value and its string attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub value: f64,
    pub attrs: Vec<(&'static str, String)>,
}

/// Fills the data points of one collection.
pub type Callback = Arc<dyn Fn(&mut Vec<Observation>) + Send + Sync>;

/// Registers (or replaces) the observable instrument `instrument`, read by `callback` at every
/// collection (the Prometheus scrape, the OTLP export interval).
pub fn observe(
    instrument: Observed,
    callback: impl Fn(&mut Vec<Observation>) + Send + Sync + 'static,
) {
    #[cfg(feature = "otel")]
    registry::observe(instrument, Arc::new(callback));
    #[cfg(not(feature = "otel"))]
    let _ = (instrument, callback);
}

/// The data points `name`'s callback gives now (None: no such instrument, or no `otel`).
pub fn read_now(name: &str) -> Option<Vec<Observation>> {
    #[cfg(feature = "otel")]
    return registry::read_now(name);
    #[cfg(not(feature = "otel"))]
    {
        let _ = name;
        None
    }
}

#[cfg(feature = "otel")]
pub(crate) use registry::register_all;

#[cfg(feature = "otel")]
mod registry {
    use super::{Callback, Observation, Observed, ObservedKind};
    use opentelemetry::metrics::{AsyncInstrument, Meter};
    use opentelemetry::KeyValue;
    use std::sync::{Mutex, PoisonError};

    struct Entry {
        instrument: Observed,
        callback: Callback,
        /// The SDK generation this name was registered with (0: none yet).
        generation: u64,
    }

    static ENTRIES: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

    fn entries() -> std::sync::MutexGuard<'static, Vec<Entry>> {
        ENTRIES.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn observe(instrument: Observed, callback: Callback) {
        let mut all = entries();
        match all
            .iter_mut()
            .find(|e| e.instrument.name == instrument.name)
        {
            Some(e) => e.callback = callback,
            None => all.push(Entry {
                instrument,
                callback,
                generation: 0,
            }),
        }
        if crate::state::is_active() {
            register_pending(&mut all, &crate::state::meter());
        }
    }

    pub(super) fn read_now(name: &str) -> Option<Vec<Observation>> {
        let callback = current(name)?;
        let mut out = Vec::new();
        callback(&mut out);
        Some(out)
    }

    /// Registers every instrument not yet known to the SDK now installed (called by its install).
    pub(crate) fn register_all(meter: &Meter) {
        register_pending(&mut entries(), meter);
    }

    fn register_pending(all: &mut [Entry], meter: &Meter) {
        let generation = crate::state::generation();
        for e in all.iter_mut().filter(|e| e.generation != generation) {
            register(meter, e.instrument);
            e.generation = generation;
        }
    }

    fn current(name: &str) -> Option<Callback> {
        entries()
            .iter()
            .find(|e| e.instrument.name == name)
            .map(|e| e.callback.clone())
    }

    /// Runs `name`'s current callback (looked up at each collection, so a replaced callback
    /// takes over) and hands its points to the SDK.
    fn emit(name: &'static str, sink: &dyn AsyncInstrument<f64>) {
        let Some(callback) = current(name) else {
            return;
        };
        let mut points = Vec::new();
        callback(&mut points);
        for p in points {
            let attrs: Vec<KeyValue> = p
                .attrs
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect();
            sink.observe(p.value, &attrs);
        }
    }

    // The SDK keeps callbacks for the life of its meter provider; the handles are not needed.
    fn register(meter: &Meter, o: Observed) {
        let name = o.name;
        match o.kind {
            ObservedKind::UpDownCounter => {
                meter
                    .f64_observable_up_down_counter(name)
                    .with_unit(o.unit)
                    .with_description(o.description)
                    .with_callback(move |sink| emit(name, sink))
                    .build();
            }
            ObservedKind::Counter => {
                meter
                    .f64_observable_counter(name)
                    .with_unit(o.unit)
                    .with_description(o.description)
                    .with_callback(move |sink| emit(name, sink))
                    .build();
            }
            ObservedKind::Gauge => {
                meter
                    .f64_observable_gauge(name)
                    .with_unit(o.unit)
                    .with_description(o.description)
                    .with_callback(move |sink| emit(name, sink))
                    .build();
            }
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::data::{AggregatedMetrics, MetricData};
    use crate::testing::{find_metric, init_for_tests};

    const NAME: &str = "llama.test.observed";

    fn gauge(value: f64) -> impl Fn(&mut Vec<Observation>) + Send + Sync + 'static {
        move |out| {
            out.push(Observation {
                value,
                attrs: vec![("k", "v".into())],
            })
        }
    }

    fn collected(t: &crate::testing::TestTelemetry) -> Vec<f64> {
        let exports = t.collect_metrics();
        let m = find_metric(&exports, NAME).expect("observed metric exported");
        let AggregatedMetrics::F64(MetricData::Gauge(g)) = m.data() else {
            panic!("not an f64 gauge");
        };
        g.data_points().map(|p| p.value()).collect()
    }

    #[test]
    fn registered_before_init_is_collected_and_replacing_takes_over() {
        let observed = Observed {
            name: NAME,
            unit: "1",
            description: "test",
            kind: ObservedKind::Gauge,
        };
        observe(observed, gauge(1.5));
        let t = init_for_tests();
        assert_eq!(collected(&t), [1.5]);
        observe(observed, gauge(2.5));
        assert_eq!(collected(&t), [2.5]);
        assert_eq!(read_now(NAME).map(|p| p[0].value), Some(2.5));
        drop(t);
        // A second SDK registers the instrument again.
        let t = init_for_tests();
        assert_eq!(collected(&t), [2.5]);
    }
}
