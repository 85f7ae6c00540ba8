//! Continuous batching against the real binary: 8 streaming clients on 4 slots all finish with
//! correct usage and the same greedy text as when run one by one; a client that disconnects
//! mid-stream frees its slot at once; a full wait queue answers 503 with Retry-After.

mod common;

use common::{chat_body, read_chunk, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PROMPTS: [&str; 8] = [
    "Tell me a joke",
    "What is the capital of France?",
    "Write a haiku about rust",
    "Count to five",
    "Say hi",
    "Name a color",
    "What is 2+2?",
    "Describe the sea",
];
const MAX_TOKENS: u32 = 16;

/// Streams one chat completion; returns (text, finish_reason, usage).
fn stream_chat(s: &Server, prompt: &str) -> (String, String, Value) {
    let mut body = chat_body(prompt, MAX_TOKENS);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = s.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let (mut text, mut finish, mut usage) = (String::new(), String::new(), Value::Null);
    for e in r.sse().iter().filter(|e| *e != "[DONE]") {
        let c: Value = serde_json::from_str(e).expect("chunk");
        text.push_str(c["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
        if let Some(f) = c["choices"][0]["finish_reason"].as_str() {
            finish = f.to_string();
        }
        if !c["usage"].is_null() {
            usage = c["usage"].clone();
        }
    }
    (text, finish, usage)
}

fn concurrent_equals_sequential(s: &Server) {
    let sequential: Vec<_> = PROMPTS.iter().map(|p| stream_chat(s, p)).collect();
    let started = Instant::now();
    let concurrent: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = PROMPTS
            .iter()
            .map(|p| scope.spawn(move || stream_chat(s, p)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    eprintln!("8 concurrent streams took {:?}", started.elapsed());
    for (i, ((seq, par), prompt)) in sequential.iter().zip(&concurrent).zip(PROMPTS).enumerate() {
        let (_, finish, usage) = par;
        let completion = usage["completion_tokens"].as_u64().expect("usage");
        assert!(
            matches!(finish.as_str(), "stop" | "length"),
            "{prompt}: {finish}"
        );
        assert!(
            completion <= u64::from(MAX_TOKENS)
                && (finish == "stop" || completion == u64::from(MAX_TOKENS)),
            "{prompt}: {usage}"
        );
        assert_eq!(
            usage["total_tokens"].as_u64(),
            Some(usage["prompt_tokens"].as_u64().unwrap_or(0) + completion)
        );
        let key = |(t, f, u): &(String, String, Value)| {
            (
                t.clone(),
                f.clone(),
                u["prompt_tokens"].clone(),
                u["completion_tokens"].clone(),
            )
        };
        assert_eq!(
            key(seq),
            key(par),
            "request {i} ({prompt}) differs when batched"
        );
    }
    let metrics = s.get("/metrics").expect("metrics").body;
    let busy: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("llamacpp:n_busy_slots_per_decode "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        busy > 1.0,
        "requests were not batched: {busy} busy slots per decode"
    );
}

fn idle_slots(s: &Server) -> usize {
    let slots = s.get("/slots").expect("slots").json();
    slots
        .as_array()
        .expect("array")
        .iter()
        .filter(|x| x["is_processing"] == json!(false))
        .count()
}

fn disconnect_frees_the_slot(s: &Server) {
    let mut body = chat_body("Write a long story about a dragon", 2000);
    body["stream"] = json!(true);
    body["ignore_eos"] = json!(true);
    let (head, mut reader) = s.open_stream("/v1/chat/completions", &body);
    assert_eq!(head.status, 200);
    let mut events = 0;
    while events < 4 {
        let chunk = read_chunk(&mut reader)
            .expect("read")
            .expect("stream ended early");
        events += chunk.matches("data: ").count();
    }
    assert_eq!(idle_slots(s), 3, "the streaming request holds one slot");
    drop(reader);
    let start = Instant::now();
    while idle_slots(s) < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "slot still busy after the client left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("slot freed {:?} after the disconnect", start.elapsed());
    let r = s
        .post("/v1/chat/completions", &chat_body("Say hi", 4))
        .json();
    assert_eq!(r["usage"]["completion_tokens"], 4);
}

#[test]
fn batching_and_disconnects() {
    let Some(s) = Server::start(&["-c", "2048", "-np", "4"]) else {
        return;
    };
    concurrent_equals_sequential(&s);
    disconnect_frees_the_slot(&s);
}

#[test]
fn full_queue_answers_503() {
    let Some(s) = Server::start(&["-c", "512", "-np", "1", "--queue-size", "1"]) else {
        return;
    };
    let mut body = chat_body("Write a long story", 400);
    body["stream"] = json!(true);
    body["ignore_eos"] = json!(true);
    let (a, _ra) = s.open_stream("/v1/chat/completions", &body);
    let (b, _rb) = s.open_stream("/v1/chat/completions", &body);
    assert_eq!((a.status, b.status), (200, 200), "one running, one queued");
    let c = s.post("/v1/chat/completions", &chat_body("hi", 2));
    assert_eq!(c.status, 503, "{}", c.body);
    assert_eq!(c.header("retry-after"), Some("1"));
    assert_eq!(c.json()["error"]["type"], "unavailable_error");
}
