//! `n` > 1 on `/v1/chat/completions` and `/v1/completions` with SmolLM2: greedy choices equal
//! each other and the `n` = 1 answer; seeded sampled choices differ from each other but repeat
//! run to run; the prompt is prefilled once (`llamacpp:prompt_tokens_total` grows by the prompt
//! once); streamed chunks carry their choice's index; usage counts the prompt once and sums
//! the completions; `n` above the slot count is a 400.

mod common;

use common::Server;
use serde_json::{json, Value};

fn server() -> Option<Server> {
    Server::start(&["-c", "2048", "-np", "4"])
}

fn texts(v: &Value) -> Vec<String> {
    let choices = v["choices"].as_array().expect("choices");
    choices
        .iter()
        .enumerate()
        .map(|(i, c)| {
            assert_eq!(c["index"], i, "{v}");
            let text = c["message"]["content"].as_str().or(c["text"].as_str());
            text.expect("text").to_string()
        })
        .collect()
}

fn post(s: &Server, path: &str, body: &Value) -> Value {
    let r = s.post(path, body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn greedy_choices_equal_the_single_answer_after_one_prefill() {
    let Some(s) = server() else { return };
    // A prompt no slot has cached: the three choices' prefill is counted once.
    let body = json!({"messages": [{"role": "user", "content": "Name three colours of the rainbow."}],
        "max_tokens": 12, "temperature": 0, "cache_prompt": false});
    let before = s.metric("prompt_tokens_total");
    let mut body3 = body.clone();
    body3["n"] = json!(3);
    let three = post(&s, "/v1/chat/completions", &body3);
    let prompt_tokens = three["usage"]["prompt_tokens"].as_u64().expect("usage");
    let prefilled = s.metric("prompt_tokens_total") - before;
    assert_eq!(
        prefilled, prompt_tokens as f64,
        "the prompt is decoded once for 3 choices"
    );
    let one = post(&s, "/v1/chat/completions", &body);
    let (three_t, one_t) = (texts(&three), texts(&one));
    assert_eq!(three_t.len(), 3);
    assert!(
        three_t.iter().all(|t| *t == one_t[0]),
        "{three_t:?} vs {one_t:?}"
    );
    let completion: u64 = three["choices"].as_array().map_or(0, |c| c.len() as u64)
        * one["usage"]["completion_tokens"].as_u64().expect("usage");
    assert_eq!(three["usage"]["completion_tokens"], completion);
    assert_eq!(
        three["usage"]["prompt_tokens"],
        one["usage"]["prompt_tokens"]
    );
    assert_eq!(
        three["usage"]["total_tokens"].as_u64(),
        Some(prompt_tokens + completion)
    );
}

#[test]
fn seeded_choices_differ_and_repeat() {
    let Some(s) = server() else { return };
    let body = json!({"prompt": "Once upon a time", "max_tokens": 16, "n": 3,
        "temperature": 1.0, "seed": 1234});
    let a = texts(&post(&s, "/v1/completions", &body));
    let b = texts(&post(&s, "/v1/completions", &body));
    assert_eq!(a, b, "same seed, same choices");
    assert!(a[0] != a[1] || a[1] != a[2], "choices should differ: {a:?}");
    // llama.cpp's rule: choice i samples with seed + i, so choice 1 of seed 1234 is choice 0
    // of seed 1235 (n = 1).
    let single = json!({"prompt": "Once upon a time", "max_tokens": 16,
        "temperature": 1.0, "seed": 1235});
    assert_eq!(texts(&post(&s, "/v1/completions", &single))[0], a[1]);
}

#[test]
fn streamed_chunks_carry_their_index() {
    let Some(s) = server() else { return };
    let body = json!({"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 8,
        "temperature": 0, "n": 2, "stream": true, "stream_options": {"include_usage": true}});
    let r = s.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let data = r.sse();
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
    let mut text = [String::new(), String::new()];
    let mut finished = [false, false];
    let mut usage = Vec::new();
    for d in &data[..data.len() - 1] {
        let v: Value = serde_json::from_str(d).expect("json chunk");
        if let Some(u) = v.get("usage") {
            usage.push(u.clone());
        }
        for c in v["choices"].as_array().expect("choices") {
            let i = c["index"].as_u64().expect("index") as usize;
            if let Some(t) = c["delta"]["content"].as_str() {
                text[i].push_str(t);
            }
            finished[i] |= c["finish_reason"].is_string();
        }
    }
    assert_eq!(finished, [true, true], "{data:?}");
    assert!(!text[0].is_empty());
    assert_eq!(text[0], text[1], "greedy choices stream the same text");
    assert_eq!(usage.len(), 1, "one usage chunk for all choices: {data:?}");
    let plain = post(
        &s,
        "/v1/chat/completions",
        &json!({"messages": body["messages"],
        "max_tokens": 8, "temperature": 0}),
    );
    assert_eq!(texts(&plain)[0], text[0]);
    assert_eq!(
        usage[0]["completion_tokens"].as_u64(),
        plain["usage"]["completion_tokens"].as_u64().map(|n| 2 * n)
    );
}

#[test]
fn n_above_the_slot_count_is_refused() {
    let Some(s) = server() else { return };
    let r = s.post(
        "/v1/completions",
        &json!({"prompt": "Hi", "n": 5, "max_tokens": 2}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("n must be between 1 and"), "{}", r.body);
    let r = s.post(
        "/v1/completions",
        &json!({"prompt": "Hi", "n": 0, "max_tokens": 2}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
}
