//! `OTEL_EXPORTER_PROMETHEUS_HOST` / `OTEL_EXPORTER_PROMETHEUS_PORT`: the real binary serves
//! `GET /metrics` on that second address too (no API key there: it is meant for an internal
//! address), with the same series as the main port's.
//!
//! `cargo test -p llama-server --test metrics_listener`
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on `port`: the status line and the whole response.
fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn metrics_are_served_on_the_prometheus_address() {
    let port = free_port();
    let port_s = port.to_string();
    let env = [
        ("OTEL_EXPORTER_PROMETHEUS_HOST", "127.0.0.1"),
        ("OTEL_EXPORTER_PROMETHEUS_PORT", port_s.as_str()),
    ];
    let Some(server) = common::Server::start_with_env(&["--api-key", "k"], &env) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let reply = loop {
        match get(port, "/metrics") {
            Ok(r) => break r,
            Err(e) => assert!(Instant::now() < deadline, "nothing on {port}: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("llamacpp:prompt_tokens_total"), "{reply}");
    if llama_otel::ENABLED {
        assert!(
            reply.contains("llama_requests_total"),
            "OpenTelemetry series: {reply}"
        );
    }
    let other = get(port, "/v1/models").unwrap();
    assert!(
        other.starts_with("HTTP/1.1 404"),
        "only /metrics there: {other}"
    );
    let main = server.get("/metrics").unwrap();
    assert_eq!(
        main.status, 200,
        "the main port still serves /metrics (with the key)"
    );
}
