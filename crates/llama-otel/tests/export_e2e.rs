//! End-to-end export settings against real receivers: OTLP over gRPC+TLS and HTTP+TLS
//! (stunnel in front of rotel, certificates made by openssl), a wrong CA, gzip on the wire,
//! OTLP/HTTP JSON, the console exporter, and environment values we cannot use.
//!
//! Each case runs a small instrumented program — this test binary re-run as a child, entering
//! [`child_program`] — with its own `OTEL_*` environment, so the SDK and the exporters read
//! the variables exactly as a server would. Tests start processes: they run one at a time.
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod export_support;

use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use export_support::{
    grpc_message_flags, http_encodings, make_certificates, Rotel, Stunnel, TeeProxy,
};
use llama_otel::{counter_add, span, TelemetryConfig};

const CHILD: &str = "LLAMA_OTEL_EXPORT_CHILD";
const SPAN: &str = "export-e2e-span";
const LONG: usize = 300;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The instrumented program: one span with a long attribute and one counter, then it waits
/// until the span export finished (delivered or failed) and prints its counters.
#[test]
#[ignore = "entry point of the child process the export tests start"]
fn child_program() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    // As the server does: the log subscriber first, so the set-up's warnings reach stderr.
    llama_otel::logs::init(llama_otel::logs::LogSettings {
        stream: Some(llama_otel::logs::LogStream::Stderr),
        ..Default::default()
    })
    .expect("log subscriber");
    let guard = llama_otel::init(TelemetryConfig {
        service_name: Some("export-e2e".into()),
        shutdown_timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .expect("init never fails on environment values");
    let s = span!(SPAN, kind: Server, "test.long" = "x".repeat(LONG));
    counter_add!("export_e2e.requests", 1);
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = llama_otel::telemetry_stats();
        if st.spans_exported + st.spans_export_failed > 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500)); // one more metric export
    let st = llama_otel::telemetry_stats();
    println!(
        "CHILD_STATS exported={} failed={} metric_failed={} error={:?}",
        st.spans_exported, st.spans_export_failed, st.metric_exports_failed, st.last_export_error
    );
    for line in llama_otel::prometheus_text().lines() {
        if line.starts_with("otel_sdk_") || line.starts_with("llama_telemetry_dropped") {
            println!("CHILD_PROM {line}");
        }
    }
    // Still serving: new spans get ids whatever happened to the exports.
    assert!(span!("after").traceresponse().is_some());
    let _ = guard.shutdown();
    println!("CHILD_DONE");
}

struct ChildRun {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl ChildRun {
    fn stat(&self, key: &str) -> u64 {
        let line = self
            .stdout
            .lines()
            .find_map(|l| l.find("CHILD_STATS").map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("no stats:\n{}\n{}", self.stdout, self.stderr));
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }
}

/// Runs [`child_program`] with `vars` and no other `OTEL_*` variable.
fn run_child(vars: &[(&str, String)]) -> ChildRun {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child_program", "--exact", "--ignored", "--nocapture"]);
    cmd.args(["--test-threads", "1"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env(CHILD, "1")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let run = ChildRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        run.ok && run.stdout.contains("CHILD_DONE"),
        "the instrumented program failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

fn v(s: &str) -> String {
    s.to_owned()
}

/// Waits until rotel printed our span; panics with its log otherwise.
fn assert_received(rotel: &Rotel, what: &str) {
    assert!(
        rotel.proc.wait_for(SPAN, Duration::from_secs(10)),
        "{what}: rotel did not receive {SPAN}:\n{}",
        rotel.proc.log()
    );
}

struct Tls {
    dir: tempfile::TempDir,
    rotel: Rotel,
    stunnel: Stunnel,
}

fn tls_setup() -> Option<Tls> {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path())?;
    let rotel = Rotel::start()?;
    let stunnel = Stunnel::start(dir.path(), &rotel)?;
    Some(Tls {
        dir,
        rotel,
        stunnel,
    })
}

#[test]
fn grpc_over_tls_arrives_at_the_collector() {
    let _s = serial();
    let Some(tls) = tls_setup() else { return };
    let ca = tls.dir.path().join("ca.pem").display().to_string();
    let run = run_child(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("https://127.0.0.1:{}", tls.stunnel.grpc_port),
        ),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca),
    ]);
    assert_received(&tls.rotel, "gRPC+TLS");
    assert!(run.stat("exported") >= 1, "{}", run.stdout);
    assert_eq!(run.stat("failed"), 0, "{}", run.stdout);
}

