//! Prefix reuse across requests against the real binary: a request whose prompt prefix an
//! EARLIER request left in the prefix index (its slot since reused by other requests), or that
//! another busy slot holds, starts from those shared KV cells, reused up to a whole number of
//! micro-batches (512 tokens here), and gives bit for bit the tokens and log-probabilities of
//! the same request on a fresh server; requests queued together with one prefix prefill it once.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::time::Duration;

/// A shared prefix of ~700 tokens (an agent's instructions): more than one 512-token
/// micro-batch, so 512 tokens can be reused.
fn prefix() -> String {
    let mut s = String::from("You are a support assistant. Follow these rules.\n");
    for i in 0..40 {
        s.push_str(&format!(
            "Rule {i}: answer questions about topic {i} politely and in at most two sentences.\n"
        ));
    }
    s
}

fn completion(prompt: &str, n: usize) -> Value {
    json!({"prompt": prompt, "n_predict": n, "temperature": 0, "n_probs": 2,
           "ignore_eos": true, "cache_prompt": true})
}

const ARGS: [&str; 4] = ["-c", "4096", "-np", "2"];

fn question(topic: u32) -> String {
    format!(
        "{}Question: what is topic {topic} about?\nAnswer:",
        prefix()
    )
}

/// The question on a fresh server: nothing cached.
fn cold_run() -> Option<Value> {
    let server = Server::start(&ARGS)?;
    let cold = server
        .post("/completion", &completion(&question(7), 8))
        .json();
    assert_eq!(cold["timings"]["cache_n"].as_u64(), Some(0), "{cold}");
    Some(cold)
}

fn assert_same_as_cold(warm: &Value, cold: &Value) {
    assert_eq!(
        warm["timings"]["cache_n"].as_u64(),
        Some(512),
        "the shared prefix was not reused (one micro-batch of it): {warm}"
    );
    assert_eq!(warm["content"], cold["content"]);
    assert_eq!(
        warm["completion_probabilities"], cold["completion_probabilities"],
        "tokens or log-probs differ from the cold run"
    );
}

#[test]
fn a_prefix_from_the_index_gives_cold_run_outputs_in_another_slot() {
    let Some(cold) = cold_run() else { return };
    let Some(s) = Server::start(&ARGS) else {
        return;
    };
    let first = s.post("/completion", &completion(&question(3), 1)).json();
    // Two unrelated requests: the first goes to the other (least recently used) slot, the
    // second to the first request's slot, which saves its prompt into the index.
    let d1 = s
        .post("/completion", &completion("The capital of France is", 1))
        .json();
    let d2 = s
        .post("/completion", &completion("Once upon a time", 1))
        .json();
    assert_ne!(d1["id_slot"], first["id_slot"], "{d1}");
    assert_eq!(d2["id_slot"], first["id_slot"], "{d2}");
    let warm = s.post("/completion", &completion(&question(7), 8)).json();
    assert_same_as_cold(&warm, &cold);
}

#[test]
fn a_prefix_from_another_busy_slot_gives_cold_run_outputs() {
    let Some(cold) = cold_run() else { return };
    let Some(s) = Server::start(&ARGS) else {
        return;
    };
    // One slot computes the prefix and keeps generating, so the next request goes to the other.
    let busy = s.send_only("/completion", &completion(&question(3), 2000));
    s.wait_slots(Duration::from_secs(120), "a slot generating", |slots| {
        (slots.iter()).any(|x| x["next_token"]["n_decoded"].as_u64() > Some(0))
    });
    let warm = s.post("/completion", &completion(&question(7), 8)).json();
    drop(busy);
    assert_same_as_cold(&warm, &cold);
}

#[test]
fn cache_ram_zero_turns_the_index_off() {
    let Some(s) = Server::start(&["-c", "4096", "-np", "2", "--cache-ram", "0"]) else {
        return;
    };
    s.post("/completion", &completion(&question(3), 1));
    s.post("/completion", &completion("The capital of France is", 1));
    s.post("/completion", &completion("Once upon a time", 1));
    let warm = s.post("/completion", &completion(&question(7), 8)).json();
    let n = warm["timings"]["cache_n"].as_u64().unwrap_or(u64::MAX);
    assert!(n < 64, "reused {n} tokens with the index off: {warm}");
}

