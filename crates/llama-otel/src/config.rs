//! Telemetry configuration: what the server passes to `init()` and how it combines with the
//! standard `OTEL_*` environment variables. Resolution is pure and available in every build,
//! so the server can log the effective settings.
//!
//! Precedence, per setting: explicit [`TelemetryConfig`] field > signal-specific variable >
//! general variable > default. Variables the SDK already reads by itself and that we do not
//! override: `OTEL_RESOURCE_ATTRIBUTES` (merged into the resource), `OTEL_TRACES_SAMPLER`/`_ARG`
//! (used unless `trace_sample_ratio` is set), `OTEL_SPAN_*_COUNT_LIMIT`,
//! `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, and the exporters'
//! `OTEL_EXPORTER_OTLP_*HEADERS`, `*COMPRESSION`, `*TIMEOUT`, `*INSECURE`.

use std::time::Duration;

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
}

impl Protocol {
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }

    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling; `http/json` is not supported.
    pub fn parse(name: &'static str, value: &str) -> Result<Self> {
        match value.trim() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            _ => Err(invalid(name, value, "expected `grpc` or `http/protobuf`")),
        }
    }
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
    /// Push traces and metrics over OTLP. `None`: per signal, if `OTEL_{TRACES,METRICS}_EXPORTER`
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
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Where one signal is pushed.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpTarget {
    /// Transport.
    pub protocol: Protocol,
    /// Full endpoint URL handed to the exporter.
    pub endpoint: String,
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
}

#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }

    fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }
}

/// Environment lookup; the process environment in production, a map in tests.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn invalid(name: &'static str, value: &str, reason: &'static str) -> Error {
    Error::InvalidSetting {
        name,
        value: value.to_owned(),
        reason,
    }
}

fn non_empty(env: Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn parse_millis(env: Env<'_>, name: &'static str) -> Result<Option<Duration>> {
    match non_empty(env, name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| invalid(name, &v, "expected a whole number of milliseconds")),
    }
}

