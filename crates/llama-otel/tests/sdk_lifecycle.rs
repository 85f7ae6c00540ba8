//! Real SDK setup and teardown (feature `otel`): a collector that is down or never answers
//! must not block call sites, `init()` or the guard's drop.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use llama_otel::{counter_add, histogram_record, span, Error, Protocol, TelemetryConfig};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A loopback "collector" that accepts connections and never answers.
fn silent_collector() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

fn otlp_config(endpoint: String, protocol: Protocol) -> TelemetryConfig {
    TelemetryConfig {
        disabled: Some(false),
        otlp: Some(true),
        endpoint: Some(endpoint),
        protocol: Some(protocol),
        metric_export_interval: Some(Duration::from_millis(200)),
        shutdown_timeout: Duration::from_secs(2),
        ..Default::default()
    }
}

fn record_some_telemetry() {
    for i in 0..20u64 {
        let s = span!("request", kind: Server, i = i);
        counter_add!("llama.test.requests", 1);
        histogram_record!("llama.test.latency", 0.01, unit: "s");
        drop(s);
    }
}

fn exercise(config: TelemetryConfig) {
    let start = Instant::now();
    let guard = llama_otel::init(config).expect("init");
    let init_time = start.elapsed();
    assert!(
        init_time < Duration::from_secs(2),
        "init took {init_time:?}"
    );
    assert!(guard.is_active());

    let start = Instant::now();
    record_some_telemetry();
    std::thread::sleep(Duration::from_millis(500)); // let exporters try (and hang or fail)
    let calls = start.elapsed() - Duration::from_millis(500);
    assert!(calls < Duration::from_secs(1), "call sites took {calls:?}");

    let start = Instant::now();
    drop(guard);
    let drop_time = start.elapsed();
    eprintln!("init {init_time:?}, 20 spans+metrics {calls:?}, guard drop {drop_time:?}");
    assert!(
        drop_time < Duration::from_secs(5),
        "guard drop took {drop_time:?}"
    );
    assert!(!llama_otel::is_active());
}

#[test]
fn silent_grpc_collector_never_blocks_init_call_sites_or_drop() {
    let _s = serial();
    exercise(otlp_config(silent_collector(), Protocol::Grpc));
}

#[test]
fn silent_http_collector_never_blocks_init_call_sites_or_drop() {
    let _s = serial();
    exercise(otlp_config(silent_collector(), Protocol::HttpProtobuf));
}

#[test]
fn refused_connections_are_counted_and_drop_is_bounded() {
    let _s = serial();
    // Port 1 on loopback: nothing listens, connections are refused at once.
    let mut config = otlp_config("http://127.0.0.1:1".into(), Protocol::Grpc);
    config.metric_export_interval = Some(Duration::from_millis(100));
    let guard = llama_otel::init(config).unwrap();
    counter_add!("llama.test.requests", 1);
    let deadline = Instant::now() + Duration::from_secs(4);
    while llama_otel::telemetry_stats().metric_exports_failed == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = llama_otel::telemetry_stats();
    assert!(stats.metric_exports_failed > 0, "{stats:?}");
    assert!(stats.last_export_error.is_some(), "{stats:?}");
    let start = Instant::now();
    let _ = guard.shutdown();
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn full_span_queue_drops_and_counts_instead_of_blocking() {
    let _s = serial();
    let mut config = otlp_config(silent_collector(), Protocol::Grpc);
    config.span_queue_size = Some(4);
    let guard = llama_otel::init(config).unwrap();
    let start = Instant::now();
    for i in 0..50u64 {
        drop(span!("burst", i = i));
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    // One batch of 4 may be stuck in the hung export and 4 more queued behind it.
    let dropped = llama_otel::telemetry_stats().spans_dropped_queue_full;
    assert!((42..=50).contains(&dropped), "dropped {dropped}");
    let start = Instant::now();
    let result = guard.shutdown();
    eprintln!(
        "dropped {dropped} of 50; shutdown {:?}: {result:?}",
        start.elapsed()
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        matches!(
            result,
            Err(Error::ShutdownTimeout { .. } | Error::Shutdown(_))
        ),
        "a hung collector cannot be flushed: {result:?}"
    );
}

#[test]
fn only_one_sdk_at_a_time() {
    let _s = serial();
    let config = TelemetryConfig {
        disabled: Some(false),
        otlp: Some(false),
        ..Default::default()
    };
    let first = llama_otel::init(config.clone()).unwrap();
    assert!(matches!(
        llama_otel::init(config.clone()),
        Err(Error::AlreadyInitialized)
    ));
    drop(first);
    let again = llama_otel::init(config).unwrap();
    assert!(again.is_active());
}

#[test]
fn without_exporters_spans_still_carry_ids_for_propagation() {
    let _s = serial();
    let guard = llama_otel::init(TelemetryConfig {
        disabled: Some(false),
        otlp: Some(false),
        ..Default::default()
    })
    .unwrap();
    let s = span!("request");
    let header = s
        .traceresponse()
        .expect("ids are assigned without an exporter");
    assert_eq!(header.len(), 55, "{header}");
    drop(s);
    assert!(guard.shutdown().is_ok());
}

#[test]
fn prometheus_reader_serves_text_until_the_guard_is_dropped() {
    let _s = serial();
    let guard = llama_otel::init(TelemetryConfig {
        disabled: Some(false),
        otlp: Some(false),
        prometheus: true,
        ..Default::default()
    })
    .unwrap();
    counter_add!("llama.test.prom_only", 5);
    let text = llama_otel::prometheus_text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("llama_test_prom_only_total") && l.ends_with(" 5")),
        "{text}"
    );
    assert!(text.contains("service_name=\"llama-server\""), "{text}");
    drop(guard);
    assert_eq!(llama_otel::prometheus_text(), "");
}
