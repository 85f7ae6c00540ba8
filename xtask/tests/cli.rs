//! The real `xtask` binary's command line: help for every command, usage errors exit 2.

use std::process::Command;

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running xtask: {e}"))
}

#[test]
fn bench_help_prints_usage() {
    let out = xtask(&["bench", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains("Usage: cargo xtask bench"), "{text}");
    assert!(
        text.contains("-m, --model <MODEL>") && text.contains("--llama-cpp <PATH>"),
        "{text}"
    );
}

#[test]
fn help_lists_every_command() {
    for args in [&["help"][..], &["--help"]] {
        let out = xtask(args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        for command in [
            "serve",
            "fetch-model",
            "bench-server",
            "ci",
            "check-observability",
        ] {
            assert!(text.contains(command), "{command} missing from:\n{text}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["no-such-command"], &["bench", "--no-such-flag"]] {
        let out = xtask(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Usage:"),
            "{out:?}"
        );
    }
}
