//! Telemetry configuration: what the server passes to `init()` and how it combines with the
//! standard `OTEL_*` environment variables. Resolution is pure and available in every build,
//! so the server can log the effective settings.
//!
//! Precedence, per setting: explicit [`TelemetryConfig`] field > signal-specific variable >
//! general variable > default. This module decides only what the SDK cannot: whether and where
//! each signal goes (OTLP, console, Prometheus), the transport, TLS files, propagators, the
//! span queue bound and attribute value length limit. The SDK and the OTLP exporters read the
//! rest themselves: `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`/`_ARG` (unless
//! `trace_sample_ratio` is set), `OTEL_SPAN_*_COUNT_LIMIT`, `OTEL_BSP_SCHEDULE_DELAY`,
//! `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, and the endpoints (unless [`TelemetryConfig::endpoint`]
//! is set), `*HEADERS`, `*COMPRESSION`, `*TIMEOUT` and `*INSECURE` of every signal.
//!
//! A value that cannot be used produces one warning in [`ResolvedConfig::warnings`] (printed by
//! `init()`) and the default applies: the server is never stopped by its environment.

mod env;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use env::Env;
pub use env::Propagator;
use env::{non_empty, ExporterList, Warnings};

use crate::error::{Error, Result};

/// Service name used when neither the config nor the environment names one.
pub const DEFAULT_SERVICE_NAME: &str = "llama-server";
/// Default deadline for flushing and shutting down when the guard is dropped.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);
/// Default bound of the span queue (`OTEL_BSP_MAX_QUEUE_SIZE`).
pub const DEFAULT_SPAN_QUEUE_SIZE: usize = 2048;
/// Default metric push interval (`OTEL_METRIC_EXPORT_INTERVAL`).
pub const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(60);

/// OTLP transport.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC via tonic (`grpc`), default port 4317.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`), default port 4318.
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies (`http/json`), default port 4318.
    HttpJson,
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }

    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling (for command-line flags, where an
    /// error is the right answer; the environment is read leniently instead).
    pub fn parse(name: &'static str, value: &str) -> Result<Self> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            _ => Err(invalid(
                name,
                value,
                "expected `grpc`, `http/protobuf` or `http/json`",
            )),
        }
    }

    fn is_http(self) -> bool {
        self != Protocol::Grpc
    }
}

/// PEM files for TLS to the collector (`OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_}CERTIFICATE`,
/// `..._CLIENT_CERTIFICATE`, `..._CLIENT_KEY`), per signal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// Trusted CA certificate(s); replaces the system roots when set.
    pub certificate: Option<PathBuf>,
    /// Client certificate chain for mutual TLS (used together with `client_key`).
    pub client_certificate: Option<PathBuf>,
    /// Client private key for mutual TLS.
    pub client_key: Option<PathBuf>,
}