/// Two requests for the same prompt queued together (they arrive while a long prefill keeps
/// the scheduler busy): the first prefills the prompt, the second waits for that prefill
/// instead of computing the same prefix at the same time in another slot, then starts from its
/// cells; both answers are the cold run's, bit for bit.
#[test]
fn requests_queued_together_prefill_their_shared_prefix_once() {
    let args = ["-c", "8192", "-np", "3", "-b", "512"];
    let Some(cold) = Server::start(&args) else {
        return;
    };
    let cold = cold
        .post("/completion", &completion(&question(7), 8))
        .json();
    assert_eq!(cold["timings"]["cache_n"].as_u64(), Some(0), "{cold}");
    let Some(s) = Server::start(&args) else {
        return;
    };
    let long: String = (0..600).map(|i| format!("item{i} ")).collect();
    let busy = s.send_only("/completion", &completion(&long, 1));
    s.wait_slots(
        Duration::from_secs(120),
        "the long prompt started",
        |slots| (slots.iter()).any(|x| x["is_processing"] == true),
    );
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| s.post("/completion", &completion(&question(7), 8)).json()))
            .collect();
        sent.into_iter()
            .map(|h| h.join().expect("request thread"))
            .collect()
    });
    drop(busy);
    let mut cached: Vec<u64> = answers
        .iter()
        .map(|a| a["timings"]["cache_n"].as_u64().expect("cache_n"))
        .collect();
    cached.sort_unstable();
    let timings: Vec<&Value> = answers.iter().map(|a| &a["timings"]).collect();
    assert_eq!(cached, [0, 512], "both prefilled the prefix: {timings:?}");
    for a in &answers {
        assert_eq!(a["content"], cold["content"]);
        assert_eq!(
            a["completion_probabilities"],
            cold["completion_probabilities"]
        );
    }
    println!(
        "two requests queued together: prefix prefilled once (cache_n {cached:?}), outputs as cold"
    );
}

/// `--cache-any-prefix`: a conversation shorter than a micro-batch that lands in another slot
/// still starts from its history (the index keeps and reuses any length, as llama.cpp's prompt
/// cache), where the exact index keeps nothing of it.
#[test]
fn cache_any_prefix_keeps_short_histories_across_slots() {
    let history = "User: tell me about topic 3.\nAssistant: Topic 3 is about rules.\n".repeat(4);
    let reused = |args: &[&str]| -> Option<(u64, u64)> {
        let s = Server::start(args)?;
        let first = s.post("/completion", &completion(&history, 1)).json();
        // Two unrelated requests take both slots, saving the history into the index.
        s.post("/completion", &completion("The capital of France is", 1));
        s.post("/completion", &completion("Once upon a time", 1));
        let next = s
            .post(
                "/completion",
                &completion(&format!("{history}User: and topic 4?"), 4),
            )
            .json();
        let n_history = first["tokens_evaluated"]
            .as_u64()
            .expect("tokens_evaluated");
        let cached = next["timings"]["cache_n"].as_u64().expect("cache_n");
        assert!(
            n_history < 512,
            "the history must be shorter than a micro-batch"
        );
        println!("history of {n_history} tokens: {cached} reused ({args:?})");
        Some((n_history, cached))
    };
    let Some((n_history, any)) = reused(&["-c", "4096", "-np", "2", "--cache-any-prefix"]) else {
        return;
    };
    assert!(
        any + 1 >= n_history,
        "the history was not reused: {any} of {n_history}"
    );
    let exact = reused(&ARGS).map_or(0, |(_, cached)| cached);
    assert!(
        exact < 64,
        "the exact index reuses whole micro-batches only: {exact}"
    );
}
