//! The official `openai` Python client against the real binary (scripts in `tests/python/`):
//! chat (streamed and not), completions, models, log-probabilities, and errors surfacing as the
//! client's exception types. Needs `python3 -m pip install openai`; without it the test is
//! skipped, except in CI where it fails. Every reference chat (`testdata/reference/smollm2.json`,
//! `qwen2.json`) is checked through the client: llama.cpp's text, finish reason and usage.

mod common;

use common::{python, Server};

#[test]
fn openai_python_client() {
    let Some(python) = python::python_importing("openai") else {
        return;
    };
    let Some(s) = Server::start(&[
        "-c",
        "1024",
        "-np",
        "2",
        "--api-key",
        "sk-py",
        "--alias",
        "smollm2",
    ]) else {
        return;
    };
    run_checks(&python, &s, "smollm2", "smollm2.json", &[]);
}

/// Runs the script against `server` (model alias `alias`) with reference file `name` (skipped outside CI when absent).
fn run_checks(python: &str, server: &Server, alias: &str, name: &str, extra: &[&str]) {
    let reference = common::workspace().join("testdata/reference").join(name);
    assert!(
        reference.exists() || std::env::var_os("CI").is_none(),
        "{} is missing in CI",
        reference.display()
    );
    let reference = if reference.exists() {
        reference.display().to_string()
    } else {
        eprintln!(
            "skipping the reference chats: {} not found",
            reference.display()
        );
        String::new()
    };
    let url = server.url();
    let args = [&[url.as_str(), "sk-py", alias, &reference][..], extra].concat();
    let what = format!("openai checks ({name})");
    let stdout = python::run_script(
        python,
        "openai_checks.py",
        &args,
        &what,
        "all openai checks passed",
    );
    eprintln!("{name}: {}", stdout.lines().collect::<Vec<_>>().join("; "));
}

/// Qwen2.5-Coder's reference chat (a system prompt, a `length` finish) through the client.
#[test]
fn openai_python_client_qwen2_reference() {
    let Some(python) = python::python_importing("openai") else {
        return;
    };
    let Some(model) = common::named_model("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf") else {
        return;
    };
    let args = [
        "-c",
        "1024",
        "-np",
        "1",
        "--api-key",
        "sk-py",
        "--alias",
        "qwen",
    ];
    let s = Server::start_model(&model, &args, &[]);
    run_checks(&python, &s, "qwen", "qwen2.json", &["--reference-only"]);
}

/// Structured output through the client (`tests/python/openai_structured.py`): 20 prompts × 5
/// schemas on Qwen2.5-Coder, greedy and seeded, the last schema a Pydantic model through
/// `chat.completions.parse`; every answer parses and validates (`jsonschema`).
#[test]
fn openai_python_client_structured_output() {
    // jsonschema validates the answers, pydantic defines the last schema.
    let Some(python) = python::python_importing("openai, jsonschema, pydantic") else {
        return;
    };
    let Some(model) = common::named_model("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf") else {
        return;
    };
    let s = Server::start_model(&model, &["-c", "4096", "-np", "4"], &[]);
    let stdout = python::run_script(
        &python,
        "openai_structured.py",
        &[&s.url()],
        "structured checks",
        "all structured checks passed",
    );
    eprintln!("{}", stdout.trim());
}