/// What the server wants; `None` fields defer to the environment.
#[derive(Clone, Debug)]
pub struct TelemetryConfig {
    /// Turn everything off (else `OTEL_SDK_DISABLED=true`).
    pub disabled: Option<bool>,
    /// `service.name` (else `OTEL_SERVICE_NAME`, `service.name` in `OTEL_RESOURCE_ATTRIBUTES`,
    /// then [`DEFAULT_SERVICE_NAME`]).
    pub service_name: Option<String>,
    /// `service.version` (else this crate's version; servers should pass their own).
    pub service_version: Option<String>,
    /// Extra resource attributes, e.g. `("gen_ai.request.model", "smollm2-135m")`; they win
    /// over `OTEL_RESOURCE_ATTRIBUTES`.
    pub resource_attributes: Vec<(String, String)>,
    /// Push traces, metrics and logs over OTLP. `None`: per signal, if `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`
    /// names `otlp`, or else if any OTLP endpoint (config or environment) is configured. Unlike
    /// the spec's default of always pushing to localhost, a server started without any OTLP
    /// setting does not try to reach a collector.
    pub otlp: Option<bool>,
    /// Base OTLP endpoint, like `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` and `/v1/metrics`
    /// are appended for HTTP). Wins over all endpoint variables.
    pub endpoint: Option<String>,
    /// Transport (else `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL`,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL`, then gRPC).
    pub protocol: Option<Protocol>,
    /// Attach a Prometheus reader for [`prometheus_text`](crate::prometheus_text). Also enabled
    /// by `OTEL_METRICS_EXPORTER` naming `prometheus`.
    pub prometheus: bool,
    /// Metric push interval (else `OTEL_METRIC_EXPORT_INTERVAL` in ms, then 60 s).
    pub metric_export_interval: Option<Duration>,
    /// Sample this fraction of new traces, honouring the caller's sampled flag
    /// (`ParentBased(TraceIdRatio)`); else the SDK reads `OTEL_TRACES_SAMPLER`/`_ARG`.
    pub trace_sample_ratio: Option<f64>,
    /// Bound of the span queue (else `OTEL_BSP_MAX_QUEUE_SIZE`, then 2048). Spans beyond it
    /// are dropped and counted in `llama.telemetry.dropped`.
    pub span_queue_size: Option<usize>,
    /// Longest string attribute value on spans and their events (else
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, then
    /// unlimited); longer values are cut at a character boundary.
    pub attribute_value_length_limit: Option<usize>,
    /// Deadline for the final flush when the guard is dropped.
    pub shutdown_timeout: Duration,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            disabled: None,
            service_name: None,
            service_version: None,
            resource_attributes: Vec::new(),
            otlp: None,
            endpoint: None,
            protocol: None,
            prometheus: false,
            metric_export_interval: None,
            trace_sample_ratio: None,
            span_queue_size: None,
            attribute_value_length_limit: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Where one signal is pushed.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpTarget {
    /// Transport.
    pub protocol: Protocol,
    /// The endpoint URL exports go to (for display: unless [`TelemetryConfig::endpoint`] set
    /// it, the exporter resolves the same URL from the environment itself).
    pub endpoint: String,
    /// The endpoint to hand the exporter, only when [`TelemetryConfig::endpoint`] is set.
    pub endpoint_override: Option<String>,
    /// Export timeout as the exporter resolves it (`OTEL_EXPORTER_OTLP_*TIMEOUT`, 10 s), for
    /// the HTTP client this crate builds for TLS.
    pub client_timeout: Duration,
    /// TLS files, if any.
    pub tls: TlsFiles,
    /// Export timeout derived from `OTEL_BSP_EXPORT_TIMEOUT` / `OTEL_METRIC_EXPORT_TIMEOUT`
    /// when no `OTEL_EXPORTER_OTLP_*TIMEOUT` is set; `None` leaves it to the exporter (10 s).
    pub timeout: Option<Duration>,
}

/// The effective settings after applying the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedConfig {
    /// Telemetry is off altogether.
    pub disabled: bool,
    /// `service.name`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: String,
    /// Extra resource attributes from the config.
    pub resource_attributes: Vec<(String, String)>,
    /// OTLP trace export, if any.
    pub traces: Option<OtlpTarget>,
    /// OTLP metric export, if any.
    pub metrics: Option<OtlpTarget>,
    /// OTLP log export, if any (`OTEL_LOGS_EXPORTER`, else as traces: any endpoint set).
    pub logs: Option<OtlpTarget>,
    /// Spans printed to stdout (`OTEL_TRACES_EXPORTER=console`).
    pub console_traces: bool,
    /// Log records printed to stdout by the SDK's exporter (`OTEL_LOGS_EXPORTER=console`).
    pub console_logs: bool,
    /// Metrics printed to stdout (`OTEL_METRICS_EXPORTER=console`).
    pub console_metrics: bool,
    /// Propagators for incoming and outgoing context (`OTEL_PROPAGATORS`).
    pub propagators: Vec<Propagator>,
    /// Longest string attribute value, if limited.
    pub attribute_value_length_limit: Option<usize>,
    /// Prometheus reader attached.
    pub prometheus: bool,
    /// Metric push interval.
    pub metric_export_interval: Duration,
    /// Explicit trace sampling ratio, if any.
    pub trace_sample_ratio: Option<f64>,
    /// Span queue bound.
    pub span_queue_size: usize,
    /// Shutdown deadline.
    pub shutdown_timeout: Duration,
    /// One line per environment value that was ignored (unknown or unsupported).
    pub warnings: Vec<String>,
}

/// Default OTLP export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`), as the exporters use.
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
        }
    }

    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }
}

fn invalid(name: &'static str, value: &str, reason: &'static str) -> Error {
    Error::InvalidSetting {
        name,
        value: value.to_owned(),
        reason,
    }
}

