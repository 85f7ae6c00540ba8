//! The official `openai` Python client against the real binary (scripts in `tests/python/`):
//! chat (streamed and not), completions, models, log-probabilities, and errors surfacing as the
//! client's exception types. Needs `python3 -m pip install openai`; without it the test is
//! skipped, except in CI where it fails. Every reference chat (`testdata/reference/smollm2.json`,
//! `qwen2.json`) is checked through the client: llama.cpp's text, finish reason and usage.

mod common;

use common::Server;
use std::process::Command;

fn python_with_openai() -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import openai"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{python} with the `openai` package is required in CI (pip install openai)"
    );
    eprintln!("skipping: {python} cannot import openai (python3 -m pip install openai)");
    None
}

#[test]
fn openai_python_client() {
    let Some(python) = python_with_openai() else {
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openai_checks.py");
    let out = Command::new(python)
        .args([script, &server.url(), "sk-py", alias, &reference])
        .args(extra)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "openai checks ({name}) failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all openai checks passed"), "{stdout}");
    eprintln!("{name}: {}", stdout.lines().collect::<Vec<_>>().join("; "));
}

/// Qwen2.5-Coder's reference chat (a system prompt, a `length` finish) through the client.
#[test]
fn openai_python_client_qwen2_reference() {
    let Some(python) = python_with_openai() else {
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
    let Some(python) = python_with_openai() else {
        return;
    };
    let has_jsonschema = Command::new(&python)
        .args(["-c", "import jsonschema, pydantic"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_jsonschema {
        assert!(
            std::env::var_os("CI").is_none(),
            "jsonschema and pydantic are required in CI (pip install jsonschema)"
        );
        eprintln!("skipping: {python} cannot import jsonschema/pydantic");
        return;
    }
    let Some(model) = common::named_model("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf") else {
        return;
    };
    let s = Server::start_model(&model, &["-c", "4096", "-np", "4"], &[]);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/openai_structured.py"
    );
    let out = Command::new(&python)
        .args([script, &s.url()])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "structured checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all structured checks passed"), "{stdout}");
    eprintln!("{}", stdout.trim());
}
