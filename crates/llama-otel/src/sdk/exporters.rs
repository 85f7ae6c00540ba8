//! OTLP exporters for one signal. Must be called inside the dedicated tokio runtime's
//! context: tonic's lazily connecting channel spawns its worker task there.

use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};

use crate::config::{OtlpTarget, Protocol};
use crate::error::{Error, Result};

fn exporter_error(signal: &'static str, target: &OtlpTarget, e: impl ToString) -> Error {
    Error::Exporter {
        signal,
        endpoint: target.endpoint.clone(),
        message: e.to_string(),
    }
}

/// Applies endpoint and timeout to any exporter builder (the methods come from a trait).
macro_rules! configure {
    ($builder:expr, $target:expr) => {{
        let mut b = $builder.with_endpoint($target.endpoint.clone());
        if let Some(timeout) = $target.timeout {
            b = b.with_timeout(timeout);
        }
        b
    }};
}

pub(crate) fn span_exporter(target: &OtlpTarget) -> Result<SpanExporter> {
    let built = match target.protocol {
        Protocol::Grpc => configure!(SpanExporter::builder().with_tonic(), target).build(),
        Protocol::HttpProtobuf => configure!(
            SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary),
            target
        )
        .build(),
    };
    built.map_err(|e| exporter_error("traces", target, e))
}

pub(crate) fn metric_exporter(target: &OtlpTarget) -> Result<MetricExporter> {
    let built = match target.protocol {
        Protocol::Grpc => configure!(MetricExporter::builder().with_tonic(), target).build(),
        Protocol::HttpProtobuf => configure!(
            MetricExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary),
            target
        )
        .build(),
    };
    built.map_err(|e| exporter_error("metrics", target, e))
}
