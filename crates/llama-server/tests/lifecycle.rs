//! A request's life at its edges, against the real binary: a slot reaching its context limit,
//! clients that disconnect while queued, during prefill and on a non-streamed request (the slot
//! is freed and the next request is served), and SIGTERM with requests in flight (they finish,
//! the server exits 0).

mod common;

use common::{chat_body, Server};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn busy(slots: &[Value]) -> usize {
    slots
        .iter()
        .filter(|s| s["is_processing"] == json!(true))
        .count()
}

/// A request that keeps its slot busy for a long time.
fn endless(prompt: &str) -> Value {
    json!({"prompt": prompt, "n_predict": 100_000, "ignore_eos": true, "temperature": 0})
}

/// After a disconnect: the slot is idle again, nothing waits, and a new request is served.
fn served_after(s: &Server, what: &str) {
    s.wait_slots(WAIT, what, |slots| busy(slots) == 0);
    assert_eq!(
        s.metric("requests_deferred"),
        0.0,
        "{what}: a request is still queued"
    );
    let r = s.post(
        "/completion",
        &json!({"prompt": "The capital of France is", "n_predict": 3, "temperature": 0}),
    );
    assert_eq!(r.status, 200, "{what}: {}", r.body);
    assert!(
        r.json()["content"]
            .as_str()
            .is_some_and(|t| t.starts_with(" Paris")),
        "{what}: {}",
        r.body
    );
}

/// llama.cpp stops a request whose slot is full at `prompt + generated == n_ctx_slot` with
/// stop type `limit` (OpenAI `length`); the slot then serves the next request normally.
#[test]
fn slot_context_limit() {
    let Some(s) = Server::start(&["-c", "64", "-np", "1"]) else {
        return;
    };
    let r = s.post("/completion", &endless("Once upon a time")).json();
    assert_eq!(r["stop_type"], "limit", "{r}");
    let (prompt, predicted) = (
        r["tokens_evaluated"].as_u64(),
        r["tokens_predicted"].as_u64(),
    );
    assert_eq!(prompt.zip(predicted).map(|(p, n)| p + n), Some(64), "{r}");
    let mut body = chat_body("Tell me a long story", 100_000);
    body["ignore_eos"] = json!(true);
    let c = s.post("/v1/chat/completions", &body).json();
    assert_eq!(c["choices"][0]["finish_reason"], "length", "{c}");
    assert_eq!(c["usage"]["total_tokens"], 64, "{c}");
    served_after(&s, "after the context limit");
}

#[test]
fn disconnect_while_queued() {
    let Some(s) = Server::start(&["-c", "512", "-np", "1"]) else {
        return;
    };
    let mut first = endless("Write a story");
    first["stream"] = json!(true);
    let (head, holder) = s.open_stream("/completion", &first);
    assert_eq!(head.status, 200);
    let queued = s.send_only("/completion", &endless("Another story"));
    let start = std::time::Instant::now();
    while s.metric("requests_deferred") < 1.0 {
        assert!(
            start.elapsed() < WAIT,
            "the second request was never queued"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(queued);
    while s.metric("requests_deferred") > 0.0 {
        assert!(
            start.elapsed() < WAIT,
            "the queued request stays queued after its client left"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(holder);
    served_after(&s, "after a disconnect while queued");
}

#[test]
fn disconnect_during_prefill() {
    // A small batch makes a long prompt take many decode steps.
    let Some(s) = Server::start(&["-c", "2048", "-np", "1", "-b", "16", "--ubatch-size", "16"])
    else {
        return;
    };
    let prompt = "The quick brown fox jumps over the lazy dog. ".repeat(150);
    let conn = s.send_only("/completion", &endless(&prompt));
    s.wait_slots(WAIT, "prefill start", |slots| {
        busy(slots) == 1 && slots[0]["next_token"]["n_decoded"] == json!(0)
    });
    drop(conn);
    let slots = s.get("/slots").expect("slots").json();
    assert_eq!(
        slots[0]["next_token"]["n_decoded"], 0,
        "prefill ended before the disconnect: {slots}"
    );
    served_after(&s, "after a disconnect during prefill");
}

#[test]
fn disconnect_on_a_non_streamed_request() {
    let Some(s) = Server::start(&["-c", "2048", "-np", "1"]) else {
        return;
    };
    let conn = s.send_only("/completion", &endless("Write a story"));
    s.wait_slots(WAIT, "generation start", |slots| {
        slots[0]["next_token"]["n_decoded"].as_u64().unwrap_or(0) > 2
    });
    drop(conn);
    served_after(&s, "after a disconnect on a non-streamed request");
}

#[test]
fn sigterm_lets_requests_in_flight_finish() {
    let Some(mut s) = Server::start(&["-c", "1024", "-np", "2", "--shutdown-timeout", "60"]) else {
        return;
    };
    let body = json!({"prompt": "Once upon a time", "n_predict": 24, "ignore_eos": true, "temperature": 0});
    let server = &s;
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let clients: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| server.post("/completion", &body)))
            .collect();
        server.wait_slots(WAIT, "both requests running", |slots| busy(slots) == 2);
        server.signal_term();
        clients
            .into_iter()
            .map(|c| {
                let r = c.join().expect("client");
                assert_eq!(r.status, 200, "{}", r.body);
                r.json()
            })
            .collect()
    });
    for r in &answers {
        assert_eq!(
            (r["stop_type"].clone(), r["tokens_predicted"].clone()),
            (json!("limit"), json!(24)),
            "{r}"
        );
    }
    let status = s.wait_exit(WAIT).expect("no exit after SIGTERM");
    assert!(status.success(), "exit status {status}");
}
