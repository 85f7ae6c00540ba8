//! Request options and server flags against the real binary: the API key on every protected
//! route (`/health` open, as in llama.cpp), seeded sampling at temperature > 0, prompt-cache
//! reuse (`cached_tokens`), `n_probs` at every generated position, `--mixed-batches`, and
//! `logit_bias` by token text with `generation_settings.logit_bias`.

mod common;

use common::{chat_body, Server};
use serde_json::{json, Value};

const KEY: &str = "sk-options";

/// Every route but `/health`: method, path, a valid body.
fn protected_routes() -> Vec<(&'static str, &'static str, Value)> {
    let chat = chat_body("hi", 2);
    let completion = json!({"prompt": "hi", "max_tokens": 2, "n_predict": 2});
    vec![
        ("POST", "/v1/chat/completions", chat.clone()),
        ("POST", "/chat/completions", chat),
        ("POST", "/v1/completions", completion.clone()),
        ("POST", "/completions", completion.clone()),
        ("POST", "/completion", completion),
        ("POST", "/tokenize", json!({"content": "hi"})),
        ("POST", "/detokenize", json!({"tokens": [1]})),
        ("GET", "/v1/models", Value::Null),
        ("GET", "/models", Value::Null),
        ("GET", "/slots", Value::Null),
        ("GET", "/metrics", Value::Null),
    ]
}

fn request(s: &Server, method: &str, path: &str, body: &Value, auth: &str) -> common::Response {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    s.raw(&format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .expect("request")
}

#[test]
fn api_key_on_every_protected_route() {
    let Some(s) = Server::start(&["-c", "512", "-np", "1", "--api-key", KEY]) else {
        return;
    };
    for (method, path, body) in protected_routes() {
        for auth in [
            "",
            "Authorization: Bearer wrong\r\n",
            "X-Api-Key: wrong\r\n",
        ] {
            let r = request(&s, method, path, &body, auth);
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}: {}", r.body);
            assert_eq!(r.json()["error"]["type"], "authentication_error");
        }
        for auth in [
            format!("Authorization: Bearer {KEY}\r\n"),
            format!("X-Api-Key: {KEY}\r\n"),
        ] {
            let r = request(&s, method, path, &body, &auth);
            assert_eq!(r.status, 200, "{method} {path} with the key: {}", r.body);
        }
    }
    for path in ["/health", "/v1/health"] {
        let r = request(&s, "GET", path, &Value::Null, "");
        assert_eq!(r.status, 200, "{path} must stay open: {}", r.body);
    }
}

fn sampled(s: &Server, seed: u64) -> (String, String) {
    let body = json!({"prompt": "Once upon a time", "n_predict": 12, "temperature": 1.0, "seed": seed,
        "ignore_eos": true, "cache_prompt": false});
    let text = s.post("/completion", &body).json()["content"]
        .as_str()
        .expect("content")
        .to_owned();
    let mut chat = chat_body("Tell me a story", 12);
    chat["temperature"] = json!(1.0);
    chat["seed"] = json!(seed);
    let reply = s.post("/v1/chat/completions", &chat).json();
    let chat_text = reply["choices"][0]["message"]["content"]
        .as_str()
        .expect("chat content")
        .to_owned();
    (text, chat_text)
}

#[test]
fn seeded_sampling_over_http() {
    let Some(s) = Server::start(&["-c", "512", "-np", "1"]) else {
        return;
    };
    let a = sampled(&s, 42);
    assert_eq!(sampled(&s, 42), a, "same seed, same text");
    let b = sampled(&s, 4242);
    eprintln!("seed 42: {a:?}\nseed 4242: {b:?}");
    assert_ne!(b.0, a.0, "another seed gave the same 12 sampled tokens");
}

