//! The server started with a llama.cpp-style command line and `LLAMA_ARG_*` environment:
//! llama.cpp's short flags and env names take effect (context size, `--no-slots`, server-wide
//! sampling defaults and seed, `--api-key-file`), and an unsupported llama.cpp flag is refused
//! by name.

mod common;

use common::Server;
use serde_json::json;
use std::process::Command;

const KEY: &str = "sk-from-file";

fn completion(s: &Server, extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"prompt": "The capital of France is", "n_predict": 12});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = s.post("/completion", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn llama_cpp_command_line_and_env_take_effect() {
    let key_file = std::env::temp_dir().join(format!("llama-flags-keys-{}", std::process::id()));
    std::fs::write(&key_file, format!("# keys\n{KEY}\n")).expect("write key file");
    let key_path = key_file.to_string_lossy().into_owned();
    let args = [
        "-fa",
        "on",
        "-to",
        "30",
        "--jinja",
        "--metrics",
        "--props",
        "--no-webui",
        "-tb",
        "2",
        "--temp",
        "0",
        "-s",
        "42",
        "--top-k",
        "7",
        "--no-slots",
        "-np",
        "2",
        "--api-key-file",
        &key_path,
    ];
    let env = [
        ("LLAMA_ARG_CTX_SIZE", "2048"),
        ("LLAMA_ARG_THREADS_HTTP", "3"),
    ];
    let Some(mut s) = Server::start_with_env(&args, &env) else {
        return;
    };
    let _ = std::fs::remove_file(&key_file);

    // The key from --api-key-file is required.
    assert_eq!(s.get("/v1/models").expect("models").status, 401);
    s.api_key = Some(KEY.to_string());
    let models = s.get("/v1/models").expect("models").json();
    assert_eq!(
        models["data"][0]["meta"]["n_ctx"], 2048,
        "LLAMA_ARG_CTX_SIZE: {models}"
    );
    assert_eq!(
        models["data"][0]["meta"]["n_ctx_slot"], 1024,
        "-np 2: {models}"
    );

    // --no-slots: llama.cpp's 501 answer.
    let slots = s.get("/slots").expect("slots");
    assert_eq!(slots.status, 501, "{}", slots.body);
    assert!(
        slots.body.contains("does not support slots endpoint"),
        "{}",
        slots.body
    );

    // No temperature in the request: --temp 0 makes it greedy, the same text as an explicitly
    // greedy request; the other server defaults show in generation_settings.
    let default = completion(&s, json!({}));
    let again = completion(&s, json!({}));
    let greedy = completion(&s, json!({"temperature": 0}));
    let text = default["content"].as_str().expect("content");
    assert!(!text.is_empty(), "{default}");
    assert_eq!(again["content"], text);
    assert_eq!(
        greedy["content"], text,
        "a request without temperature is greedy"
    );
    let settings = &default["generation_settings"];
    assert_eq!(settings["temperature"], 0.0, "{settings}");
    assert_eq!(
        (&settings["top_k"], &settings["seed"]),
        (&json!(7), &json!(42))
    );

    // -s 42 seeds requests that sample but give no seed: two such requests agree.
    let sampled = json!({"temperature": 1.5, "top_k": 0, "min_p": 0});
    let a = completion(&s, sampled.clone());
    let b = completion(&s, sampled);
    assert_eq!(a["content"], b["content"], "server seed -s 42");
    assert_eq!(a["generation_settings"]["seed"], 42);
}

#[test]
fn unsupported_llama_cpp_flag_is_refused_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_llama-server"))
        .args(["-m", "none.gguf", "-md", "draft.gguf"])
        .output()
        .expect("run llama-server");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("'-md' is a llama.cpp flag this server does not support"),
        "{stderr}"
    );
}
