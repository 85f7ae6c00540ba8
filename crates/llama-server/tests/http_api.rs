//! Raw-HTTP checks against the real binary: llama.cpp's reference chat, every endpoint's
//! shape, stop strings, log-probabilities, and every kind of bad input (each answered with a
//! 4xx OpenAI-style error, counted in /metrics, and harmless to the requests that follow).
//! One server for the whole file.

mod common;

use common::{chat_body, Server};
use serde_json::{json, Value};

const KEY: &str = "sk-test-key";

fn assert_error(resp: &common::Response, status: u16, what: &str) -> Value {
    assert_eq!(resp.status, status, "{what}: {}", resp.body);
    let body = resp.json();
    let err = &body["error"];
    assert!(
        err["message"].is_string() && err["type"].is_string() && !err["code"].is_null(),
        "{what}: {body}"
    );
    body
}

fn reference_chat(s: &Server) {
    let Some(reference) = common::reference() else {
        return;
    };
    let chat = &reference["chat"][0];
    let body =
        json!({"messages": chat["messages"], "max_tokens": chat["max_tokens"], "temperature": 0});
    let r = s.post("/v1/chat/completions", &body).json();
    assert_eq!(r["object"], "chat.completion");
    assert_eq!(
        r["choices"][0]["message"]["content"], chat["content"],
        "{r}"
    );
    assert_eq!(r["choices"][0]["finish_reason"], chat["finish_reason"]);
    for k in ["prompt_tokens", "completion_tokens", "total_tokens"] {
        assert_eq!(r["usage"][k], chat["usage"][k], "usage.{k}: {r}");
    }
    assert_eq!(r["model"], "smol");
    assert!(r["timings"]["predicted_n"].as_u64() == Some(12), "{r}");
}

fn reference_logprobs(s: &Server) {
    let Some(reference) = common::reference() else {
        return;
    };
    let g = &reference["generate"][0];
    let r = s
        .post(
            "/completion",
            &json!({"prompt": g["prompt"], "n_predict": 4, "temperature": 0, "n_probs": 5}),
        )
        .json();
    let first = &r["completion_probabilities"][0];
    for (got, want) in first["top_logprobs"]
        .as_array()
        .expect("top")
        .iter()
        .zip(g["first_top5"].as_array().expect("ref"))
    {
        assert_eq!(got["id"], want["id"], "{r}");
        let (a, b) = (
            got["logprob"].as_f64().unwrap_or(0.0),
            want["logprob"].as_f64().unwrap_or(1.0),
        );
        assert!((a - b).abs() < 1e-3, "logprob {a} vs {b}");
    }
    let want: Vec<u64> = g["tokens"].as_array().expect("tokens")[..4]
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let got: Vec<u64> = r["completion_probabilities"]
        .as_array()
        .expect("probs")
        .iter()
        .filter_map(|p| p["id"].as_u64())
        .collect();
    assert_eq!(got, want);
}

fn endpoints(s: &Server) {
    let health = s.get("/health").expect("health");
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
    let models = s.get("/v1/models").expect("models").json();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "smol");
    let c = s
        .post(
            "/v1/completions",
            &json!({"prompt": "The capital of France is", "max_tokens": 5, "temperature": 0}),
        )
        .json();
    assert_eq!(c["object"], "text_completion");
    assert_eq!(c["choices"][0]["finish_reason"], "length");
    assert_eq!(c["usage"]["completion_tokens"], 5);
    assert_eq!(c["usage"]["prompt_tokens"], 5);
    let l = s
        .post(
            "/completion",
            &json!({"prompt": [504, 3575, 282, 4649, 314], "n_predict": 3, "temperature": 0}),
        )
        .json();
    assert_eq!(
        (
            l["stop"].clone(),
            l["stop_type"].clone(),
            l["tokens_predicted"].clone()
        ),
        (json!(true), json!("limit"), json!(3))
    );
    assert!(
        l["content"]
            .as_str()
            .is_some_and(|t| t.starts_with(" Paris")),
        "{l}"
    );
    let t = s
        .post("/tokenize", &json!({"content": "<|im_start|>Hello world"}))
        .json();
    let ids = t["tokens"].clone();
    assert_eq!(ids.as_array().map(Vec::len), Some(3), "{t}");
    let d = s.post("/detokenize", &json!({"tokens": ids})).json();
    assert_eq!(d["content"], "<|im_start|>Hello world");
    let p = s
        .post("/tokenize", &json!({"content": "Hi", "with_pieces": true}))
        .json();
    assert_eq!(p["tokens"][0]["piece"], "Hi");
    let slots = s.get("/slots").expect("slots").json();
    assert_eq!(slots.as_array().map(Vec::len), Some(2));
    assert_eq!(slots[0]["n_ctx"], 512);
}

