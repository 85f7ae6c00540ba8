//! `OTEL_SDK_DISABLED=true` yields a working no-op guard. Its own test binary, because it
//! changes the process environment.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

use llama_otel::{counter_add, span, TelemetryConfig};

#[test]
fn sdk_disabled_env_gives_a_noop_guard() {
    std::env::set_var("OTEL_SDK_DISABLED", "true");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1");
    let guard = llama_otel::init(TelemetryConfig {
        prometheus: true,
        ..Default::default()
    })
    .expect("a disabled SDK is not an error");
    assert!(!guard.is_active());
    assert!(!llama_otel::is_active());
    let s = span!("request", n = 1i64);
    counter_add!("llama.test.requests", 1);
    assert!(!s.is_recording());
    assert_eq!(s.traceresponse(), None);
    assert_eq!(llama_otel::prometheus_text(), "");
    assert!(guard.shutdown().is_ok());
    std::env::remove_var("OTEL_SDK_DISABLED");
    std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");
}
