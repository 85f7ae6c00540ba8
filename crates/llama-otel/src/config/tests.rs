//! Unit tests of configuration resolution against a fake environment.

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
fn bad_environment_values_warn_once_naming_the_variable_and_keep_defaults() {
    let cases: [(&str, &str); 8] = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "1s"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-3"),
    ];
    let cfg = TelemetryConfig::default();
    for (name, value) in cases {
        let env = [
            (name, value),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        ];
        let r = resolve(&cfg, &env).unwrap();
        assert_eq!(r.warnings.len(), 1, "{name}={value}: {:?}", r.warnings);
        let w = &r.warnings[0];
        assert!(
            w.starts_with("otel: ") && w.contains(name) && w.contains(value),
            "{w}"
        );
        let t = r
            .traces
            .expect("traces still exported (otlp is the default exporter)");
        assert_eq!(t.protocol, Protocol::Grpc);
        assert_eq!(r.span_queue_size, DEFAULT_SPAN_QUEUE_SIZE);
        assert_eq!(r.metric_export_interval, DEFAULT_METRIC_EXPORT_INTERVAL);
        assert_eq!(r.attribute_value_length_limit, None);
    }
    let ratio = TelemetryConfig {
        trace_sample_ratio: Some(1.5),
        ..Default::default()
    };
    assert!(resolve(&ratio, &[]).is_err(), "explicit fields still fail");
    assert!(Protocol::parse("--otlp-protocol", "http/xml").is_err());
}

#[test]
fn http_json_is_a_protocol_and_appends_signal_paths() {
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
    ];
    let r = resolve(&TelemetryConfig::default(), &env).unwrap();
    let t = r.traces.unwrap();
    assert_eq!(t.protocol, Protocol::HttpJson);
    assert_eq!(t.endpoint, "http://c:4318/v1/traces");
    assert_eq!(
        t.endpoint_override, None,
        "the exporter reads the variable itself"
    );
    assert_eq!(r.metrics.unwrap().protocol, Protocol::Grpc);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn console_and_none_exporters() {
    let env = [
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ];
    let r = resolve(&TelemetryConfig::default(), &env).unwrap();
    assert!(r.console_traces && !r.console_metrics);
    assert_eq!((r.traces, r.metrics), (None, None));
    let env = [("OTEL_METRICS_EXPORTER", "console,otlp")];
    let r = resolve(&TelemetryConfig::default(), &env).unwrap();
    assert!(r.console_metrics && r.metrics.is_some() && r.traces.is_none());
}

#[test]
fn propagators_default_to_tracecontext_and_baggage() {
    let cfg = TelemetryConfig::default();
    let all = vec![Propagator::TraceContext, Propagator::Baggage];
    assert_eq!(resolve(&cfg, &[]).unwrap().propagators, all);
    let only = [("OTEL_PROPAGATORS", "baggage")];
    assert_eq!(
        resolve(&cfg, &only).unwrap().propagators,
        vec![Propagator::Baggage]
    );
    let none = [("OTEL_PROPAGATORS", "none")];
    assert!(resolve(&cfg, &none).unwrap().propagators.is_empty());
}

#[test]
fn tls_files_and_limits_prefer_the_signal_specific_variables() {
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4317"),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/ca.pem"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/traces-ca.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/client.pem"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/client.key"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "100"),
        ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "50"),
    ];
    let r = resolve(&TelemetryConfig::default(), &env).unwrap();
    let (t, m) = (r.traces.unwrap().tls, r.metrics.unwrap().tls);
    assert_eq!(
        t.certificate.as_deref(),
        Some(std::path::Path::new("/traces-ca.pem"))
    );
    assert_eq!(
        m.certificate.as_deref(),
        Some(std::path::Path::new("/ca.pem"))
    );
    assert_eq!(
        m.client_key.as_deref(),
        Some(std::path::Path::new("/client.key"))
    );
    assert_eq!(r.attribute_value_length_limit, Some(50));
}

#[test]
fn schemeless_grpc_endpoints_get_https_unless_insecure() {
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")];
    let r = resolve(&TelemetryConfig::default(), &env).unwrap();
    assert_eq!(r.traces.unwrap().endpoint, "https://collector:4317");
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "TRUE"),
    ];
    let r = resolve(&TelemetryConfig::default(), &env).unwrap();
    assert_eq!(r.traces.unwrap().endpoint, "https://collector:4317");
    assert_eq!(r.metrics.unwrap().endpoint, "http://collector:4317");
}

#[test]
fn logs_follow_the_endpoint_and_their_own_exporter_list() {
    let cfg = TelemetryConfig::default();
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
    let http = ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
    let r = resolve(&cfg, &[base, http]).unwrap();
    let logs = r.logs.unwrap();
    assert_eq!(logs.endpoint, "http://collector:4318/v1/logs");
    assert_eq!(logs.protocol, Protocol::HttpProtobuf);
    assert!(!r.console_logs);
    // Per-signal variables: the logs endpoint and protocol of their own.
    let env = [
        base,
        ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4317"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "1500"),
    ];
    let logs = resolve(&cfg, &env).unwrap().logs.unwrap();
    assert_eq!(
        (logs.endpoint.as_str(), logs.protocol),
        ("http://logs:4317", Protocol::Grpc)
    );
    assert_eq!(logs.timeout, Some(Duration::from_millis(1500)));
    // `none` turns logs off while traces and metrics still go out; `console` prints them.
    let r = resolve(&cfg, &[base, ("OTEL_LOGS_EXPORTER", "none")]).unwrap();
    assert!(r.logs.is_none() && r.traces.is_some() && r.metrics.is_some());
    let r = resolve(&cfg, &[("OTEL_LOGS_EXPORTER", "console")]).unwrap();
    assert!(r.console_logs && r.logs.is_none());
    let r = resolve(&cfg, &[("OTEL_LOGS_EXPORTER", "otlp")]).unwrap();
    assert_eq!(r.logs.unwrap().endpoint, "http://localhost:4317");
    // An unknown value warns, names the variable, and falls back to otlp.
    let r = resolve(&cfg, &[("OTEL_LOGS_EXPORTER", "loki")]).unwrap();
    assert!(r.logs.is_some());
    assert!(
        r.warnings.iter().any(|w| w.contains("OTEL_LOGS_EXPORTER")),
        "{:?}",
        r.warnings
    );
}
