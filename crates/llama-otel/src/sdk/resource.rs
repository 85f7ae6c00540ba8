//! The OpenTelemetry resource: service, host and process identity of this server.

use opentelemetry::KeyValue;
use opentelemetry_sdk::resource::{
    EnvResourceDetector, ResourceDetector, TelemetryResourceDetector,
};
use opentelemetry_sdk::Resource;

use crate::config::ResolvedConfig;

/// Detected attributes first, then `OTEL_RESOURCE_ATTRIBUTES` (the operator knows better),
/// then the server's explicit attributes and service name/version (the most specific).
pub(crate) fn build(config: &ResolvedConfig) -> Resource {
    let detectors: [Box<dyn ResourceDetector>; 2] = [
        Box::new(TelemetryResourceDetector),
        Box::new(EnvResourceDetector::new()),
    ];
    let explicit = config
        .resource_attributes
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .chain([KeyValue::new(
            "service.version",
            config.service_version.clone(),
        )]);
    Resource::builder_empty()
        .with_attributes(detected())
        .with_detectors(&detectors)
        .with_attributes(explicit)
        .with_service_name(config.service_name.clone())
        .build()
}

fn detected() -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.runtime.name", "rust"),
        KeyValue::new("os.type", os_type()),
        KeyValue::new("host.arch", host_arch()),
    ];
    if let Some(host) = hostname() {
        attrs.push(KeyValue::new("host.name", host));
    }
    if let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    {
        attrs.push(KeyValue::new("process.executable.name", exe));
    }
    // Deliberately no process.command_args: server command lines can carry API keys.
    attrs
}

fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" | "ios" => "darwin",
        other => other,
    }
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        other => other,
    }
}

/// Host name without `unsafe`/libc: procfs, `/etc/hostname`, then the usual variables.
pub(crate) fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        )
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::{Key, Value};

    fn resolved(extra: Vec<(String, String)>) -> ResolvedConfig {
        let cfg = crate::TelemetryConfig {
            service_name: Some("svc-under-test".into()),
            service_version: Some("9.9.9".into()),
            resource_attributes: extra,
            ..Default::default()
        };
        cfg.resolve_with(&|_| None).unwrap()
    }

    #[test]
    fn resource_names_service_host_and_process() {
        let r = build(&resolved(vec![(
            "gen_ai.request.model".into(),
            "smol".into(),
        )]));
        let get = |k: &'static str| r.get(&Key::new(k));
        assert_eq!(get("service.name"), Some(Value::from("svc-under-test")));
        assert_eq!(get("service.version"), Some(Value::from("9.9.9")));
        assert_eq!(get("gen_ai.request.model"), Some(Value::from("smol")));
        assert_eq!(
            get("process.pid"),
            Some(Value::I64(i64::from(std::process::id())))
        );
        assert!(get("telemetry.sdk.name").is_some());
        if let Some(host) = hostname() {
            assert_eq!(get("host.name"), Some(Value::from(host)));
        }
    }

    #[test]
    fn explicit_attributes_override_detected_ones() {
        let r = build(&resolved(vec![("host.name".into(), "pinned".into())]));
        assert_eq!(r.get(&Key::new("host.name")), Some(Value::from("pinned")));
    }
}