#[test]
fn http_over_tls_arrives_at_the_collector_with_per_signal_variables() {
    let _s = serial();
    let Some(tls) = tls_setup() else { return };
    let ca = tls.dir.path().join("ca.pem").display().to_string();
    let run = run_child(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("https://127.0.0.1:{}/v1/traces", tls.stunnel.http_port),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v("http/protobuf")),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", ca),
        // A wrong general CA: the signal-specific one must win.
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            tls.dir.path().join("other-ca.pem").display().to_string(),
        ),
    ]);
    assert_received(&tls.rotel, "HTTP+TLS");
    assert!(run.stat("exported") >= 1, "{}", run.stdout);
}

#[test]
fn mutual_tls_sends_the_client_certificate_and_fails_without_it() {
    let _s = serial();
    let Some(tls) = tls_setup() else { return };
    let file = |name: &str| tls.dir.path().join(name).display().to_string();
    let endpoint = format!("https://127.0.0.1:{}", tls.stunnel.mtls_grpc_port);
    let without = run_child(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.clone()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", file("ca.pem")),
        ("OTEL_METRICS_EXPORTER", v("none")),
    ]);
    assert!(without.stat("failed") >= 1, "{}", without.stdout);
    assert!(!tls.rotel.proc.log().contains(SPAN));
    let with = run_child(&[
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", file("ca.pem")),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", file("client.pem")),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", file("client.key")),
        ("OTEL_METRICS_EXPORTER", v("none")),
    ]);
    assert_received(&tls.rotel, "mutual TLS");
    assert!(with.stat("exported") >= 1, "{}", with.stdout);
}

#[test]
fn a_wrong_ca_fails_the_export_counts_it_and_the_program_carries_on() {
    let _s = serial();
    let Some(tls) = tls_setup() else { return };
    let other = tls.dir.path().join("other-ca.pem").display().to_string();
    let run = run_child(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("https://127.0.0.1:{}", tls.stunnel.grpc_port),
        ),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", other),
        ("OTEL_METRICS_EXPORTER", v("prometheus")),
    ]);
    assert_eq!(run.stat("exported"), 0, "{}", run.stdout);
    assert!(run.stat("failed") >= 1, "{}\n{}", run.stdout, run.stderr);
    let prom: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("CHILD_PROM"))
        .collect();
    let has = |prefix: &str, needle: &str| {
        prom.iter()
            .any(|l| l.contains(prefix) && l.contains(needle) && !l.ends_with(" 0"))
    };
    assert!(
        has("otel_sdk_exporter_span_exported", "error_type=\""),
        "{prom:#?}"
    );
    assert!(
        has("llama_telemetry_dropped", "reason=\"export_failed\""),
        "{prom:#?}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !tls.rotel.proc.log().contains(SPAN),
        "nothing may arrive through an untrusted TLS connection"
    );
}

#[test]
fn gzip_compresses_grpc_and_http_requests_on_the_wire() {
    let _s = serial();
    let Some(rotel) = Rotel::start() else { return };
    let grpc = TeeProxy::start(rotel.grpc_port);
    let http = TeeProxy::start(rotel.http_port);
    run_child(&[
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://127.0.0.1:{}", grpc.port),
        ),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", v("gzip")),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            format!("http://127.0.0.1:{}/v1/metrics", http.port),
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", v("http/protobuf")),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", v("gzip")),
    ]);
    assert_received(&rotel, "gzip over gRPC");
    let flags = grpc_message_flags(&grpc.sent());
    assert!(!flags.is_empty(), "no gRPC message seen");
    assert!(
        flags.iter().all(|&f| f == 1),
        "uncompressed gRPC messages: {flags:?}"
    );
    let requests = http_encodings(&http.sent());
    assert!(!requests.is_empty(), "no HTTP request seen");
    assert!(
        requests.iter().all(|(enc, magic)| enc == "gzip" && *magic),
        "{requests:?}"
    );
    assert!(
        rotel
            .proc
            .wait_for("export_e2e.requests", Duration::from_secs(10)),
        "rotel could not read the gzip metrics:\n{}",
        rotel.proc.log()
    );
}

