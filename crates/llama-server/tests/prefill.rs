//! llama.cpp request features around the prompt and the stream: a final assistant message
//! continued (`--prefill-assistant`, `continue_final_message`; the rendered prompt compared
//! with llama.cpp's own renderings in `testdata/reference/templates_prefill.json`),
//! `post_sampling_probs`, `return_progress` and a streamed `/completion` of several prompts.
//! One server at a time: everything runs in one test.

mod common;

use common::Server;
use serde_json::{json, Value};

/// A ChatML template without dates (the reference was rendered on another day).
const QWEN: &str = "Qwen-Qwen2.5-7B-Instruct.jinja";

fn template_path(name: &str) -> String {
    let p = common::workspace()
        .join("testdata/reference/templates")
        .join(name);
    p.to_str().expect("UTF-8 path").to_owned()
}

/// The prompt a chat request ran, from its `__verbose` object.
fn verbose_prompt(s: &Server, body: &Value) -> String {
    let mut body = body.clone();
    body["verbose"] = json!(true);
    body["max_tokens"] = json!(2);
    body["temperature"] = json!(0);
    let r = s.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    v["__verbose"]["prompt"]
        .as_str()
        .expect("__verbose.prompt")
        .to_owned()
}

/// The server continues the final assistant message as llama.cpp does, on the chat route
/// (`__verbose.prompt`) and on `/apply-template`; conflicting requests are refused as there.
fn prefill(reference: &Value) {
    let Some(s) = Server::start(&["--chat-template-file", &template_path(QWEN), "-np", "1"]) else {
        return;
    };
    let want = &reference["templates"][QWEN];
    for (case, body) in reference["cases"].as_object().expect("cases") {
        let r = s.post("/apply-template", body);
        assert_eq!(r.status, 200, "{case}: {}", r.body);
        assert_eq!(
            r.json()["prompt"],
            want[case],
            "/apply-template, case {case}"
        );
        if want[case].is_string() {
            assert_eq!(verbose_prompt(&s, body), want[case], "chat, case {case}");
        }
    }
    // llama.cpp's test_chat_template_continue_final_message_mutual_exclusion, and two assistant
    // messages at the end.
    let both = json!({"messages": [{"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"}],
        "add_generation_prompt": true, "continue_final_message": true, "max_tokens": 2});
    assert_eq!(s.post("/v1/chat/completions", &both).status, 400);
    let two = json!({"messages": [{"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"}, {"role": "assistant", "content": "there"}],
        "max_tokens": 2});
    let r = s.post("/v1/chat/completions", &two);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("2 or more assistant messages"),
        "{}",
        r.body
    );
    drop(s);

    // --no-prefill-assistant: the final message is a complete turn, then a new one opens.
    let args = [
        "--chat-template-file",
        &template_path(QWEN),
        "-np",
        "1",
        "--no-prefill-assistant",
    ];
    let Some(s) = Server::start(&args) else {
        return;
    };
    let prompt = verbose_prompt(&s, &reference["cases"]["content"]);
    assert!(
        prompt.ends_with("The weather in Paris is<|im_end|>\n<|im_start|>assistant\n"),
        "{prompt:?}"
    );
}

/// `post_sampling_probs` (llama.cpp's test_n_probs_post_sampling, and greedy sampling, where
/// the chain leaves one token with probability 1); the chat route's `logprobs` take the same
/// shape.
fn post_sampling_probs(s: &Server) {
    let body = json!({"prompt": "Today was the day. Today I would finally become a",
        "n_probs": 10, "temperature": 1.0, "n_predict": 5, "post_sampling_probs": true, "seed": 7});
    let r = s.post("/completion", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let probs = v["completion_probabilities"]
        .as_array()
        .expect("probabilities");
    assert_eq!(probs.len(), 5, "{v}");
    for (i, tok) in probs.iter().enumerate() {
        let p = tok["prob"].as_f64().expect("prob");
        assert!(p > 0.0 && p <= 1.0 && tok.get("logprob").is_none(), "{tok}");
        let top = tok["top_probs"].as_array().expect("top_probs");
        assert!(top
            .iter()
            .all(|t| t["prob"].as_f64().is_some_and(|p| p > 0.0 && p <= 1.0)));
        assert!(top
            .iter()
            .all(|t| t["id"].is_u64() && t["bytes"].is_array()));
        if i == 0 {
            assert_eq!(top.len(), 10, "{tok}");
        }
        if top.len() < 10 {
            let sum: f64 = top.iter().filter_map(|t| t["prob"].as_f64()).sum();
            assert!((sum - 1.0).abs() < 1e-4, "{tok}");
        }
        let ranked: Vec<f64> = top.iter().filter_map(|t| t["prob"].as_f64()).collect();
        assert!(ranked.windows(2).all(|w| w[0] >= w[1]), "{tok}");
    }
    // Measured on llama.cpp's llama-server (same model, seed 3): min-p leaves two candidates.
    let seeded = json!({"prompt": "The capital of France is", "n_probs": 3, "temperature": 1,
        "seed": 3, "n_predict": 1, "post_sampling_probs": true});
    let v = s.post("/completion", &seeded).json();
    let tok = &v["completion_probabilities"][0];
    let top: Vec<u64> = tok["top_probs"]
        .as_array()
        .expect("top")
        .iter()
        .filter_map(|t| t["id"].as_u64())
        .collect();
    assert_eq!(top, [7042, 260], "{tok}");
    let p = tok["top_probs"][0]["prob"].as_f64().expect("prob");
    assert!((p - 0.926_649_15).abs() < 5e-3, "{tok}");
    let greedy = json!({"prompt": "The capital of France is", "n_probs": 3,
        "temperature": 0, "n_predict": 2, "post_sampling_probs": true});
    let v = s.post("/completion", &greedy).json();
    for tok in v["completion_probabilities"]
        .as_array()
        .expect("probabilities")
    {
        assert_eq!(tok["prob"], json!(1.0), "{tok}");
        assert_eq!(tok["top_probs"][0]["id"], tok["id"], "{tok}");
        assert_eq!(tok["top_probs"].as_array().map(Vec::len), Some(1), "{tok}");
    }
    let chat = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2,
        "temperature": 0, "logprobs": true, "top_logprobs": 2, "post_sampling_probs": true});
    let v = s.post("/v1/chat/completions", &chat).json();
    let content = &v["choices"][0]["logprobs"]["content"];
    assert_eq!(content[0]["prob"], json!(1.0), "{v}");
    assert!(
        content[0]["top_probs"].is_array() && content[0]["id"].is_u64(),
        "{v}"
    );
}

