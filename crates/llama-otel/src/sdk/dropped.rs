//! Counting of telemetry this process had to give up on, surfaced as `llama.telemetry.dropped`
//! and [`telemetry_stats`](crate::telemetry_stats).
//!
//! The SDK's `BatchSpanProcessor` counts queue-full drops only privately (it logs the total at
//! shutdown; a metric exists only behind an experimental feature). So we gate admission
//! ourselves: [`CountingProcessor`] tracks spans handed to the batch processor and not yet
//! handed to the exporter, and refuses (and counts) a span once that reaches the queue
//! bound. Since the batch queue never holds more than that number, the SDK never drops on its
//! own and our count is exact.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

/// `error.type` values of failed exports, as the SDK self-observability conventions use them
/// (`_OTHER` for failures the SDK does not classify).
pub(crate) const ERROR_TYPES: [&str; 3] = ["timeout", "already_shutdown", "_OTHER"];

fn error_index(e: &OTelSdkError) -> usize {
    match e {
        OTelSdkError::Timeout(_) => 0,
        OTelSdkError::AlreadyShutdown => 1,
        _ => 2,
    }
}

/// Counters behind `llama.telemetry.dropped` and the `otel.sdk.*` metrics; reset by each
/// `init()`.
pub(crate) struct Stats {
    pub spans_queue_full: AtomicU64,
    pub spans_export_failed: AtomicU64,
    pub spans_exported: AtomicU64,
    pub metric_exports_failed: AtomicU64,
    /// Failed spans by [`ERROR_TYPES`].
    pub spans_failed_by_type: [AtomicU64; 3],
    /// Metric data points delivered.
    pub metric_points_exported: AtomicU64,
    /// Metric data points in failed exports, by [`ERROR_TYPES`].
    pub metric_points_failed_by_type: [AtomicU64; 3],
    /// Log records refused by the full queue, lost in failed exports, delivered
    /// (see [`dropped_logs`](super::dropped_logs)).
    pub logs_queue_full: AtomicU64,
    pub logs_export_failed: AtomicU64,
    pub logs_exported: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

pub(crate) static STATS: Stats = Stats {
    spans_queue_full: AtomicU64::new(0),
    spans_export_failed: AtomicU64::new(0),
    spans_exported: AtomicU64::new(0),
    metric_exports_failed: AtomicU64::new(0),
    spans_failed_by_type: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    metric_points_exported: AtomicU64::new(0),
    metric_points_failed_by_type: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    logs_queue_full: AtomicU64::new(0),
    logs_export_failed: AtomicU64::new(0),
    logs_exported: AtomicU64::new(0),
    last_error: Mutex::new(None),
};

impl Stats {
    pub(crate) fn reset(&self) {
        let by_type = self
            .spans_failed_by_type
            .iter()
            .chain(&self.metric_points_failed_by_type);
        for c in [
            &self.spans_queue_full,
            &self.spans_export_failed,
            &self.spans_exported,
            &self.metric_exports_failed,
            &self.metric_points_exported,
            &self.logs_queue_full,
            &self.logs_export_failed,
            &self.logs_exported,
        ]
        .into_iter()
        .chain(by_type)
        {
            c.store(0, Ordering::Relaxed);
        }
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn record_error(&self, signal: &str, error: &dyn std::fmt::Display) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(format!("{signal}: {error}"));
    }
}

/// Admission gate in front of a batch span processor (see the module docs).
#[derive(Debug)]
pub(crate) struct CountingProcessor<P> {
    inner: P,
    in_flight: Arc<AtomicUsize>,
    capacity: usize,
    value_limit: Option<usize>,
}

impl<P> CountingProcessor<P> {
    pub(crate) fn new(inner: P, in_flight: Arc<AtomicUsize>, capacity: usize) -> Self {
        CountingProcessor {
            inner,
            in_flight,
            capacity,
            value_limit: None,
        }
    }