/// `return_tokens` (llama.cpp): the ids in the non-streamed response, none without it; streamed
/// chunks carry each token's id, the EOG token included, and the final object none.
fn returned_tokens(s: &Server) {
    // SmolLM2's chat prompt for the reference question: 12 tokens, then `<|im_end|>`.
    let prompt =
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
        Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n";
    let mut body =
        json!({"prompt": prompt, "n_predict": 16, "temperature": 0, "return_tokens": true});
    let full = s.post("/completion", &body).json();
    let ids = full["tokens"].as_array().expect("tokens").clone();
    assert_eq!(
        full["content"], "The answer to this classic math problem is 4.",
        "{full}"
    );
    assert_eq!(full["stop_type"], "eos", "{full}");
    assert_eq!(
        ids.len() as u64,
        full["tokens_predicted"].as_u64().unwrap_or(0),
        "{full}"
    );
    let eos = s
        .post("/tokenize", &json!({"content": "<|im_end|>"}))
        .json();
    assert_eq!(
        ids.last(),
        eos["tokens"].as_array().and_then(|t| t.first()),
        "EOG id last"
    );
    let text = s.post("/detokenize", &json!({"tokens": ids})).json();
    assert_eq!(
        text["content"].as_str(),
        Some("The answer to this classic math problem is 4.<|im_end|>")
    );
    let plain = s
        .post(
            "/completion",
            &json!({"prompt": prompt, "n_predict": 2, "temperature": 0}),
        )
        .json();
    assert_eq!(
        (plain["tokens"].clone(), plain["tokens_predicted"].clone()),
        (json!([]), json!(2))
    );
    body["stream"] = json!(true);
    let events: Vec<Value> = s
        .post("/completion", &body)
        .sse()
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk"))
        .collect();
    let (last, chunks) = events.split_last().expect("events");
    assert_eq!(
        (last["stop"].clone(), last["tokens"].clone()),
        (json!(true), json!([]))
    );
    let streamed: Vec<Value> = chunks
        .iter()
        .flat_map(|c| c["tokens"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(streamed, ids, "streamed ids");
}

fn streaming(s: &Server) {
    let mut body = chat_body("What is 2+2?", 32);
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let r = s.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    let events = r.sse();
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk"))
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "The answer to this classic math problem is 4.");
    let finish: Vec<&Value> = chunks
        .iter()
        .map(|c| &c["choices"][0]["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, vec![&json!("stop")]);
    let usage = &chunks.last().expect("usage chunk")["usage"];
    assert_eq!(
        (
            usage["prompt_tokens"].as_u64(),
            usage["completion_tokens"].as_u64()
        ),
        (Some(37), Some(12))
    );
    let l = s.post(
        "/completion",
        // Greedy: at the default temperature an early end-of-generation token is possible.
        &json!({"prompt": "The capital of France is", "n_predict": 4, "stream": true, "temperature": 0}),
    );
    let last: Value = serde_json::from_str(l.sse().last().expect("events")).expect("json");
    assert_eq!(
        (last["stop"].clone(), last["tokens_predicted"].clone()),
        (json!(true), json!(4))
    );
}

/// The nine fields of llama.cpp's `timings` (`server_slot_stats::to_json`), in our order.
const TIMINGS: [&str; 9] = [
    "cache_n",
    "prompt_n",
    "prompt_ms",
    "prompt_per_token_ms",
    "prompt_per_second",
    "predicted_n",
    "predicted_ms",
    "predicted_per_token_ms",
    "predicted_per_second",
];

/// `v["timings"]` has exactly llama.cpp's fields, `predicted_n` tokens and `n_prompt` prompt
/// tokens (evaluated plus cached); the rates are positive.
fn assert_timings(v: &Value, predicted_n: u64, n_prompt: u64) {
    let t = v["timings"]
        .as_object()
        .unwrap_or_else(|| panic!("no timings: {v}"));
    let keys: Vec<&str> = t.keys().map(String::as_str).collect();
    assert_eq!(keys, TIMINGS, "{v}");
    assert_eq!(t["predicted_n"].as_u64(), Some(predicted_n), "{v}");
    let prompt = t["prompt_n"].as_u64().unwrap_or(0) + t["cache_n"].as_u64().unwrap_or(0);
    assert_eq!(prompt, n_prompt, "{v}");
    for k in ["prompt_per_second", "predicted_per_second", "predicted_ms"] {
        assert!(t[k].as_f64().is_some_and(|x| x > 0.0), "{k}: {v}");
    }
}

fn json_chunks(r: &common::Response) -> Vec<Value> {
    let events = r.sse();
    events
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).expect("chunk"))
        .collect()
}

/// As llama.cpp: `timings` on the last chunk of every stream (the usage chunk with
/// `include_usage`) and on every non-streamed response, nowhere else.
fn stream_timings(s: &Server) {
    let mut body = chat_body("What is 2+2?", 4);
    let full = s.post("/v1/chat/completions", &body).json();
    assert_timings(&full, 4, 37);
    body["stream"] = json!(true);
    for include_usage in [false, true] {
        body["stream_options"] = json!({ "include_usage": include_usage });
        let chunks = json_chunks(&s.post("/v1/chat/completions", &body));
        let (last, rest) = chunks.split_last().expect("chunks");
        assert_timings(last, 4, 37);
        assert_eq!(last["usage"].is_object(), include_usage, "{last}");
        assert!(
            rest.iter().all(|c| c.get("timings").is_none()),
            "{chunks:?}"
        );
    }
    let text = json!({"prompt": "The capital of France is", "max_tokens": 3, "temperature": 0, "stream": true});
    for path in ["/v1/completions", "/completion"] {
        let chunks = json_chunks(&s.post(path, &text));
        let (last, rest) = chunks.split_last().expect("chunks");
        assert_timings(last, 3, 5);
        assert!(
            rest.iter().all(|c| c.get("timings").is_none()),
            "{path}: {chunks:?}"
        );
    }
    let r = s
        .post(
            "/v1/completions",
            &json!({"prompt": "The capital of France is", "max_tokens": 3, "temperature": 0}),
        )
        .json();
    assert_timings(&r, 3, 5);
}

fn stop_strings(s: &Server) {
    let mut body = chat_body("What is 2+2?", 32);
    body["stop"] = json!(["problem", "zzz"]);
    let r = s.post("/v1/chat/completions", &body).json();
    assert_eq!(
        r["choices"][0]["message"]["content"],
        "The answer to this classic math "
    );
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
    body["stream"] = json!(true);
    body["stop"] = json!("is 4");
    let events = s.post("/v1/chat/completions", &body).sse();
    let text: String = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "The answer to this classic math problem ");
    let l = s.post("/completion", &json!({"prompt": "The capital of France is", "n_predict": 20, "temperature": 0, "stop": ["\n"]})).json();
    assert_eq!(
        (
            l["content"].clone(),
            l["stop_type"].clone(),
            l["stopping_word"].clone()
        ),
        (json!(" Paris."), json!("word"), json!("\n"))
    );
}

