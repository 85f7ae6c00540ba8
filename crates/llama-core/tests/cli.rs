//! The `llama-cli` binary end to end: JSON output of generate and tokenize against llama.cpp.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)] // test code: failures should panic

mod common;

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

#[test]
fn tokenize_json_matches_llama_cpp_for_every_reference_text() {
    let (Some(model), Some(reference)) = (common::smollm2(), common::reference()) else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    for case in reference["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = run(&[
            "tokenize",
            "-m",
            &model,
            "-p",
            text,
            "--parse-special",
            "--json",
        ]);
        assert_eq!(got["tokens"], case["tokens"], "text {text:?}");
    }
}

#[test]
fn greedy_generate_json_matches_llama_cpp() {
    let (Some(model), Some(reference)) = (common::smollm2(), common::reference()) else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let case = &reference["generate"][0];
    let prompt = case["prompt"].as_str().unwrap();
    let got = run(&[
        "-m", &model, "-p", prompt, "-n", "32", "--temp", "0", "-t", "2", "--json",
    ]);
    assert_eq!(got["prompt_tokens"], case["prompt_tokens"]);
    let want: Vec<Value> = case["tokens"].as_array().unwrap()[..32].to_vec();
    assert_eq!(got["tokens"].as_array().unwrap()[..], want[..]);
    assert!(case["text"]
        .as_str()
        .unwrap()
        .starts_with(got["text"].as_str().unwrap()));
}

#[test]
fn chat_mode_renders_the_template_and_answers_like_llama_cpp() {
    let (Some(model), Some(reference)) = (common::smollm2(), common::reference()) else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let chat = &reference["chat"][0];
    let question = chat["messages"][0]["content"].as_str().unwrap();
    let got = run(&[
        "-m", &model, "-p", question, "--chat", "-n", "32", "--temp", "0", "--json",
    ]);
    assert_eq!(
        got["prompt_tokens"].as_array().unwrap().len() as u64,
        chat["usage"]["prompt_tokens"].as_u64().unwrap()
    );
    assert_eq!(got["text"], chat["content"]);
    // llama.cpp counts the end-of-generation token among the completion tokens.
    assert_eq!(
        got["tokens"].as_array().unwrap().len() as u64 + 1,
        chat["usage"]["completion_tokens"].as_u64().unwrap()
    );
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