/// The `prompt_progress` objects of a stream.
fn progress_events(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| e.get("prompt_progress").cloned())
        .collect()
}

/// `return_progress` (llama.cpp's test_return_progress): a first report before any prompt
/// token is decoded, then one per decoded prompt batch, the last with every token processed.
fn return_progress(s: &Server) {
    let body = json!({"messages": [{"role": "user", "content": "This is a test".repeat(10)}],
        "max_tokens": 2, "stream": true, "return_progress": true, "cache_prompt": false});
    let r = s.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let events: Vec<Value> = r
        .sse()
        .iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("JSON event"))
        .collect();
    let progress = progress_events(&events);
    let total = progress[0]["total"].as_u64().expect("total");
    assert_eq!(
        progress[0]["cache"], progress[0]["processed"],
        "{progress:?}"
    );
    assert_eq!(progress.last().expect("last")["processed"], json!(total));
    let processed: Vec<u64> = progress
        .iter()
        .filter_map(|p| p["processed"].as_u64())
        .collect();
    assert!(processed.windows(2).all(|w| w[0] < w[1]), "{processed:?}");
    // -b 16: one report per 16-token batch after the first (llama.cpp, measured with -b 64 on
    // a 150-token prompt: processed 0, 64, 128, 150).
    assert_eq!(
        progress.len() as u64,
        1 + total.div_ceil(16),
        "{progress:?}"
    );
    let with_role = events.iter().filter(|e| e.get("prompt_progress").is_some());
    assert!(with_role
        .clone()
        .all(|e| e["choices"][0]["delta"]["role"] == "assistant"));
    // Without the flag, no report.
    let mut plain = body.clone();
    plain["return_progress"] = json!(false);
    let r = s.post("/v1/chat/completions", &plain);
    assert!(!r.body.contains("prompt_progress"), "{}", r.body);
}

/// Several prompts in one streamed `/completion`: each prompt's chunks and final object carry
/// its `index`, and its text is what the non-streamed request answers.
fn streamed_prompts(s: &Server) {
    let body = json!({"prompt": ["I believe the meaning of life is", "The capital of France is"],
        "n_predict": 6, "temperature": 0, "stream": true});
    let r = s.post("/completion", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let mut text = [String::new(), String::new()];
    let mut stops = [0, 0];
    for data in r.sse() {
        let e: Value = serde_json::from_str(&data).expect("JSON event");
        let i = e["index"].as_u64().expect("index") as usize;
        text[i].push_str(e["content"].as_str().unwrap_or(""));
        stops[i] += usize::from(e["stop"] == json!(true));
    }
    assert_eq!(stops, [1, 1]);
    let mut whole = body.clone();
    whole["stream"] = json!(false);
    let v = s.post("/completion", &whole).json();
    for (i, t) in text.iter().enumerate() {
        assert_eq!(v[i]["content"].as_str(), Some(t.as_str()), "{v}");
    }
}

#[test]
fn prefill_post_sampling_progress_and_streamed_prompts() {
    let Some(reference) = common::reference_file("templates_prefill.json") else {
        return;
    };
    prefill(&reference);
    let Some(s) = Server::start(&["-np", "2", "-b", "16", "-ub", "16"]) else {
        return;
    };
    post_sampling_probs(&s);
    return_progress(&s);
    streamed_prompts(&s);
}
