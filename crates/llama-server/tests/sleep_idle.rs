//! `--sleep-idle-seconds` as llama.cpp's server: after the idle time the engine sleeps (context
//! freed, `is_sleeping` in `/props`), `/health`, `/props`, `/models` and `/metrics` answer without
//! waking it, a generation or `/tokenize` wakes it, and the answer after waking is the one a
//! server that never slept gives. The flag's value checks are llama.cpp's.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn is_sleeping(s: &Server) -> bool {
    let r = s.get("/props").expect("props");
    assert_eq!(r.status, 200);
    r.json()["is_sleeping"].as_bool().expect("is_sleeping")
}

fn wait_for_sleep(s: &Server) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if is_sleeping(s) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the server did not fall asleep");
}

fn complete(s: &Server) -> Value {
    let body = json!({"prompt": "The capital of France is", "n_predict": 6, "temperature": 0,
        "return_tokens": true});
    let r = s.post("/completion", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn server_sleeps_when_idle_and_wakes_on_work() {
    let Some(s) = Server::start(&["-np", "1", "-c", "512", "--sleep-idle-seconds", "1"]) else {
        return;
    };
    assert!(!is_sleeping(&s), "awake right after loading");
    let before = complete(&s);
    wait_for_sleep(&s);

    // Read-only endpoints do not wake it.
    assert_eq!(s.get("/health").expect("health").status, 200);
    assert_eq!(s.get("/v1/models").expect("models").status, 200);
    let predicted = s.metric("tokens_predicted_total");
    assert!(predicted >= 6.0, "{predicted}");
    assert_eq!(s.metric("kv_cache_tokens"), 0.0, "the KV cache is freed");
    assert!(is_sleeping(&s), "reads left it asleep");

    // A generation wakes it and answers as before (the cache was dropped: no prompt reuse).
    let after = complete(&s);
    assert!(!is_sleeping(&s));
    assert_eq!(after["tokens"], before["tokens"]);
    assert_eq!(
        after["timings"]["cache_n"], 0,
        "sleeping forgot the prompt cache"
    );

    // So does tokenizing, as in llama.cpp.
    wait_for_sleep(&s);
    let r = s.post("/tokenize", &json!({"content": "Hello"}));
    assert_eq!(r.status, 200);
    assert!(!is_sleeping(&s), "/tokenize wakes the server");
}

#[test]
fn sleep_idle_seconds_takes_llama_cpp_values() {
    for bad in ["0", "-2"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_llama-server"))
            .args(["-m", "none.gguf", "--sleep-idle-seconds", bad])
            .output()
            .expect("run llama-server");
        assert!(!out.status.success(), "{bad} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot be 0 or less than -1"), "{bad}: {err}");
    }
}
