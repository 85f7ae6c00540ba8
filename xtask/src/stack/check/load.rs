//! Load on the server while the queries run: a mix of every request kind, and bursts beyond
//! the slots and queue.

use crate::stack::http::{http, HttpResponse};
use anyhow::Result;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Requests of every kind the dashboards look at: chat (plain and streamed), legacy and
/// llama.cpp completions, streams the client abandons, unknown models, bad JSON. More workers
/// than slots, with a short queue, so requests queue and some are turned away (queue_full).
pub(super) fn load_worker(addr: String, worker: usize, stop: Arc<AtomicBool>) {
    let mut i = worker;
    while !stop.load(Ordering::Relaxed) {
        let _ = request(&addr, i);
        i += 1;
    }
}

/// The `i`-th request of a worker (its kind cycles with `i`).
fn request(addr: &str, i: usize) -> Result<HttpResponse> {
    let post = |path: &str, body: &str| {
        http(
            addr,
            "POST",
            path,
            "application/json",
            body,
            Duration::from_secs(60),
        )
    };
    let prompt = format!("Count from {} to {} in words.", i % 17, i % 17 + 5);
    let chat = |stream: bool, max: u32, model: &str| {
        json!({"model": model, "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max, "stream": stream, "temperature": 0.7, "seed": i})
        .to_string()
    };
    match i % 8 {
        0..=2 => post("/v1/chat/completions", &chat(false, 12, "llama")),
        3 => post("/v1/chat/completions", &chat(true, 16, "llama")),
        4 => post(
            "/completion",
            &json!({"prompt": prompt, "n_predict": 8}).to_string(),
        ),
        5 => abandon_stream(addr, &chat(true, 64, "llama")),
        6 if i % 16 == 6 => post("/v1/chat/completions", &chat(false, 4, "gpt-4")),
        6 => post("/v1/chat/completions", "{\"messages\": ["),
        _ => post(
            "/v1/completions",
            &json!({"prompt": prompt, "max_tokens": 8}).to_string(),
        ),
    }
}

/// Every 15 s, more simultaneous requests than slots plus queue hold: some are turned away
/// with `queue_full` (a server-side error for the error-ratio queries) and the rest queue.
pub(super) fn burst_worker(addr: String, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::scope(|s| {
            for n in 0..6 {
                let addr = &addr;
                s.spawn(move || {
                    let body = json!({"messages": [{"role": "user", "content": format!("Say {n} words.")}],
                        "max_tokens": 24})
                    .to_string();
                    let _ = http(addr, "POST", "/v1/chat/completions", "application/json", &body, Duration::from_secs(60));
                });
            }
        });
        for _ in 0..15 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Starts a streamed chat and hangs up after the first event (a client that goes away).
fn abandon_stream(addr: &str, body: &str) -> Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&seen).contains("data:") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(HttpResponse {
        status: 0,
        body: String::new(),
    })
}