fn bad_inputs(s: &Server) {
    let chat = "/v1/chat/completions";
    assert_error(
        &s.post_raw(chat, "{not json", "").expect("req"),
        400,
        "malformed JSON",
    );
    assert_error(&s.post_raw(chat, "", "").expect("req"), 400, "empty body");
    assert_error(
        &s.post(
            chat,
            &json!({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}),
        ),
        400,
        "wrong type",
    );
    assert_error(
        &s.post(chat, &json!({"messages": "hi"})),
        400,
        "messages not an array",
    );
    assert_error(
        &s.post(chat, &json!({"messages": []})),
        400,
        "empty messages",
    );
    assert_error(
        &s.post(chat, &json!({"model": "x"})),
        400,
        "missing messages",
    );
}

fn bad_values(s: &Server) {
    let chat = "/v1/chat/completions";
    // As llama.cpp's single-model server: any model name is served and echoed back.
    let other = s.post(
        chat,
        &json!({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}),
    );
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(other.json()["model"], "gpt-4");
    for max in [0, -1] {
        assert_error(
            &s.post(
                chat,
                &json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": max}),
            ),
            400,
            "max_tokens <= 0",
        );
    }
    let long = "word ".repeat(600);
    let e = assert_error(
        &s.post(
            chat,
            &json!({"messages": [{"role": "user", "content": long}]}),
        ),
        400,
        "prompt too long",
    );
    assert_eq!(e["error"]["type"], "exceed_context_size_error");
    assert_error(
        &s.post("/v1/completions", &json!({"prompt": [1, 2, 99999999]})),
        400,
        "token id out of range",
    );
    assert_error(
        &s.post("/v1/completions", &json!({"prompt": {"a": 1}})),
        400,
        "prompt of the wrong type",
    );
}

