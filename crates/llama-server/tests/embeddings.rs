//! Embeddings through the real binary with nomic-embed-text v1.5: `/v1/embeddings` (single and
//! batch input, token-id input, base64) against llama.cpp's reference vectors (cosine ≥ 0.9999),
//! llama.cpp's `/embedding` shape (pooled, and per token with `--pooling none`), the 400s
//! (generation on an embedding model, embeddings on a generative model), and the official
//! `openai` client when installed. One server at a time.

#![allow(clippy::unwrap_used)]

mod common;

use common::Server;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn nomic() -> Option<PathBuf> {
    let path = common::workspace().join("models/nomic-embed-text-v1.5.f16.gguf");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing (CI must provide it)",
        path.display()
    );
    eprintln!("skipping: {} not found", path.display());
    None
}

fn reference() -> Vec<(String, Vec<f64>)> {
    let path = common::workspace().join("testdata/reference/nomic-embed.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["embed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let text = e["text"].as_str().unwrap().to_string();
            (
                text,
                serde_json::from_value(e["embedding"].clone()).unwrap(),
            )
        })
        .collect()
}

fn floats(v: &Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).expect("an array of numbers")
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let n = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

fn assert_close(got: &Value, want: &[f64], what: &str) {
    let c = cosine(&floats(got), want);
    assert!(c >= 0.9999, "{what}: cosine {c}");
}

fn base64_decode(s: &str) -> Vec<f64> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let mut bytes = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let n = chunk.iter().filter(|&&c| c != b'=').count();
        let bits = chunk.iter().fold(0u32, |acc, &c| {
            (acc << 6) | u32::from(if c == b'=' { 0 } else { val(c) })
        });
        bytes.extend(&bits.to_be_bytes()[1..n]);
    }
    bytes
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
        .collect()
}

