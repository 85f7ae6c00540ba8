//! The `llama-cli` binary end to end against llama.cpp's outputs for every real model: every
//! tokenization, every greedy prompt (with `--n-probs`: first-token top-5 and near-ties), and the
//! chat answer with its usage.
#![allow(clippy::unwrap_used)] // test code: failures should panic

// llama-core's test fixtures (reference outputs and comparisons, tiny models), shared rather
// than copied: its paths are relative to the workspace root, which both crates share.
#[path = "../../llama-core/tests/common/mod.rs"]
mod common;

use common::reference::{self, ids, ChatOutcome, RefModel, GEMMA3, QWEN2, SMOLLM2};
use serde_json::Value;
use std::process::Command;

fn run(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_llama-cli"))
        .args(args)
        .output()
        .expect("llama-cli runs");
    assert!(
        out.status.success(),
        "llama-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// `[[id, logprob], …]` per position from `--n-probs`.
fn probs(v: &Value) -> Vec<Vec<(u32, f32)>> {
    v.as_array()
        .expect("probs")
        .iter()
        .map(|step| {
            step.as_array()
                .unwrap()
                .iter()
                .map(|p| (p[0].as_u64().unwrap() as u32, p[1].as_f64().unwrap() as f32))
                .collect()
        })
        .collect()
}

fn tokenization(m: &RefModel, model: &str, r: &Value) {
    for case in r["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = run(&[
            "tokenize",
            "-m",
            model,
            "-p",
            text,
            "--parse-special",
            "--json",
        ]);
        assert_eq!(got["tokens"], case["tokens"], "{}: text {text:?}", m.name);
    }
}

fn generation(m: &RefModel, model: &str, r: &Value) {
    for case in r["generate"].as_array().unwrap() {
        let prompt = case["prompt"].as_str().unwrap();
        let n = ids(&case["tokens"]).len().to_string();
        let got = run(&[
            "-m",
            model,
            "-p",
            prompt,
            "-n",
            &n,
            "--temp",
            "0",
            "-t",
            "2",
            "--json",
            "--n-probs",
            "8",
        ]);
        let label = format!("{} llama-cli {prompt:?}", m.name);
        assert_eq!(got["prompt_tokens"], case["prompt_tokens"], "{label}");
        let tops = probs(&got["probs"]);
        let worst = reference::compare_first_top5(m, &label, &tops[0], case);
        eprintln!("{label}: first-token top-5 within {worst:.4} of llama.cpp");
        reference::compare_greedy(m, &label, &ids(&got["tokens"]), &tops, case);
    }
}

fn chat(m: &RefModel, model: &str, r: &Value) {
    let messages = reference::chat_messages(r);
    let (system, user) = match &messages[..] {
        [u] => (None, u),
        [s, u] if s.role == "system" => (Some(s), u),
        other => panic!(
            "{}: the CLI takes a system and a user message, not {}",
            m.name,
            other.len()
        ),
    };
    let max_tokens = r["chat"][0]["max_tokens"].as_u64().unwrap();
    let n = max_tokens.to_string();
    let mut args = vec![
        "-m",
        model,
        "-p",
        &user.content,
        "--chat",
        "-n",
        &n,
        "--temp",
        "0",
        "--json",
    ];
    if let Some(s) = system {
        args.extend(["--system-prompt", &s.content]);
    }
    let template = m
        .template_file
        .map(|f| common::reference_path(f).to_string_lossy().into_owned());
    if let Some(f) = &template {
        args.extend(["--chat-template-file", f]);
    }
    let got = run(&args);
    let tokens = ids(&got["tokens"]);
    let stopped = (tokens.len() as u64) < max_tokens;
    let outcome = ChatOutcome {
        prompt_tokens: got["prompt_tokens"].as_array().unwrap().len(),
        content: got["text"].as_str().unwrap().to_string(),
        completion_tokens: tokens.len() + usize::from(stopped),
        finish_reason: if stopped { "stop" } else { "length" },
    };
    reference::compare_chat(&format!("{} llama-cli", m.name), &outcome, r);
}

fn check_all(m: &RefModel) {
    let Some(path) = m.path() else {
        return;
    };
    let (model, r) = (path.to_string_lossy().into_owned(), m.reference());
    tokenization(m, &model, &r);
    generation(m, &model, &r);
    chat(m, &model, &r);
}

#[test]
fn smollm2_through_llama_cli_matches_llama_cpp() {
    check_all(&SMOLLM2);
}

#[test]
fn qwen2_through_llama_cli_matches_llama_cpp() {
    check_all(&QWEN2);
}

#[test]
fn gemma3_through_llama_cli_matches_llama_cpp() {
    check_all(&GEMMA3);
}

#[test]
fn a_missing_model_file_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_llama-cli"))
        .args(["-m", "/nonexistent/model.gguf", "-p", "hi"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model.gguf"), "{err}");
}

#[test]
fn ggml_debug_lines_stay_off_stderr_unless_asked_for() {
    let Some(path) = QWEN2.path() else {
        return;
    };
    let model = path.to_string_lossy().into_owned();
    let stderr = |env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llama-cli"));
        cmd.args(["-m", &model, "-p", "hi", "-n", "1", "--temp", "0", "--json"]);
        match env {
            Some(v) => cmd.env("LLAMA_GGML_LOG", v),
            None => cmd.env_remove("LLAMA_GGML_LOG"),
        };
        let out = cmd.output().expect("llama-cli runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Loading Qwen2.5 repacks its Q4_K weights; ggml logs each one at debug level.
    assert!(!stderr(None).contains("repack tensor"));
    assert!(stderr(Some("debug")).contains("repack tensor"));
}
