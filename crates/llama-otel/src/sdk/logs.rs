//! The logger provider behind OTLP logs: a batch processor per exporter (OTLP as
//! `OTEL_LOGS_EXPORTER` and the endpoint settings say, the SDK's stdout exporter for
//! `console`), built like the span and metric pipelines, TLS and compression included, with
//! drops counted (see [`dropped_logs`](super::dropped_logs)).

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use opentelemetry::logs::{AnyValue, LogRecord as _};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogExporter, LogProcessor, LoggerProviderBuilder,
    SdkLogRecord, SdkLoggerProvider,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Runtime;

use super::dropped_logs::{CountingLogExporter, CountingLogProcessor};
use super::exporters;
use crate::config::ResolvedConfig;

/// The SDK's default log queue bound (`OTEL_BLRP_MAX_QUEUE_SIZE`).
const DEFAULT_LOG_QUEUE_SIZE: usize = 2048;

/// `OTEL_BLRP_MAX_QUEUE_SIZE` as the SDK reads it (a positive integer, else 2048): our gate and
/// the SDK's queue must have the same bound.
fn log_queue_size() -> usize {
    std::env::var("OTEL_BLRP_MAX_QUEUE_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_LOG_QUEUE_SIZE)
}

/// A bounded batch processor with drop counting; delay and batch size from `OTEL_BLRP_*`,
/// read by the SDK.
fn with_log_exporter(
    builder: LoggerProviderBuilder,
    exporter: impl LogExporter + 'static,
) -> LoggerProviderBuilder {
    let capacity = log_queue_size();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let batch = BatchLogProcessor::builder(CountingLogExporter::new(exporter, in_flight.clone()))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(capacity)
                .build(),
        )
        .build();
    builder.with_log_processor(CountingLogProcessor::new(batch, in_flight, capacity))
}

/// `None` when no log exporter is configured (the bridge then stays off).
pub(crate) fn logger_provider(
    config: &ResolvedConfig,
    resource: Resource,
    runtime: Option<&Runtime>,
) -> Option<SdkLoggerProvider> {
    let mut builder = SdkLoggerProvider::builder()
        .with_resource(resource)
        .with_log_processor(LogCrateTarget);
    let mut any = false;
    if let (Some(target), Some(rt)) = (&config.logs, runtime) {
        let built = {
            // tonic's lazily connecting channel spawns its worker on this runtime.
            let _in_runtime = rt.enter();
            exporters::log_exporter(target)
        };
        match built {
            Ok(exporter) => {
                builder = with_log_exporter(builder, exporter);
                any = true;
            }
            Err(e) => tracing::warn!("{e}; logs are not exported over OTLP"),
        }
    }
    if config.console_logs {
        builder = with_log_exporter(builder, opentelemetry_stdout::LogExporter::default());
        any = true;
    }
    any.then(|| builder.build())
}

/// Gives a `log` crate record (forwarded by `tracing-log`, whose events all have the target
/// `log`) its own target, from the `log.target` field the appender made an attribute. First in
/// the pipeline: the processors after it see the mended record.
#[derive(Debug)]
pub(crate) struct LogCrateTarget;

impl LogProcessor for LogCrateTarget {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        if record.target().is_some_and(|t| t == "log") {
            let target = record.attributes_iter().find_map(|(k, v)| match v {
                AnyValue::String(s) if k.as_str() == "log.target" => Some(s.as_str().to_owned()),
                _ => None,
            });
            if let Some(target) = target {
                record.set_target(target);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
}
