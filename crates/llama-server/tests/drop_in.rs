//! The server as a drop-in for llama.cpp's `llama-server`: CORS headers and preflights as
//! llama.cpp sends them, `-a` with several names, `truncated` and the context error's sizes,
//! and llama.cpp's default context (`-c 0`, `-np` auto over a unified KV pool) with SSE
//! ping comments during the long prefill it allows.

mod common;

use common::Server;
use serde_json::json;

const KEY: &str = "sk-drop-in";

#[test]
fn cors_aliases_truncated_and_context_error() {
    let args = [
        "-c",
        "256",
        "-np",
        "2",
        "-a",
        "zeta, alpha",
        "--api-key",
        KEY,
    ];
    let Some(mut s) = Server::start(&args) else {
        return;
    };
    // Preflight: answered without the key, with llama.cpp's headers (its test_cors_options).
    let r = s
        .raw("OPTIONS /completions HTTP/1.1\r\nHost: x\r\nOrigin: web.mydomain.fr\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: Authorization\r\nConnection: close\r\n\r\n")
        .expect("preflight");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("web.mydomain.fr")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, DELETE, OPTIONS")
    );
    assert_eq!(r.header("access-control-allow-headers"), Some("*"));
    // Every other answer carries the origin too, refusals included.
    let denied = s
        .raw("GET /v1/models HTTP/1.1\r\nHost: x\r\nOrigin: http://app.example\r\nConnection: close\r\n\r\n")
        .expect("models");
    assert_eq!(denied.status, 401);
    assert_eq!(
        denied.header("access-control-allow-origin"),
        Some("http://app.example")
    );

    s.api_key = Some(KEY.into());
    let models = s.get("/v1/models").expect("models").json();
    assert_eq!(
        models["data"][0]["id"], "alpha",
        "first of the sorted names: {models}"
    );
    assert_eq!(models["data"][0]["aliases"], json!(["alpha", "zeta"]));

    // A slot of 128 tokens fills up: llama.cpp stops with `truncated`.
    let r = s.post(
        "/completion",
        &json!({"prompt": "Once upon a time", "n_predict": 400, "temperature": 0, "ignore_eos": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["truncated"], true, "{v}");
    assert_eq!(v["stop_type"], "limit");
    let n_total =
        v["tokens_evaluated"].as_u64().unwrap_or(0) + v["tokens_predicted"].as_u64().unwrap_or(0);
    assert_eq!(
        n_total, 128,
        "prompt + generated fill the slot but its last cell: {v}"
    );
    let short = s
        .post("/completion", &json!({"prompt": "Hi", "n_predict": 2}))
        .json();
    assert_eq!(short["truncated"], false, "{short}");

    // The prompt does not fit: llama.cpp's exceed_context_size_error with both sizes.
    let long = "word ".repeat(300);
    let r = s.post("/completion", &json!({"prompt": long}));
    assert_eq!(r.status, 400, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["type"], "exceed_context_size_error");
    assert_eq!(e["error"]["n_ctx"], 128, "{e}");
    assert!(
        e["error"]["n_prompt_tokens"]
            .as_u64()
            .is_some_and(|n| n >= 300),
        "{e}"
    );
    assert!(e["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("exceeds the available context size")));
}

#[test]
fn default_context_is_the_training_context_shared_by_four_slots() {
    // No -c / -np: llama.cpp's defaults. SSE pings every 50 ms make the long prefill below
    // send some.
    let Some(s) = Server::start(&["--sse-ping-interval", "0.05"]) else {
        return;
    };
    let props = s.get("/props").expect("props").json();
    assert_eq!(props["total_slots"], 4, "{props}");
    // SmolLM2-135M was trained on 8192 tokens; with the unified pool each slot may use all.
    assert_eq!(
        props["default_generation_settings"]["n_ctx"], 8192,
        "{props}"
    );
    let models = s.get("/v1/models").expect("models").json();
    assert_eq!(models["data"][0]["meta"]["n_ctx"], 8192, "{models}");

    // Longer than a quarter of the context (the old 4-way split refused it).
    let prompt = "The quick brown fox jumps over the lazy dog. ".repeat(230);
    let tokens = s.post("/tokenize", &json!({"content": prompt})).json()["tokens"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(tokens > 8192 / 4, "{tokens} tokens");
    let r = s.post(
        "/completion",
        &json!({"prompt": prompt, "n_predict": 2, "stream": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let events = r.sse();
    let last: serde_json::Value =
        serde_json::from_str(events.last().expect("events")).expect("json");
    assert_eq!(last["stop"], true, "{last}");
    assert!(last["tokens_evaluated"]
        .as_u64()
        .is_some_and(|n| n as usize > 8192 / 4));
    assert!(
        r.body.lines().any(|l| l.trim_end() == ":"),
        "no SSE ping comment during a {tokens}-token prefill"
    );
}

#[test]
fn cached_prompts_of_idle_slots_give_way_in_a_unified_pool() {
    // Two slots over one 512-cell pool, each allowed all of it (-kvu).
    let Some(s) = Server::start(&["-c", "512", "-np", "2", "-kvu"]) else {
        return;
    };
    let props = s.get("/props").expect("props").json();
    assert_eq!(
        props["default_generation_settings"]["n_ctx"], 512,
        "{props}"
    );
    for text in [
        "Once upon a time there was a dragon. ",
        "The quick brown fox jumps. ",
    ] {
        let prompt = text.repeat(55);
        let n = s.post("/tokenize", &json!({"content": prompt})).json()["tokens"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(
            (280..500).contains(&n),
            "{n} tokens: the two must not fit together"
        );
        // The second prompt goes to the other (never used) slot and needs cells the first
        // one's cached prompt holds.
        let r = s.post(
            "/completion",
            &json!({"prompt": prompt, "n_predict": 2, "temperature": 0}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

/// llama.cpp's prompt shapes on `/completion` (its `test_completion_with_tokens_input`): token
/// ids, a `{"prompt_string"}` object, several prompts answered as an array in order; and
/// `__verbose` on an OpenAI answer when the request says `verbose`.
fn prompt_shapes_and_verbose(s: &Server) {
    let text = "I believe the meaning of life is";
    let ids = s
        .post("/tokenize", &json!({"content": text, "add_special": true}))
        .json()["tokens"]
        .clone();
    let complete = |prompt: serde_json::Value| {
        let r = s.post(
            "/completion",
            &json!({"prompt": prompt, "n_predict": 4, "temperature": 0}),
        );
        assert_eq!(r.status, 200, "{prompt}: {}", r.body);
        r.json()
    };
    let single = complete(ids.clone());
    let content = single["content"].as_str().expect("content");
    assert_eq!(complete(json!({"prompt_string": text}))["content"], content);
    let batch = complete(json!([ids, text, {"prompt_string": text}]));
    let results = batch.as_array().expect("an array of results");
    assert_eq!(results.len(), 3, "{batch}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(
            (r["index"].as_u64(), r["content"].as_str()),
            (Some(i as u64), Some(content))
        );
    }
    let body = json!({"messages": [{"role": "user", "content": "Name a book"}], "max_tokens": 2});
    let plain = s.post("/v1/chat/completions", &body).json();
    let counted = s.post("/chat/completions/input_tokens", &body).json();
    assert_eq!(
        counted["input_tokens"], plain["usage"]["prompt_tokens"],
        "{counted}"
    );
    assert!(plain.get("__verbose").is_none(), "{plain}");
    let mut verbose = body.clone();
    verbose["verbose"] = json!(true);
    let v = s.post("/v1/chat/completions", &verbose).json();
    let prompt = v["__verbose"]["prompt"].as_str().expect("__verbose.prompt");
    assert!(
        prompt.contains("Name a book") && prompt.ends_with("</think>"),
        "{prompt:?}"
    );
    assert_eq!(
        v["__verbose"]["content"], v["choices"][0]["message"]["content"],
        "{v}"
    );
}

/// The end of what `/apply-template` renders for one user turn.
fn rendered_prompt(s: &Server) -> String {
    let body = json!({"messages": [{"role": "user", "content": "What is today?"}]});
    let r = s.post("/apply-template", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["prompt"].as_str().expect("prompt").to_owned()
}

#[test]
fn reasoning_flag_native_completions_route_and_metrics_start_header() {
    // QwQ's template opens `<think>` and closes it at once when thinking is off.
    let template = common::workspace().join("testdata/reference/templates/Qwen-QwQ-32B.jinja");
    let template = template.to_str().expect("UTF-8 path");
    let Some(off) = Server::start(&["--chat-template-file", template, "-rea", "off", "-np", "1"])
    else {
        return;
    };
    let prompt = rendered_prompt(&off);
    assert!(
        prompt.ends_with("<|im_start|>assistant\n<think>\n</think>"),
        "{prompt:?}"
    );

    // `/completions` is llama.cpp's native endpoint (`content`), `/v1/completions` OpenAI's.
    let body = json!({"prompt": "I believe the meaning of life is", "n_predict": 4});
    let native = off.post("/completions", &body).json();
    assert!(native["content"].is_string(), "{native}");
    assert!(native.get("choices").is_none(), "{native}");
    let openai = off.post("/v1/completions", &body).json();
    assert!(openai["choices"][0]["text"].is_string(), "{openai}");
    prompt_shapes_and_verbose(&off);

    // llama.cpp's /metrics header: the Unix time the counters started.
    let metrics = off.get("/metrics").expect("metrics");
    assert_eq!(metrics.status, 200);
    let start: u64 = metrics
        .header("process-start-time-unix")
        .and_then(|v| v.parse().ok())
        .expect("Process-Start-Time-Unix header");
    assert!(start > 1_600_000_000, "{start}");
    drop(off);

    // `auto` (the default): the template's own choice, thinking on; `on` says so explicitly.
    for flag in ["auto", "on"] {
        let Some(s) = Server::start(&["--chat-template-file", template, "--reasoning", flag])
        else {
            return;
        };
        let prompt = rendered_prompt(&s);
        assert!(
            prompt.ends_with("<|im_start|>assistant\n<think>\n"),
            "{flag}: {prompt:?}"
        );
    }
}