/// One server: prompt-cache reuse, then `n_probs` past the first token.
#[test]
fn prompt_cache_and_n_probs() {
    let Some(s) = Server::start(&["-c", "512", "-np", "1"]) else {
        return;
    };
    let body = chat_body("What is the capital of France? Answer in one word.", 8);
    let first = s.post("/v1/chat/completions", &body).json();
    let second = s.post("/v1/chat/completions", &body).json();
    let cached = |r: &Value| r["usage"]["prompt_tokens_details"]["cached_tokens"].as_u64();
    assert_eq!(cached(&first), Some(0), "{first}");
    let prompt = second["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
    assert!(
        cached(&second).is_some_and(|c| c > 0 && c < prompt),
        "{second}"
    );
    assert_eq!(
        second["choices"][0]["message"],
        first["choices"][0]["message"]
    );
    let timings = s
        .post(
            "/completion",
            &json!({"prompt": "The capital of France is", "n_predict": 2}),
        )
        .json();
    let again = s
        .post(
            "/completion",
            &json!({"prompt": "The capital of France is", "n_predict": 2}),
        )
        .json();
    assert!(
        again["timings"]["cache_n"].as_u64().is_some_and(|n| n > 0),
        "{again} after {timings}"
    );
    n_probs_at_every_position(&s);
}

/// `(id, logprob)` of a `top_logprobs` list.
fn top(entry: &Value) -> Vec<(u64, f64)> {
    entry["top_logprobs"]
        .as_array()
        .expect("top_logprobs")
        .iter()
        .map(|t| {
            (
                t["id"].as_u64().expect("id"),
                t["logprob"].as_f64().expect("logprob"),
            )
        })
        .collect()
}

fn n_probs_at_every_position(s: &Server) {
    let prompt = "The capital of France is";
    let r = s
        .post("/completion", &json!({"prompt": prompt, "n_predict": 6, "temperature": 0, "n_probs": 3, "ignore_eos": true}))
        .json();
    let probs = r["completion_probabilities"]
        .as_array()
        .expect("probs")
        .clone();
    assert_eq!(probs.len(), 6, "{r}");
    for (i, p) in probs.iter().enumerate() {
        let t = top(p);
        assert_eq!(t.len(), 3, "position {i}: {p}");
        assert!(
            t.windows(2).all(|w| w[0].1 >= w[1].1),
            "position {i} not sorted: {t:?}"
        );
        assert_eq!(
            Some(t[0].0),
            p["id"].as_u64(),
            "greedy picks the top token at {i}"
        );
        assert!(
            (t[0].1 - p["logprob"].as_f64().unwrap_or(0.0)).abs() < 1e-6,
            "position {i}"
        );
    }
    // Position 3's alternatives are those of a fresh request whose prompt ends where it starts.
    let ids: Vec<Value> = probs[..3].iter().map(|p| p["id"].clone()).collect();
    let mut prefix = s.post("/tokenize", &json!({"content": prompt})).json()["tokens"]
        .as_array()
        .expect("ids")
        .clone();
    prefix.extend(ids);
    let fresh = s
        .post("/completion", &json!({"prompt": prefix, "n_predict": 1, "temperature": 0, "n_probs": 3, "cache_prompt": false}))
        .json();
    let (later, direct) = (top(&probs[3]), top(&fresh["completion_probabilities"][0]));
    assert_eq!(later[0].0, direct[0].0, "{later:?} vs {direct:?}");
    assert!(
        (later[0].1 - direct[0].1).abs() < 0.02,
        "{later:?} vs {direct:?}"
    );
}

#[test]
fn mixed_batches_serve_correct_greedy_text() {
    let Some(s) = Server::start(&["-c", "1024", "-np", "2", "--mixed-batches"]) else {
        return;
    };
    let Some(reference) = common::reference() else {
        return;
    };
    let chat = &reference["chat"][0];
    let body =
        json!({"messages": chat["messages"], "max_tokens": chat["max_tokens"], "temperature": 0});
    let alone = s.post("/v1/chat/completions", &body).json();
    assert_eq!(
        alone["choices"][0]["message"]["content"], chat["content"],
        "{alone}"
    );
    assert_eq!(
        alone["usage"]["completion_tokens"],
        chat["usage"]["completion_tokens"]
    );
    let both: Vec<Value> = std::thread::scope(|scope| {
        let a = scope.spawn(|| s.post("/v1/chat/completions", &body).json());
        let b = scope.spawn(|| {
            s.post("/v1/chat/completions", &chat_body("Name a color", 16))
                .json()
        });
        vec![a.join().expect("a"), b.join().expect("b")]
    });
    for r in &both {
        let finish = r["choices"][0]["finish_reason"].as_str().unwrap_or("");
        assert!(matches!(finish, "stop" | "length"), "{r}");
    }
    let text = both[0]["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or("");
    eprintln!(
        "batched with another request: {text:?} (alone: {:?})",
        chat["content"]
    );
}

/// `logit_bias` by token text (llama.cpp tokenizes it and biases every token) keeps a word out
/// of greedy output, and `generation_settings.logit_bias` lists the biases as llama.cpp does:
/// the request's, then with `ignore_eos` a `null` (-inf) for every end-of-generation token.
#[test]
fn logit_bias_by_text_and_ignore_eos_in_generation_settings() {
    let Some(s) = Server::start(&["-c", "1024", "-np", "1"]) else {
        return;
    };
    let body = |extra: Value| {
        let mut b = json!({"prompt": "The capital of France is", "n_predict": 6,
            "temperature": 0});
        for (k, v) in extra.as_object().expect("object") {
            b[k] = v.clone();
        }
        s.post_ok("/completion", &b)
    };
    let plain = body(json!({}));
    let word = plain["content"].as_str().expect("content").to_owned();
    let first = word.split_whitespace().next().expect("a word").to_owned();
    let banned = body(json!({"logit_bias": [[format!(" {first}"), false]]}));
    let text = banned["content"].as_str().expect("content");
    assert!(
        !text.starts_with(&format!(" {first}")),
        "{first:?} still first: {text:?}"
    );
    let biases = banned["generation_settings"]["logit_bias"]
        .as_array()
        .cloned();
    let biases = biases.expect("logit_bias listed");
    assert!(
        !biases.is_empty() && biases.iter().all(|b| b["bias"].is_null()),
        "{biases:?}"
    );
    let openai = body(json!({"logit_bias": {format!(" {first}"): -100}}));
    assert_eq!(
        openai["content"], banned["content"],
        "object form = pair form"
    );
    assert_eq!(plain["generation_settings"]["logit_bias"], json!([]));
    let eos = body(json!({"ignore_eos": true}));
    let eog = eos["generation_settings"]["logit_bias"].as_array().cloned();
    let eog = eog.expect("logit_bias listed");
    assert!(
        !eog.is_empty() && eog.iter().all(|b| b["bias"].is_null()),
        "{eog:?}"
    );
    println!(
        "banned {first:?}: {word:?} → {text:?}; ignore_eos lists {} EOG tokens",
        eog.len()
    );
}
