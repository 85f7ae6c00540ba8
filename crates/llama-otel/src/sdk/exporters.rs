//! OTLP exporters for one signal. Must be called inside the dedicated tokio runtime's
//! context: tonic's lazily connecting channel spawns its worker task there.
//!
//! The exporters read endpoint, headers, compression, timeout and `INSECURE` from the
//! environment themselves; we set only what the config overrides, the transport, and TLS (which
//! they do not read from the environment: see [`super::tls`]).

use opentelemetry_otlp::{
    LogExporter, MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};

use super::tls;
use crate::config::{OtlpTarget, Protocol};
use crate::error::{Error, Result};

pub(crate) fn exporter_error(signal: &'static str, target: &OtlpTarget, e: impl ToString) -> Error {
    Error::Exporter {
        signal,
        endpoint: target.endpoint.clone(),
        message: e.to_string(),
    }
}

fn otlp_protocol(p: Protocol) -> opentelemetry_otlp::Protocol {
    match p {
        Protocol::Grpc => opentelemetry_otlp::Protocol::Grpc,
        Protocol::HttpProtobuf => opentelemetry_otlp::Protocol::HttpBinary,
        Protocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
    }
}

/// Applies the transport's protocol, the endpoint override, the timeout and TLS to any
/// exporter builder (the methods come from traits, hence a macro).
macro_rules! configure {
    (grpc: $builder:expr, $target:expr, $signal:expr) => {{
        let mut b = $builder.with_protocol(otlp_protocol($target.protocol));
        if let Some(endpoint) = &$target.endpoint_override {
            b = b.with_endpoint(endpoint.clone());
        }
        if let Some(timeout) = $target.timeout {
            b = b.with_timeout(timeout);
        }
        if tls::wanted(&$target.endpoint) {
            let config =
                tls::tonic_config(&$target.tls).map_err(|e| exporter_error($signal, $target, e))?;
            b = b.with_tls_config(config);
        }
        b
    }};
    (http: $builder:expr, $target:expr, $signal:expr) => {{
        let mut b = $builder.with_protocol(otlp_protocol($target.protocol));
        if let Some(endpoint) = &$target.endpoint_override {
            b = b.with_endpoint(endpoint.clone());
        }
        if let Some(timeout) = $target.timeout {
            b = b.with_timeout(timeout);
        }
        // Always our client: reqwest is built with rustls but without a process-wide crypto
        // provider, so the exporter's default client could not start.
        let client = tls::http_client(&$target.tls, $target.client_timeout)
            .map_err(|e| exporter_error($signal, $target, e))?;
        b.with_http_client(client)
    }};
}

pub(crate) fn span_exporter(target: &OtlpTarget) -> Result<SpanExporter> {
    let built = match target.protocol {
        Protocol::Grpc => {
            configure!(grpc: SpanExporter::builder().with_tonic(), target, "traces").build()
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            configure!(http: SpanExporter::builder().with_http(), target, "traces").build()
        }
    };
    built.map_err(|e| exporter_error("traces", target, e))
}

pub(crate) fn metric_exporter(target: &OtlpTarget) -> Result<MetricExporter> {
    let built = match target.protocol {
        Protocol::Grpc => {
            configure!(grpc: MetricExporter::builder().with_tonic(), target, "metrics").build()
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            configure!(http: MetricExporter::builder().with_http(), target, "metrics").build()
        }
    };
    built.map_err(|e| exporter_error("metrics", target, e))
}

pub(crate) fn log_exporter(target: &OtlpTarget) -> Result<LogExporter> {
    let built = match target.protocol {
        Protocol::Grpc => {
            configure!(grpc: LogExporter::builder().with_tonic(), target, "logs").build()
        }
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            configure!(http: LogExporter::builder().with_http(), target, "logs").build()
        }
    };
    built.map_err(|e| exporter_error("logs", target, e))
}

/// `otel.component.type` of an OTLP exporter, as the SDK self-observability conventions name it.
pub(crate) fn component_type(protocol: Protocol, signal: &str) -> String {
    let transport = match protocol {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http",
        Protocol::HttpJson => "http_json",
    };
    format!("otlp_{transport}_{signal}_exporter")
}
