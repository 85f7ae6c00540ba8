//! Counting of OTLP log records given up on, the log-side twin of the span gate in
//! [`dropped`](super::dropped): `llama.telemetry.dropped{signal="logs"}`.
//!
//! The SDK's `BatchLogProcessor` (0.33) reports a full queue only through its internal logs —
//! one `BatchLogProcessor.LogDroppingStarted` warning at the first drop, the total at shutdown
//! — and counts per record only behind the experimental `otel.sdk.processor.log.processed`
//! metric; a failed export is logged, not counted. So, as for spans, [`CountingLogProcessor`]
//! admits a record only while fewer than the queue bound are waiting for the exporter (the SDK
//! then never drops on its own), and [`CountingLogExporter`] frees those slots and counts each
//! batch's outcome.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::logs::Severity;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, LogProcessor, SdkLogRecord};
use opentelemetry_sdk::Resource;

use super::dropped::STATS;

/// Admission gate in front of a batch log processor.
#[derive(Debug)]
pub(crate) struct CountingLogProcessor<P> {
    inner: P,
    in_flight: Arc<AtomicUsize>,
    capacity: usize,
}

impl<P> CountingLogProcessor<P> {
    pub(crate) fn new(inner: P, in_flight: Arc<AtomicUsize>, capacity: usize) -> Self {
        CountingLogProcessor {
            inner,
            in_flight,
            capacity,
        }
    }
}

impl<P: LogProcessor> LogProcessor for CountingLogProcessor<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            STATS.logs_queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.inner.emit(record, scope);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Wraps the log exporter: releases admission slots and counts export outcomes.
#[derive(Debug)]
pub(crate) struct CountingLogExporter<E> {
    inner: E,
    in_flight: Arc<AtomicUsize>,
}

impl<E> CountingLogExporter<E> {
    pub(crate) fn new(inner: E, in_flight: Arc<AtomicUsize>) -> Self {
        CountingLogExporter { inner, in_flight }
    }
}

impl<E: LogExporter> LogExporter for CountingLogExporter<E> {
    fn export(
        &self,
        batch: LogBatch<'_>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.iter().count();
        // The batch has left the processor's queue: free its slots before the (slow) export.
        self.in_flight.fetch_sub(n, Ordering::AcqRel);
        let export = self.inner.export(batch);
        async move {
            let result = export.await;
            match &result {
                Ok(()) => STATS.logs_exported.fetch_add(n as u64, Ordering::Relaxed),
                Err(e) => {
                    STATS.record_error("logs", e);
                    STATS
                        .logs_export_failed
                        .fetch_add(n as u64, Ordering::Relaxed)
                }
            };
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, SdkLoggerProvider};
    use std::sync::atomic::AtomicU64;
    use std::sync::PoisonError;

    /// A collector that is down: every export fails at once.
    #[derive(Debug, Default)]
    struct Down(Arc<AtomicU64>);

    impl LogExporter for Down {
        fn export(
            &self,
            batch: LogBatch<'_>,
        ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
            self.0
                .fetch_add(batch.iter().count() as u64, Ordering::Relaxed);
            std::future::ready(Err(OTelSdkError::InternalFailure(
                "connection refused".into(),
            )))
        }
    }

    #[test]
    fn every_record_is_exported_or_counted_when_the_exporter_fails() {
        let _serial = crate::state::TEST_SERIAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        STATS.reset();
        let attempted = Arc::new(AtomicU64::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let exporter = CountingLogExporter::new(Down(attempted.clone()), in_flight.clone());
        let batch = BatchLogProcessor::builder(exporter)
            .with_batch_config(BatchConfigBuilder::default().with_max_queue_size(8).build())
            .build();
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(CountingLogProcessor::new(batch, in_flight, 8))
            .build();
        let logger = provider.logger("test");
        for i in 0..100 {
            let mut record = logger.create_log_record();
            record.set_body(format!("line {i}").into());
            logger.emit(record);
        }
        let _ = provider.shutdown();
        let queue_full = STATS.logs_queue_full.load(Ordering::Relaxed);
        let failed = STATS.logs_export_failed.load(Ordering::Relaxed);
        assert!(
            queue_full > 0,
            "a burst of 100 over a queue of 8 drops some"
        );
        assert_eq!(failed, attempted.load(Ordering::Relaxed));
        assert_eq!(
            queue_full + failed,
            100,
            "queue full {queue_full}, failed {failed}"
        );
        assert_eq!(STATS.logs_exported.load(Ordering::Relaxed), 0);
        let last = STATS
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        assert!(
            last.as_deref().is_some_and(|e| e.starts_with("logs: ")),
            "{last:?}"
        );
    }
}
