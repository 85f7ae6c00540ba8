//! `cargo xtask ci`: the project's full test gate, step by step, stopping at the first failure.
//!
//! fmt, clippy and tests with and without the `otel` feature, committed bindings up to date,
//! OpenTelemetry absent from the default dependency tree (and present with `otel`), and
//! `cargo deny check licenses bans sources`. Under CI (`CI` set) libclang and cargo-deny are
//! required; locally the steps that need them are skipped with a note.

use crate::bindgen;
use crate::util::{self, Args};
use anyhow::{bail, Result};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub const USAGE: &str = "ci
      The full test gate: fmt, clippy and tests (each also with --features otel, and the
      in-memory telemetry tests), the observability checks (compose, collector, Prometheus
      queries against the real server), bindgen --check,
      no opentelemetry in llama-server's default tree, cargo deny check licenses bans sources.
      With CI set, libclang and cargo-deny are required instead of skipped.";

/// What a step did when it did not fail.
#[derive(Debug)]
enum Outcome {
    Passed,
    Skipped(String),
}

#[derive(Debug)]
enum Action {
    /// `cargo <args>` with inherited stdio.
    Cargo(&'static [&'static str]),
    /// A check implemented here.
    Check(&'static str, fn() -> Result<Outcome>),
}

const STEPS: &[(&str, Action)] = &[
    ("fmt", Action::Cargo(&["fmt", "--all", "--", "--check"])),
    (
        "clippy",
        Action::Cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    ),
    (
        "clippy (otel)",
        Action::Cargo(&[
            "clippy",
            "--all-targets",
            "--features",
            "otel",
            "--",
            "-D",
            "warnings",
        ]),
    ),
    ("test", Action::Cargo(&["test", "--workspace"])),
    (
        "test (otel)",
        Action::Cargo(&["test", "--features", "otel"]),
    ),
    (
        "clippy (otel-testing)",
        Action::Cargo(&[
            "clippy",
            "-p",
            "llama-otel",
            "-p",
            "llama-core",
            "-p",
            "llama-server",
            "--all-targets",
            "--features",
            "llama-otel/testing,llama-core/otel-testing,llama-server/otel-testing",
            "--",
            "-D",
            "warnings",
        ]),
    ),
    (
        "test (in-memory telemetry)",
        Action::Cargo(&[
            "test",
            "-p",
            "llama-otel",
            "-p",
            "llama-core",
            "-p",
            "llama-server",
            "--features",
            "llama-otel/testing,llama-core/otel-testing,llama-server/otel-testing",
        ]),
    ),
    (
        "observability",
        Action::Check("cargo xtask check-observability", observability),
    ),
    (
        "bindings up to date",
        Action::Check("cargo xtask bindgen --check", bindgen_check),
    ),
    (
        "otel dependency tree",
        Action::Check(
            "cargo tree -p llama-server -e normal [--features otel]",
            otel_tree,
        ),
    ),
    (
        "cargo deny",
        Action::Check("cargo deny check licenses bans sources", cargo_deny),
    ),
];

pub fn run(args: Args) -> Result<()> {
    args.finish()?;
    let started = Instant::now();
    let mut done: Vec<(&str, Result<Outcome, String>, Duration)> = Vec::new();
    for (i, (name, action)) in STEPS.iter().enumerate() {
        let shown = match action {
            Action::Cargo(args) => format!("cargo {}", args.join(" ")),
            Action::Check(shown, _) => (*shown).to_string(),
        };
        println!("\n==> [{}/{}] {name}: {shown}", i + 1, STEPS.len());
        let t = Instant::now();
        let result = match action {
            Action::Cargo(args) => util::run(util::cargo().args(*args)).map(|()| Outcome::Passed),
            Action::Check(_, f) => f(),
        };
        let failed = result.is_err();
        done.push((name, result.map_err(|e| format!("{e:#}")), t.elapsed()));
        if failed {
            summary(&done, started.elapsed());
            bail!("ci failed at step `{name}`");
        }
    }
    summary(&done, started.elapsed());
    println!("ci passed");
    Ok(())
}