fn service_name_from_resource_attributes(env: Env<'_>) -> Option<String> {
    let attrs = env("OTEL_RESOURCE_ATTRIBUTES")?;
    attrs.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == "service.name" && !v.trim().is_empty()).then(|| v.trim().to_owned())
    })
}

fn join_path(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}

/// The signal-specific variable if set, else the general one: `OTEL_EXPORTER_OTLP_{SIG_}{what}`.
fn per_signal(env: Env<'_>, signal: Signal, what: &str) -> Option<(String, String)> {
    [
        format!("OTEL_EXPORTER_OTLP_{}_{what}", signal.upper()),
        format!("OTEL_EXPORTER_OTLP_{what}"),
    ]
    .into_iter()
    .find_map(|name| non_empty(env, &name).map(|v| (name, v)))
}

/// A gRPC endpoint without a scheme gets `https://`, or `http://` with
/// `OTEL_EXPORTER_OTLP_{SIG_,}INSECURE=true`: the rule the exporter applies, made visible here
/// so the endpoint shown (and the TLS decision) match what is dialled.
fn with_grpc_scheme(env: Env<'_>, signal: Signal, protocol: Protocol, endpoint: String) -> String {
    if protocol != Protocol::Grpc || endpoint.contains("://") {
        return endpoint;
    }
    let insecure =
        per_signal(env, signal, "INSECURE").is_some_and(|(_, v)| v.eq_ignore_ascii_case("true"));
    let scheme = if insecure { "http" } else { "https" };
    format!("{scheme}://{endpoint}")
}