fn check_openai(s: &Server, refs: &[(String, Vec<f64>)]) {
    let texts: Vec<&str> = refs.iter().map(|(t, _)| t.as_str()).collect();
    let r = s.post(
        "/v1/embeddings",
        &json!({"input": texts[0], "model": "nomic"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["object"].as_str(), v["model"].as_str()),
        (Some("list"), Some("nomic"))
    );
    assert_eq!(v["data"][0]["object"], "embedding");
    assert_close(&v["data"][0]["embedding"], &refs[0].1, "single");
    let single_tokens = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert_eq!(v["usage"]["total_tokens"].as_u64(), Some(single_tokens));

    let r = s.post("/v1/embeddings", &json!({"input": texts}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), refs.len());
    for (i, (text, want)) in refs.iter().enumerate() {
        assert_eq!(data[i]["index"], i);
        assert_close(&data[i]["embedding"], want, text);
    }
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > single_tokens);

    // Token ids (with [CLS]/[SEP]) give the same vector as the text.
    let tokenized = s.post(
        "/tokenize",
        &json!({"content": texts[0], "add_special": true}),
    );
    let ids = tokenized.json()["tokens"].clone();
    let r = s.post("/v1/embeddings", &json!({"input": ids}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_close(&r.json()["data"][0]["embedding"], &refs[0].1, "token ids");

    let r = s.post(
        "/v1/embeddings",
        &json!({"input": texts[1], "encoding_format": "base64"}),
    );
    let v = r.json();
    assert_eq!(v["data"][0]["encoding_format"], "base64");
    let decoded = base64_decode(v["data"][0]["embedding"].as_str().unwrap());
    assert!(cosine(&decoded, &refs[1].1) >= 0.9999);
}

fn check_llama_and_errors(s: &Server, refs: &[(String, Vec<f64>)]) {
    let r = s.post("/embedding", &json!({"content": refs[2].0}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v[0]["index"], 0);
    assert_eq!(
        v[0]["embedding"].as_array().unwrap().len(),
        1,
        "one pooled vector"
    );
    assert_close(&v[0]["embedding"][0], &refs[2].1, "/embedding");
    // `content` on the OpenAI route is answered in llama.cpp's shape, as llama.cpp does.
    let r = s.post("/v1/embeddings", &json!({"content": refs[2].0}));
    assert!(r.json()[0]["embedding"][0].is_array());

    for (path, body) in [
        ("/v1/completions", json!({"prompt": "hi", "max_tokens": 4})),
        (
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        ),
        ("/completion", json!({"prompt": "hi", "n_predict": 4})),
        ("/v1/embeddings", json!({"input": []})),
        (
            "/v1/embeddings",
            json!({"input": "x", "encoding_format": "hex"}),
        ),
        ("/v1/embeddings", json!({"model": "nomic"})),
    ] {
        let r = s.post(path, &body);
        assert_eq!(r.status, 400, "{path} {body}: {}", r.body);
        assert_eq!(
            r.json()["error"]["type"],
            "invalid_request_error",
            "{}",
            r.body
        );
    }
}

#[test]
fn nomic_embeddings_match_llama_cpp() {
    let _serial = serial();
    let Some(model) = nomic() else { return };
    let refs = reference();
    let s = Server::start_model(&model, &["--embedding", "--alias", "nomic"], &[]);
    check_openai(&s, &refs);
    check_llama_and_errors(&s, &refs);
    check_prompt_shapes(&s);
    openai_client(&s, "nomic");
}

/// llama.cpp's prompt shapes (its `test_embedding_mixed_input`): ids and text mixed in one
/// input, `{"prompt_string"}` and OpenAI `{"content": [parts]}` objects, several of them in one
/// array. Each spells the tokens of "hello world", so every vector equals the plain string's.
fn check_prompt_shapes(s: &Server) {
    let text = "hello world";
    let ids = s
        .post("/tokenize", &json!({"content": text, "add_special": true}))
        .json()["tokens"]
        .clone();
    let (cls, sep) = (
        ids[0].clone(),
        ids[ids.as_array().unwrap().len() - 1].clone(),
    );
    let parts =
        json!({"content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}]});
    let embed = |input: Value| {
        let r = s.post("/v1/embeddings", &json!({ "input": input }));
        assert_eq!(r.status, 200, "{input}: {}", r.body);
        let v = r.json();
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| floats(&d["embedding"]))
            .collect::<Vec<_>>()
    };
    let plain = embed(json!(text)).remove(0);
    for (input, n) in [
        (json!([cls, text, sep]), 1),
        (json!({"prompt_string": text}), 1),
        (parts.clone(), 1),
        (
            json!([ids, [cls, text, sep], {"prompt_string": text}, parts, text]),
            5,
        ),
    ] {
        let vectors = embed(input.clone());
        assert_eq!(vectors.len(), n, "{input}");
        for v in vectors {
            assert_eq!(v, plain, "{input}");
        }
    }
    for input in [
        json!({"content": "string"}),
        json!({"content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}),
        json!([]),
    ] {
        let r = s.post("/v1/embeddings", &json!({ "input": input }));
        assert_eq!(r.status, 400, "{input}: {}", r.body);
    }
    // Longer than one batch (-b 2048): llama.cpp's "too large" error.
    let r = s.post(
        "/v1/embeddings",
        &json!({"input": "This is a test ".repeat(600)}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("is too large to process"), "{}", r.body);
}

#[test]
fn pooling_none_gives_per_token_vectors_and_is_not_openai() {
    let _serial = serial();
    let Some(model) = nomic() else { return };
    let s = Server::start_model(&model, &[], &[("LLAMA_ARG_POOLING", "none")]);
    let text = "Hello, World! It's 2026.";
    let n_tokens = s
        .post("/tokenize", &json!({"content": text, "add_special": true}))
        .json()["tokens"]
        .as_array()
        .unwrap()
        .len();
    let r = s.post("/embedding", &json!({"content": text}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let per_token = v[0]["embedding"].as_array().unwrap();
    assert_eq!(
        per_token.len(),
        n_tokens,
        "one vector per token, [CLS] and [SEP] included"
    );
    assert_eq!(per_token[0].as_array().unwrap().len(), 768);
    let r = s.post("/v1/embeddings", &json!({"input": text}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not OAI compatible"), "{}", r.body);
}

#[test]
fn mixed_batches_pack_inputs_within_the_reference_tolerance() {
    let _serial = serial();
    let Some(model) = nomic() else { return };
    let refs = reference();
    let s = Server::start_model(&model, &["--mixed-batches"], &[]);
    let texts: Vec<&str> = refs.iter().map(|(t, _)| t.as_str()).collect();
    let r = s.post("/v1/embeddings", &json!({"input": texts}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    for (i, (text, want)) in refs.iter().enumerate() {
        assert_close(&v["data"][i]["embedding"], want, text);
    }
}

#[test]
fn generative_models_refuse_embeddings() {
    let _serial = serial();
    for args in [&[][..], &["--embedding"][..]] {
        let Some(s) = Server::start(args) else { return };
        let r = s.post("/v1/embeddings", &json!({"input": "hello"}));
        assert_eq!(r.status, 400, "{args:?}: {}", r.body);
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
        let r = s.post("/embedding", &json!({"content": "hello"}));
        assert_eq!(r.status, 400, "{args:?}: {}", r.body);
    }
}

/// `client.embeddings.create` of the official `openai` package, when it is installed.
fn openai_client(s: &Server, model: &str) {
    let Some(python) = common::python::python_importing("openai") else {
        return;
    };
    let reference = common::workspace().join("testdata/reference/nomic-embed.json");
    common::python::run_script(
        &python,
        "openai_embeddings.py",
        &[&s.url(), "none", model, &reference.display().to_string()],
        "openai checks",
        "all openai embedding checks passed",
    );
}
