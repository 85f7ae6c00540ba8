//! The official `openai` Python client against the real binary (scripts in `tests/python/`):
//! chat (streamed and not), completions, models, log-probabilities, and errors surfacing as the
//! client's exception types. Needs `python3 -m pip install openai`; without it the test is
//! skipped, except in CI where it fails.

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
    let reference = common::workspace().join("testdata/reference/smollm2.json");
    let reference = if reference.exists() {
        reference.display().to_string()
    } else {
        String::new()
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/openai_checks.py");
    let out = Command::new(python)
        .args([script, &s.url(), "sk-py", "smollm2", &reference])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "openai checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all openai checks passed"), "{stdout}");
}
