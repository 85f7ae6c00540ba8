//! The `llama-bench` binary end to end on a tiny random-weight model: its JSON report has the
//! fields `cargo xtask bench` reads, with throughputs measured (finite and positive).
#![allow(clippy::unwrap_used)] // test code: failures should panic

#[path = "../../llama-core/tests/common/mod.rs"]
mod common;

use serde_json::Value;
use std::process::Command;

#[test]
fn llama_bench_reports_pp_and_tg_as_json() {
    let (_dir, model) = common::tiny_model(common::TinySpec::default(), 7);
    let out = Command::new(env!("CARGO_BIN_EXE_llama-bench"))
        .arg("-m")
        .arg(&model)
        .args(["-t", "1", "-p", "16", "-n", "4", "-r", "2", "--json"])
        .output()
        .expect("llama-bench runs");
    assert!(
        out.status.success(),
        "llama-bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    for key in ["pp_tps", "tg_tps"] {
        let v = j[key].as_f64().unwrap_or_else(|| panic!("{key} in {j}"));
        assert!(v.is_finite() && v > 0.0, "{key} = {v}");
    }
    for key in ["pp_sd", "tg_sd", "load_s", "peak_rss_mib"] {
        assert!(j[key].as_f64().is_some_and(|v| v >= 0.0), "{key} in {j}");
    }
    assert_eq!(
        (
            j["n_prompt"].as_u64(),
            j["n_gen"].as_u64(),
            j["reps"].as_u64()
        ),
        (Some(16), Some(4), Some(2))
    );
    assert_eq!(j["threads"].as_u64(), Some(1));
}

#[test]
fn llama_bench_names_a_missing_model() {
    let out = Command::new(env!("CARGO_BIN_EXE_llama-bench"))
        .args([
            "-m",
            "/nonexistent/model.gguf",
            "-p",
            "8",
            "-n",
            "0",
            "-r",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model.gguf"), "{err}");
}