fn bad_access(s: &Server) {
    let chat = "/v1/chat/completions";
    let big = format!("{{\"prompt\": \"{}\"}}", "a".repeat(70_000));
    assert_error(
        &s.post_raw("/v1/completions", &big, "").expect("req"),
        413,
        "oversized body",
    );
    assert_error(
        &s.post_raw(chat, "{}", "Authorization: Bearer wrong\r\n")
            .expect("req"),
        401,
        "wrong key",
    );
    let no_key = s
        .raw("GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("req");
    assert_error(&no_key, 401, "missing key");
    let health = s
        .raw("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("req");
    assert_eq!(health.status, 200, "/health needs no key");
    assert_error(&s.get("/no/such/route").expect("req"), 404, "unknown route");
}

fn rejections_counted(s: &Server) {
    let metrics = s.get("/metrics").expect("metrics").body;
    for reason in [
        "invalid_json",
        "bad_request",
        "context_exceeded",
        "payload_too_large",
        "unauthorized",
    ] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "llamacpp:requests_rejected_total{{reason=\"{reason}\"}}"
                ))
            })
            .unwrap_or_else(|| panic!("no counter for {reason}"));
        let n: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!(n >= 1.0, "{line}");
    }
}

fn metrics(s: &Server) {
    let r = s.get("/metrics").expect("metrics");
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    for name in [
        "prompt_tokens_total",
        "prompt_tokens_cached_total",
        "prompt_seconds_total",
        "tokens_predicted_total",
        "tokens_predicted_seconds_total",
        "n_decode_total",
        "n_busy_slots_per_decode",
        "requests_processing",
        "requests_deferred",
        "prompt_tokens_seconds",
        "predicted_tokens_seconds",
        "kv_cache_usage_ratio",
        "kv_cache_tokens",
        "n_tokens_max",
        "spec_decode_num_draft_tokens_total",
        "spec_decode_num_accepted_tokens_total",
        "spec_decode_num_drafts_total",
    ] {
        assert!(
            r.body.contains(&format!("# TYPE llamacpp:{name} ")),
            "missing {name}"
        );
    }
    let value = |name: &str| -> f64 {
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(&format!("llamacpp:{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    assert!(value("tokens_predicted_total") >= 12.0);
    assert!(value("n_decode_total") >= 1.0);
    assert!(value("n_tokens_max") >= 12.0, "the longest slot sequence");
}

#[test]
fn http_api() {
    let Some(s) = Server::start(&[
        "-c",
        "1024",
        "-np",
        "2",
        "--api-key",
        KEY,
        "--alias",
        "smol",
        "--max-body-size",
        "65536",
    ]) else {
        return;
    };
    reference_chat(&s);
    reference_logprobs(&s);
    endpoints(&s);
    returned_tokens(&s);
    streaming(&s);
    stream_timings(&s);
    stop_strings(&s);
    bad_inputs(&s);
    bad_values(&s);
    bad_access(&s);
    rejections_counted(&s);
    reference_chat(&s);
    metrics(&s);
}
