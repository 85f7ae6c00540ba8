//! Test support (feature `testing`): an SDK wired to in-memory exporters, and a lock that
//! serialises tests sharing the process-wide telemetry state.

use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry_sdk::metrics::data::{Metric, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

use crate::sdk::{Parts, Sdk};
use crate::state::Reservation;
use crate::TelemetryGuard;

pub use crate::catalog_check::{metric_violations, span_violations};
pub use opentelemetry_sdk::metrics::data;
/// The OpenTelemetry API and SDK crates, so tests can inspect exported data without
/// depending on them directly.
pub use {opentelemetry as otel, opentelemetry_sdk as sdk};

/// Serialises tests that install telemetry or read process-wide state (one SDK at a time).
pub fn serial() -> MutexGuard<'static, ()> {
    crate::state::TEST_SERIAL
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// Telemetry recording into memory; uninstalled when dropped.
pub struct TestTelemetry {
    // Field order matters: the SDK shuts down before the lock is released.
    guard: TelemetryGuard,
    spans: InMemorySpanExporter,
    metrics: InMemoryMetricExporter,
    _serial: MutexGuard<'static, ()>,
}

/// Installs an SDK whose spans (exported synchronously on end) and metrics (on
/// [`TestTelemetry::collect_metrics`]) land in memory; the Prometheus reader is attached too.
///
/// # Panics
/// If another SDK is installed and its guard is still alive.
pub fn init_for_tests() -> TestTelemetry {
    let serial = serial();
    let reservation = match Reservation::acquire() {
        Ok(r) => r,
        Err(e) => panic!("init_for_tests: {e}"),
    };
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let registry = prometheus::Registry::new();
    let prometheus_reader = match opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("init_for_tests: prometheus reader: {e}"),
    };
    let parts = Parts {
        tracer_provider: SdkTracerProvider::builder()
            .with_simple_exporter(spans.clone())
            .with_span_processor(crate::sdk::ring::RingProcessor::install())
            .build(),
        meter_provider: SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics.clone()).build())
            .with_reader(prometheus_reader)
            .build(),
        registry: Some(registry),
        runtime: None,
        shutdown_timeout: Duration::from_secs(3),
        extras: Default::default(),
    };
    TestTelemetry {
        guard: TelemetryGuard {
            sdk: Some(Sdk::install(reservation, parts)),
        },
        spans,
        metrics,
        _serial: serial,
    }
}

impl TestTelemetry {
    /// Spans ended so far, in end order.
    pub fn finished_spans(&self) -> Vec<SpanData> {
        self.spans.get_finished_spans().unwrap_or_default()
    }

    /// Collects all metrics now and returns every export made so far (cumulative).
    pub fn collect_metrics(&self) -> Vec<ResourceMetrics> {
        if let Some(sdk) = &self.guard.sdk {
            let _ = sdk.meter_provider().force_flush();
        }
        self.metrics.get_finished_metrics().unwrap_or_default()
    }

    /// Flushes spans held by the tracer provider's processors.
    pub fn flush_spans(&self) {
        if let Some(sdk) = &self.guard.sdk {
            let _ = sdk.tracer_provider().force_flush();
        }
    }
}

/// The named metric in the most recent export that contains it.
pub fn find_metric<'a>(exports: &'a [ResourceMetrics], name: &str) -> Option<&'a Metric> {
    exports.iter().rev().find_map(|rm| {
        rm.scope_metrics()
            .flat_map(|sm| sm.metrics())
            .find(|m| m.name() == name)
    })
}