#[test]
fn http_json_arrives_at_the_collector() {
    let _s = serial();
    let Some(rotel) = Rotel::start() else { return };
    let http = TeeProxy::start(rotel.http_port);
    run_child(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", http.port),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", v("http/json")),
        ("OTEL_METRICS_EXPORTER", v("none")),
    ]);
    assert_received(&rotel, "http/json");
    let sent = String::from_utf8_lossy(&http.sent()).to_ascii_lowercase();
    assert!(sent.contains("content-type: application/json"), "{sent}");
}

#[test]
fn console_prints_spans_and_metrics_to_stdout_with_the_attribute_limit_applied() {
    let _s = serial();
    let run = run_child(&[
        ("OTEL_TRACES_EXPORTER", v("console")),
        ("OTEL_METRICS_EXPORTER", v("console")),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", v("16")),
    ]);
    assert!(run.stdout.contains(SPAN), "{}", run.stdout);
    assert!(run.stdout.contains("export_e2e.requests"), "{}", run.stdout);
    assert!(run.stdout.contains(&"x".repeat(16)), "{}", run.stdout);
    assert!(!run.stdout.contains(&"x".repeat(17)), "{}", run.stdout);
}

#[test]
fn unknown_values_warn_once_each_and_export_still_works() {
    let _s = serial();
    let Some(rotel) = Rotel::start() else { return };
    let run = run_child(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", rotel.grpc_port),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", v("carrier-pigeon")),
        ("OTEL_PROPAGATORS", v("tracecontext,xray")),
        ("OTEL_METRICS_EXPORTER", v("otlp,statsd")),
    ]);
    assert_received(&rotel, "defaults after bad values");
    for var in [
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_PROPAGATORS",
        "OTEL_METRICS_EXPORTER",
    ] {
        let n = run.stderr.lines().filter(|l| l.contains(var)).count();
        assert_eq!(n, 1, "{var} warned {n} times:\n{}", run.stderr);
    }
}

#[test]
fn propagators_select_which_incoming_context_is_read() {
    let _s = serial();
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let lookup = |name: &str| match name {
        "traceparent" => Some(parent),
        "baggage" => Some("tenant=acme"),
        _ => None,
    };
    for (value, traced) in [("none", false), ("baggage", false), ("tracecontext", true)] {
        std::env::set_var("OTEL_PROPAGATORS", value);
        let guard = llama_otel::init(TelemetryConfig {
            disabled: Some(false),
            otlp: Some(false),
            ..Default::default()
        })
        .unwrap();
        let cx = llama_otel::TraceContext::extract(lookup);
        assert_eq!(cx.is_valid(), traced, "OTEL_PROPAGATORS={value}");
        drop(guard);
    }
    std::env::remove_var("OTEL_PROPAGATORS");
}

#[test]
fn an_unreadable_certificate_warns_and_leaves_that_exporter_out() {
    let _s = serial();
    let run = run_child(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", v("https://127.0.0.1:9")),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", v("/nonexistent/ca.pem")),
        // The console exporter still runs: the program keeps its telemetry and carries on.
        ("OTEL_TRACES_EXPORTER", v("otlp,console")),
        ("OTEL_METRICS_EXPORTER", v("none")),
    ]);
    // One warning (level letter `W`) per exporter that needs the certificate: traces and logs
    // (metrics are off).
    for signal in ["traces", "logs"] {
        let warnings = run
            .stderr
            .lines()
            .filter(|l| l.contains(" W ") && l.contains("/nonexistent/ca.pem"))
            .filter(|l| l.contains(&format!("OTLP {signal} exporter")))
            .count();
        assert_eq!(warnings, 1, "{signal}:\n{}", run.stderr);
    }
    assert!(run.stdout.contains(SPAN), "{}", run.stdout);
}
