//! The logger provider behind OTLP logs: a batch processor per exporter (OTLP as
//! `OTEL_LOGS_EXPORTER` and the endpoint settings say, the SDK's stdout exporter for
//! `console`), built like the span and metric pipelines, TLS and compression included.

use opentelemetry_sdk::logs::{BatchLogProcessor, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use tokio::runtime::Runtime;

use super::exporters;
use crate::config::ResolvedConfig;

/// `None` when no log exporter is configured (the bridge then stays off).
pub(crate) fn logger_provider(
    config: &ResolvedConfig,
    resource: Resource,
    runtime: Option<&Runtime>,
) -> Option<SdkLoggerProvider> {
    let mut builder = SdkLoggerProvider::builder().with_resource(resource);
    let mut any = false;
    if let (Some(target), Some(rt)) = (&config.logs, runtime) {
        let built = {
            // tonic's lazily connecting channel spawns its worker on this runtime.
            let _in_runtime = rt.enter();
            exporters::log_exporter(target)
        };
        match built {
            Ok(exporter) => {
                // Batch settings (queue, delay, batch size) from OTEL_BLRP_*, read by the SDK.
                builder = builder.with_log_processor(BatchLogProcessor::builder(exporter).build());
                any = true;
            }
            Err(e) => tracing::warn!("{e}; logs are not exported over OTLP"),
        }
    }
    if config.console_logs {
        builder = builder.with_log_processor(
            BatchLogProcessor::builder(opentelemetry_stdout::LogExporter::default()).build(),
        );
        any = true;
    }
    any.then(|| builder.build())
}