fn summary(done: &[(&str, Result<Outcome, String>, Duration)], total: Duration) {
    println!("\n==> summary");
    for (name, result, time) in done {
        let (status, note) = match result {
            Ok(Outcome::Passed) => ("ok", String::new()),
            Ok(Outcome::Skipped(why)) => ("skipped", format!("  ({why})")),
            Err(e) => ("FAILED", format!("  ({e})")),
        };
        println!(
            "  {status:<8} {name:<22} {:>8}{note}",
            util::duration(*time)
        );
    }
    println!("  {:<8} {:<22} {:>8}", "", "total", util::duration(total));
}

fn bindgen_check() -> Result<Outcome> {
    if !bindgen::libclang_available() {
        if util::in_ci() {
            bail!("libclang not found, and CI requires the bindings check: install libclang-dev");
        }
        let why = "libclang not found; install libclang-dev to check the bindings";
        println!("skipped: {why}");
        return Ok(Outcome::Skipped(why.into()));
    }
    bindgen::check()?;
    Ok(Outcome::Passed)
}

/// Crate names in `cargo tree -p llama-server -e normal`, with the extra arguments.
fn tree_names(extra: &[&str]) -> Result<Vec<String>> {
    let mut cmd = util::cargo();
    cmd.args([
        "tree",
        "-p",
        "llama-server",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ])
    .args(extra);
    println!("$ {}", util::display(&cmd));
    let out = util::output(&mut cmd)?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect())
}

fn otel_names(names: &[String]) -> Vec<&str> {
    let mut otel: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("opentelemetry"))
        .collect();
    otel.sort_unstable();
    otel.dedup();
    otel
}

fn otel_tree() -> Result<Outcome> {
    let without = tree_names(&[])?;
    let leaked = otel_names(&without);
    if !leaked.is_empty() {
        bail!(
            "llama-server without `otel` depends on {}",
            leaked.join(", ")
        );
    }
    println!(
        "without otel: {} crates, none named opentelemetry*",
        without.len()
    );
    let with = tree_names(&["--features", "otel"])?;
    let otel = otel_names(&with);
    if otel.is_empty() {
        bail!(
            "llama-server with `otel` pulls in no opentelemetry* crate: is the feature wired up?"
        );
    }
    println!(
        "with otel: {} crates, including {}",
        with.len(),
        otel.join(", ")
    );
    Ok(Outcome::Passed)
}

/// The observability checks need Prometheus (`prometheus`, `promtool`) and PyYAML: required under
/// CI, skipped with a note elsewhere.
fn observability() -> Result<Outcome> {
    let on_path = |p: &str| {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
    };
    let yaml = std::process::Command::new("python3")
        .args(["-c", "import yaml"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let ready = on_path("prometheus") && on_path("promtool") && yaml;
    if !ready && !util::in_ci() {
        let why = "needs prometheus + promtool (Debian `prometheus`) and PyYAML".to_string();
        println!("skipped: {why}");
        return Ok(Outcome::Skipped(why));
    }
    util::run(util::cargo().args(["xtask", "check-observability"]))?;
    Ok(Outcome::Passed)
}

fn cargo_deny() -> Result<Outcome> {
    let installed = util::cargo()
        .args(["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        let how = "cargo install --locked cargo-deny";
        if util::in_ci() {
            bail!("cargo-deny is not installed, and CI requires it: `{how}`");
        }
        let why = format!("cargo-deny not installed; `{how}` to run it");
        println!("skipped: {why}");
        return Ok(Outcome::Skipped(why));
    }
    util::run(util::cargo().args(["deny", "check", "licenses", "bans", "sources"]))?;
    Ok(Outcome::Passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_names_are_found_sorted_and_deduplicated() {
        let names: Vec<String> = [
            "tokio",
            "opentelemetry_sdk",
            "opentelemetry",
            "opentelemetry",
        ]
        .map(String::from)
        .into();
        assert_eq!(
            otel_names(&names),
            vec!["opentelemetry", "opentelemetry_sdk"]
        );
        assert!(otel_names(&["serde".to_string()]).is_empty());
    }

    #[test]
    fn steps_are_the_documented_gate() {
        let names: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
        assert_eq!(names.first(), Some(&"fmt"));
        assert!(names.contains(&"test (otel)") && names.contains(&"cargo deny"));
    }
}
