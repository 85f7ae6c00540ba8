//! The live view in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol by `tests/python/webui_browser.py`, loads `/`, sends a prompt through the page's
//! chat box, and finds the waterfall row of that request (its trace id, with HTTP, GenAI,
//! queue/prefill/generate and `llama.decode` bars, each a span of `/debug/traces`). The
//! screenshot lands in `target/webui/live-view.png` (a CI artifact). Needs `chromium` and
//! `python3`; skipped without them outside CI, a failure in CI.
#![cfg(feature = "otel")]

mod common;
mod otel_support;

use common::Server;
use otel_support::otel_env;
use std::process::Command;

fn found(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn the_page_sends_a_prompt_and_shows_its_waterfall() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    if !found(&chromium) || !found(&python) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{chromium} and {python} are required in CI (apt-get install chromium)"
        );
        eprintln!("skipping: {chromium} or {python} not found");
        return;
    }
    let Some(s) = Server::start_with_env(
        &["-c", "1024", "-np", "2", "--api-key", "sk-browser"],
        &otel_env(&[]),
    ) else {
        return;
    };
    let screenshot = common::workspace().join("target/webui/live-view.png");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/webui_browser.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&chromium)
        .arg(s.url())
        .arg("sk-browser")
        .arg(&screenshot)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("webui browser checks passed"),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    eprintln!("{}", stdout.trim());
}