impl TelemetryConfig {
    /// Applies the process environment. Fails only on invalid explicit fields; ignored
    /// environment values are listed in [`ResolvedConfig::warnings`].
    pub fn resolve(&self) -> Result<ResolvedConfig> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    /// Explicit fields are the program's own choice: a bad one is an error, not a warning.
    fn validate(&self) -> Result<()> {
        if self.span_queue_size == Some(0) {
            return Err(invalid("span_queue_size", "0", "must be at least 1"));
        }
        if let Some(r) = self.trace_sample_ratio.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(invalid(
                "trace_sample_ratio",
                &r.to_string(),
                "must be within 0..=1",
            ));
        }
        Ok(())
    }

    pub(crate) fn resolve_with(&self, env: Env<'_>) -> Result<ResolvedConfig> {
        self.validate()?;
        let mut warn = Warnings::default();
        let disabled = self.disabled.unwrap_or_else(|| {
            non_empty(env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        });
        let service_name = self
            .service_name
            .clone()
            .or_else(|| non_empty(env, "OTEL_SERVICE_NAME"))
            .or_else(|| service_name_from_resource_attributes(env))
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let traces_list = env::exporter_list(env, "OTEL_TRACES_EXPORTER", false, &mut warn);
        let metrics_list = env::exporter_list(env, "OTEL_METRICS_EXPORTER", true, &mut warn);
        let logs_list = env::exporter_list(env, "OTEL_LOGS_EXPORTER", false, &mut warn);
        let span_queue_size = self
            .span_queue_size
            .or_else(|| env::positive(env, "OTEL_BSP_MAX_QUEUE_SIZE", &mut warn))
            .unwrap_or(DEFAULT_SPAN_QUEUE_SIZE);
        let metric_export_interval = self
            .metric_export_interval
            .or_else(|| env::millis(env, "OTEL_METRIC_EXPORT_INTERVAL", &mut warn))
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_METRIC_EXPORT_INTERVAL);
        let attribute_value_length_limit = self.attribute_value_length_limit.or_else(|| {
            [
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            ]
            .into_iter()
            .find_map(|name| env::positive(env, name, &mut warn))
        });
        let propagators = env::propagators(env, &mut warn);
        let traces = self.otlp_target(env, Signal::Traces, traces_list, &mut warn);
        let metrics = self.otlp_target(env, Signal::Metrics, metrics_list, &mut warn);
        let logs = self.otlp_target(env, Signal::Logs, logs_list, &mut warn);
        Ok(ResolvedConfig {
            disabled,
            service_name,
            service_version: self
                .service_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            resource_attributes: self.resource_attributes.clone(),
            traces,
            metrics,
            logs,
            console_traces: traces_list.is_some_and(|l| l.console),
            console_logs: logs_list.is_some_and(|l| l.console),
            console_metrics: metrics_list.is_some_and(|l| l.console),
            prometheus: self.prometheus || metrics_list.is_some_and(|l| l.prometheus),
            metric_export_interval,
            trace_sample_ratio: self.trace_sample_ratio,
            span_queue_size,
            propagators,
            attribute_value_length_limit,
            shutdown_timeout: self.shutdown_timeout,
            warnings: warn.0,
        })
    }

    /// `otlp` in the config, else the signal's exporter list, else whether any endpoint is set
    /// (unlike the spec's default of always pushing to localhost, a server started without any
    /// OTLP setting does not try to reach a collector).
    fn otlp_enabled(&self, env: Env<'_>, signal: Signal, list: Option<ExporterList>) -> bool {
        if let Some(on) = self.otlp {
            return on;
        }
        if let Some(list) = list {
            return list.otlp;
        }
        self.endpoint.is_some() || per_signal(env, signal, "ENDPOINT").is_some()
    }

    fn protocol(&self, env: Env<'_>, signal: Signal, warn: &mut Warnings) -> Protocol {
        if let Some(p) = self.protocol {
            return p;
        }
        let sig = signal.upper();
        for name in [
            format!("OTEL_EXPORTER_OTLP_{sig}_PROTOCOL"),
            "OTEL_EXPORTER_OTLP_PROTOCOL".to_owned(),
        ] {
            if let Some(v) = non_empty(env, &name) {
                match Protocol::parse("", &v) {
                    Ok(p) => return p,
                    Err(_) => warn.ignored(&name, &v, "supported: grpc, http/protobuf, http/json"),
                }
            }
        }
        Protocol::Grpc
    }

    fn otlp_target(
        &self,
        env: Env<'_>,
        signal: Signal,
        list: Option<ExporterList>,
        warn: &mut Warnings,
    ) -> Option<OtlpTarget> {
        if !self.otlp_enabled(env, signal, list) {
            return None;
        }
        let sig = signal.upper();
        let protocol = self.protocol(env, signal, warn);
        let for_protocol = |base: &str| match protocol.is_http() {
            false => base.to_owned(),
            true => join_path(base, signal.http_path()),
        };
        let endpoint_override = self.endpoint.as_deref().map(for_protocol);
        let endpoint = if let Some(e) = &endpoint_override {
            e.clone()
        } else if let Some(full) = non_empty(env, &format!("OTEL_EXPORTER_OTLP_{sig}_ENDPOINT")) {
            full
        } else if let Some(base) = non_empty(env, "OTEL_EXPORTER_OTLP_ENDPOINT") {
            for_protocol(&base)
        } else {
            match protocol.is_http() {
                false => "http://localhost:4317".to_owned(),
                true => join_path("http://localhost:4318", signal.http_path()),
            }
        };
        let endpoint = with_grpc_scheme(env, signal, protocol, endpoint);
        let exporter_timeout = per_signal(env, signal, "TIMEOUT");
        let client_timeout = exporter_timeout
            .as_ref()
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .map_or(DEFAULT_EXPORT_TIMEOUT, Duration::from_millis);
        let timeout = match (exporter_timeout, signal) {
            (Some(_), _) => None,
            (None, Signal::Traces) => env::millis(env, "OTEL_BSP_EXPORT_TIMEOUT", warn),
            (None, Signal::Metrics) => env::millis(env, "OTEL_METRIC_EXPORT_TIMEOUT", warn),
            (None, Signal::Logs) => env::millis(env, "OTEL_BLRP_EXPORT_TIMEOUT", warn),
        };
        env::check_compression(env, &format!("OTEL_EXPORTER_OTLP_{sig}_COMPRESSION"), warn);
        env::check_compression(env, "OTEL_EXPORTER_OTLP_COMPRESSION", warn);
        let file = |what: &str| per_signal(env, signal, what).map(|(_, v)| PathBuf::from(v));
        Some(OtlpTarget {
            protocol,
            endpoint,
            endpoint_override,
            timeout,
            client_timeout: timeout.unwrap_or(client_timeout),
            tls: TlsFiles {
                certificate: file("CERTIFICATE"),
                client_certificate: file("CLIENT_CERTIFICATE"),
                client_key: file("CLIENT_KEY"),
            },
        })
    }
}