/// Which exporters `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` name: (otlp, prometheus).
fn exporter_list(env: Env<'_>, name: &'static str) -> Result<Option<(bool, bool)>> {
    let Some(list) = non_empty(env, name) else {
        return Ok(None);
    };
    let (mut otlp, mut prometheus) = (false, false);
    for item in list.split(',').map(str::trim) {
        match item {
            "otlp" => otlp = true,
            "prometheus" if name == "OTEL_METRICS_EXPORTER" => prometheus = true,
            "none" | "" => {}
            _ => {
                return Err(invalid(
                    name,
                    &list,
                    "supported: otlp, prometheus (metrics), none",
                ))
            }
        }
    }
    Ok(Some((otlp, prometheus)))
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

impl TelemetryConfig {
    /// Applies the process environment.
    pub fn resolve(&self) -> Result<ResolvedConfig> {
        self.resolve_with(&|name| std::env::var(name).ok())
    }

    pub(crate) fn resolve_with(&self, env: Env<'_>) -> Result<ResolvedConfig> {
        let disabled = self.disabled.unwrap_or_else(|| {
            non_empty(env, "OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        });
        let service_name = self
            .service_name
            .clone()
            .or_else(|| non_empty(env, "OTEL_SERVICE_NAME"))
            .or_else(|| service_name_from_resource_attributes(env))
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let metrics_exporters = exporter_list(env, "OTEL_METRICS_EXPORTER")?;
        let span_queue_size = match self.span_queue_size {
            Some(n) => n,
            None => match non_empty(env, "OTEL_BSP_MAX_QUEUE_SIZE") {
                None => DEFAULT_SPAN_QUEUE_SIZE,
                Some(v) => v.parse().map_err(|_| {
                    invalid("OTEL_BSP_MAX_QUEUE_SIZE", &v, "expected a positive integer")
                })?,
            },
        };
        if span_queue_size == 0 {
            return Err(invalid("span_queue_size", "0", "must be at least 1"));
        }
        if let Some(r) = self.trace_sample_ratio.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(invalid(
                "trace_sample_ratio",
                &r.to_string(),
                "must be within 0..=1",
            ));
        }
        let metric_export_interval = match self.metric_export_interval {
            Some(d) => d,
            None => parse_millis(env, "OTEL_METRIC_EXPORT_INTERVAL")?
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_METRIC_EXPORT_INTERVAL),
        };
        Ok(ResolvedConfig {
            disabled,
            service_name,
            service_version: self
                .service_version
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            resource_attributes: self.resource_attributes.clone(),
            traces: self.otlp_target(env, Signal::Traces)?,
            metrics: self.otlp_target(env, Signal::Metrics)?,
            prometheus: self.prometheus || metrics_exporters.is_some_and(|(_, p)| p),
            metric_export_interval,
            trace_sample_ratio: self.trace_sample_ratio,
            span_queue_size,
            shutdown_timeout: self.shutdown_timeout,
        })
    }

    fn otlp_enabled(&self, env: Env<'_>, signal: Signal) -> Result<bool> {
        if let Some(on) = self.otlp {
            return Ok(on);
        }
        let exporter_var = match signal {
            Signal::Traces => "OTEL_TRACES_EXPORTER",
            Signal::Metrics => "OTEL_METRICS_EXPORTER",
        };
        if let Some((otlp, _)) = exporter_list(env, exporter_var)? {
            return Ok(otlp);
        }
        Ok(self.endpoint.is_some()
            || non_empty(env, "OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
            || non_empty(
                env,
                &format!("OTEL_EXPORTER_OTLP_{}_ENDPOINT", signal.upper()),
            )
            .is_some())
    }

    fn otlp_target(&self, env: Env<'_>, signal: Signal) -> Result<Option<OtlpTarget>> {
        if !self.otlp_enabled(env, signal)? {
            return Ok(None);
        }
        let sig = signal.upper();
        let protocol = match self.protocol {
            Some(p) => p,
            None => match non_empty(env, &format!("OTEL_EXPORTER_OTLP_{sig}_PROTOCOL")) {
                Some(v) => Protocol::parse("OTEL_EXPORTER_OTLP_{TRACES,METRICS}_PROTOCOL", &v)?,
                None => match non_empty(env, "OTEL_EXPORTER_OTLP_PROTOCOL") {
                    Some(v) => Protocol::parse("OTEL_EXPORTER_OTLP_PROTOCOL", &v)?,
                    None => Protocol::Grpc,
                },
            },
        };
        let for_protocol = |base: &str| match protocol {
            Protocol::Grpc => base.to_owned(),
            Protocol::HttpProtobuf => join_path(base, signal.http_path()),
        };
        let endpoint = if let Some(base) = &self.endpoint {
            for_protocol(base)
        } else if let Some(full) = non_empty(env, &format!("OTEL_EXPORTER_OTLP_{sig}_ENDPOINT")) {
            full
        } else if let Some(base) = non_empty(env, "OTEL_EXPORTER_OTLP_ENDPOINT") {
            for_protocol(&base)
        } else {
            match protocol {
                Protocol::Grpc => "http://localhost:4317".to_owned(),
                Protocol::HttpProtobuf => join_path("http://localhost:4318", signal.http_path()),
            }
        };
        let exporter_timeout_set = non_empty(env, &format!("OTEL_EXPORTER_OTLP_{sig}_TIMEOUT"))
            .or_else(|| non_empty(env, "OTEL_EXPORTER_OTLP_TIMEOUT"))
            .is_some();
        let timeout = if exporter_timeout_set {
            None
        } else {
            match signal {
                Signal::Traces => parse_millis(env, "OTEL_BSP_EXPORT_TIMEOUT")?,
                Signal::Metrics => parse_millis(env, "OTEL_METRIC_EXPORT_TIMEOUT")?,
            }
        };
        Ok(Some(OtlpTarget {
            protocol,
            endpoint,
            timeout,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(config: &TelemetryConfig, vars: &[(&str, &str)]) -> Result<ResolvedConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config.resolve_with(&|name| map.get(name).cloned())
    }

    #[test]
    fn without_settings_nothing_is_exported_and_defaults_apply() {
        let r = resolve(&TelemetryConfig::default(), &[]).unwrap();
        assert!(!r.disabled);
        assert_eq!(r.service_name, DEFAULT_SERVICE_NAME);
        assert_eq!(r.traces, None);
        assert_eq!(r.metrics, None);
        assert!(!r.prometheus);
        assert_eq!(r.span_queue_size, DEFAULT_SPAN_QUEUE_SIZE);
        assert_eq!(r.metric_export_interval, DEFAULT_METRIC_EXPORT_INTERVAL);
    }

    #[test]
    fn sdk_disabled_is_case_insensitive_and_config_wins() {
        let env = [("OTEL_SDK_DISABLED", "TRUE")];
        assert!(resolve(&TelemetryConfig::default(), &env).unwrap().disabled);
        let forced_on = TelemetryConfig {
            disabled: Some(false),
            ..Default::default()
        };
        assert!(!resolve(&forced_on, &env).unwrap().disabled);
        let other = [("OTEL_SDK_DISABLED", "yes")];
        assert!(
            !resolve(&TelemetryConfig::default(), &other)
                .unwrap()
                .disabled
        );
    }

    #[test]
    fn service_name_precedence() {
        let attrs = [("OTEL_RESOURCE_ATTRIBUTES", "a=b, service.name=from-attrs")];
        let both = [
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
            ("OTEL_SERVICE_NAME", "from-env"),
        ];
        let cfg = TelemetryConfig::default();
        assert_eq!(resolve(&cfg, &attrs).unwrap().service_name, "from-attrs");
        assert_eq!(resolve(&cfg, &both).unwrap().service_name, "from-env");
        let named = TelemetryConfig {
            service_name: Some("from-config".into()),
            ..Default::default()
        };
        assert_eq!(resolve(&named, &both).unwrap().service_name, "from-config");
    }

    #[test]
    fn general_endpoint_enables_both_signals_over_grpc_unchanged() {
        let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")];
        let r = resolve(&TelemetryConfig::default(), &env).unwrap();
        let t = r.traces.unwrap();
        assert_eq!(t.protocol, Protocol::Grpc);
        assert_eq!(t.endpoint, "http://collector:4317");
        assert_eq!(r.metrics.unwrap().endpoint, "http://collector:4317");
    }

    #[test]
    fn http_appends_signal_paths_to_the_base_but_not_to_signal_endpoints() {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:9/custom"),
        ];
        let r = resolve(&TelemetryConfig::default(), &env).unwrap();
        assert_eq!(r.traces.unwrap().endpoint, "http://c:4318/v1/traces");
        assert_eq!(r.metrics.unwrap().endpoint, "http://m:9/custom");
    }

    #[test]
    fn signal_endpoint_enables_only_that_signal() {
        let env = [("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317")];
        let r = resolve(&TelemetryConfig::default(), &env).unwrap();
        assert_eq!(r.traces.unwrap().endpoint, "http://t:4317");
        assert_eq!(r.metrics, None);
    }

    #[test]
    fn config_endpoint_and_protocol_override_the_environment() {
        let env = [
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ];
        let cfg = TelemetryConfig {
            endpoint: Some("http://cfg:4318".into()),
            protocol: Some(Protocol::HttpProtobuf),
            ..Default::default()
        };
        let r = resolve(&cfg, &env).unwrap();
        let t = r.traces.unwrap();
        assert_eq!(t.protocol, Protocol::HttpProtobuf);
        assert_eq!(t.endpoint, "http://cfg:4318/v1/traces");
    }

    #[test]
    fn exporter_none_disables_a_signal_and_prometheus_enables_the_reader() {
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
        ];
        let r = resolve(&TelemetryConfig::default(), &env).unwrap();
        assert_eq!(r.traces, None);
        assert!(r.metrics.is_some());
        assert!(r.prometheus);
    }

    #[test]
    fn otlp_true_uses_the_default_localhost_endpoints() {
        let cfg = TelemetryConfig {
            otlp: Some(true),
            ..Default::default()
        };
        let r = resolve(&cfg, &[]).unwrap();
        assert_eq!(r.traces.unwrap().endpoint, "http://localhost:4317");
        let http = TelemetryConfig {
            protocol: Some(Protocol::HttpProtobuf),
            ..cfg
        };
        let r = resolve(&http, &[]).unwrap();
        assert_eq!(
            r.metrics.unwrap().endpoint,
            "http://localhost:4318/v1/metrics"
        );
    }

    #[test]
    fn batch_and_metric_timeouts_apply_only_without_exporter_timeouts() {
        let cfg = TelemetryConfig {
            otlp: Some(true),
            ..Default::default()
        };
        let env = [
            ("OTEL_BSP_EXPORT_TIMEOUT", "1500"),
            ("OTEL_METRIC_EXPORT_TIMEOUT", "2500"),
        ];
        let r = resolve(&cfg, &env).unwrap();
        assert_eq!(r.traces.unwrap().timeout, Some(Duration::from_millis(1500)));
        assert_eq!(
            r.metrics.unwrap().timeout,
            Some(Duration::from_millis(2500))
        );
        let env = [
            ("OTEL_BSP_EXPORT_TIMEOUT", "1500"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "700"),
        ];
        assert_eq!(resolve(&cfg, &env).unwrap().traces.unwrap().timeout, None);
    }

    #[test]
    fn queue_size_and_interval_come_from_the_environment() {
        let env = [
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "5000"),
        ];
        let r = resolve(&TelemetryConfig::default(), &env).unwrap();
        assert_eq!(r.span_queue_size, 64);
        assert_eq!(r.metric_export_interval, Duration::from_secs(5));
    }

    #[test]
    fn bad_values_are_reported_with_their_variable() {
        let cases: [(&str, &str); 5] = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "1s"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
        ];
        let cfg = TelemetryConfig::default();
        for (name, value) in cases {
            let env = [
                (name, value),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ];
            let err = resolve(&cfg, &env).unwrap_err().to_string();
            assert!(err.starts_with("otel: "), "{err}");
            assert!(err.contains(value), "{name}={value}: {err}");
        }
        let ratio = TelemetryConfig {
            trace_sample_ratio: Some(1.5),
            ..Default::default()
        };
        assert!(resolve(&ratio, &[]).is_err());
    }
}