    /// Cuts string attribute values to `limit` characters before export.
    pub(crate) fn with_value_limit(mut self, limit: Option<usize>) -> Self {
        self.value_limit = limit;
        self
    }
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            STATS.spans_queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Some(limit) = self.value_limit {
            super::limits::truncate_span(&mut span, limit);
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Wraps the span exporter: releases admission slots and counts export outcomes.
#[derive(Debug)]
pub(crate) struct CountingExporter<E> {
    inner: E,
    in_flight: Arc<AtomicUsize>,
}

impl<E> CountingExporter<E> {
    pub(crate) fn new(inner: E, in_flight: Arc<AtomicUsize>) -> Self {
        CountingExporter { inner, in_flight }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.len();
        // The batch has left the processor's queue: free its slots before the (slow) export.
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            match &result {
                Ok(()) => STATS.spans_exported.fetch_add(n as u64, Ordering::Relaxed),
                Err(e) => {
                    STATS.record_error("traces", e);
                    STATS.spans_failed_by_type[error_index(e)]
                        .fetch_add(n as u64, Ordering::Relaxed);
                    STATS
                        .spans_export_failed
                        .fetch_add(n as u64, Ordering::Relaxed)
                }
            };
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn points_of<T>(data: &MetricData<T>) -> u64 {
    let n = match data {
        MetricData::Gauge(g) => g.data_points().count(),
        MetricData::Sum(s) => s.data_points().count(),
        MetricData::Histogram(h) => h.data_points().count(),
        MetricData::ExponentialHistogram(h) => h.data_points().count(),
    };
    n as u64
}

/// Data points in one collection (the unit of `otel.sdk.exporter.metric_data_point.exported`).
fn data_points(metrics: &ResourceMetrics) -> u64 {
    metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .map(|metric| match metric.data() {
            AggregatedMetrics::F64(d) => points_of(d),
            AggregatedMetrics::U64(d) => points_of(d),
            AggregatedMetrics::I64(d) => points_of(d),
        })
        .sum()
}

/// Wraps the periodic reader's exporter to count failed metric exports.
pub(crate) struct CountingMetricExporter<E>(pub E);

impl<E: PushMetricExporter> PushMetricExporter for CountingMetricExporter<E> {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let points = data_points(metrics);
        let export = self.0.export(metrics);
        async move {
            let result = export.await;
            match &result {
                Ok(()) => STATS
                    .metric_points_exported
                    .fetch_add(points, Ordering::Relaxed),
                Err(e) => {
                    STATS.record_error("metrics", e);
                    STATS.metric_points_failed_by_type[error_index(e)]
                        .fetch_add(points, Ordering::Relaxed);
                    STATS.metric_exports_failed.fetch_add(1, Ordering::Relaxed)
                }
            };
            result
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.0.temporality()
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{
        BatchConfigBuilder, BatchSpanProcessor, InMemorySpanExporter, SdkTracerProvider,
    };
    use std::sync::{Condvar, Mutex};

    /// Delivers to memory, but holds every export until the gate opens.
    #[derive(Debug)]
    struct Gated {
        inner: InMemorySpanExporter,
        open: Arc<(Mutex<bool>, Condvar)>,
    }

    impl SpanExporter for Gated {
        fn export(
            &self,
            batch: Vec<SpanData>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            let (lock, cv) = &*self.open;
            let mut open = lock
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while !*open {
                open = cv
                    .wait(open)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            self.inner.export(batch)
        }
    }

    #[test]
    fn every_ended_span_is_either_exported_or_counted_as_dropped() {
        let _serial = crate::state::TEST_SERIAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        STATS.reset();
        let memory = InMemorySpanExporter::default();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let exporter = Gated {
            inner: memory.clone(),
            open: open.clone(),
        };
        let batch = BatchSpanProcessor::builder(CountingExporter::new(exporter, in_flight.clone()))
            .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(4).build())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CountingProcessor::new(batch, in_flight, 4))
            .build();
        let tracer = provider.tracer("test");
        for _ in 0..30 {
            drop(tracer.start("s"));
        }
        let dropped = STATS.spans_queue_full.load(Ordering::Relaxed);
        // At most one stuck batch (4) plus a full queue (4) are held back.
        assert!((22..=26).contains(&dropped), "dropped {dropped}");
        *open.0.lock().unwrap() = true;
        open.1.notify_all();
        provider.shutdown().unwrap();
        let exported = memory.get_finished_spans().unwrap().len() as u64;
        assert_eq!(exported + dropped, 30);
        assert_eq!(STATS.spans_exported.load(Ordering::Relaxed), exported);
    }
}
