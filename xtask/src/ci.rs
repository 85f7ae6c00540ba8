//! `cargo xtask ci`: the project's full test gate, step by step, stopping at the first failure.
//!
//! Tests run one at a time (`RUST_TEST_THREADS=1`, as `.ci/run` sets: the server tests start
//! servers whose thread pools would oversubscribe a small machine), with `--show-output`, so
//! every `skipping: …` line a passing test prints is seen, attributed to its test and listed at
//! the end; under CI (`CI` set) a skipped test fails the gate. The per-model tests run once: the
//! telemetry runs take only the unit tests and the test files gated on a telemetry feature.
//! The code rules (no opentelemetry in the default tree among them) are `tidy` tests.

use crate::bindgen;
use crate::util::{self, in_ci};
use anyhow::{bail, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The full test gate: fmt, clippy, tests, observability, bindings, dependency policy.
///
/// fmt; clippy and tests, also with --features otel and with the in-memory telemetry features
/// (those runs take the unit tests and the telemetry test files only); the fuzz targets (GGUF
/// parsing; hyper-parameters, vocabulary and chat template from a GGUF) built (stable, no
/// sanitizers) and run once over their seeds; the observability checks;
/// bindgen --check; cargo deny check licenses bans sources. The tidy tests (xtask's) check the
/// code rules, among them no opentelemetry in llama-server's default tree. Ends with the list
/// of skipped tests and why; with CI set, a skipped test fails, and libclang and cargo-deny
/// are required instead of skipped.
#[derive(Debug, clap::Args)]
pub struct Opts {}

/// What a step did when it did not fail.
#[derive(Debug)]
enum Outcome {
    Passed,
    Skipped(String),
}

/// How a step runs.
enum Action {
    /// `cargo <args>` with inherited stdio.
    Cargo(Vec<String>),
    /// `cargo test <args>`, its output scanned for skipped tests.
    Test(Vec<String>),
    /// A check implemented here.
    Check(&'static str, fn() -> Result<Outcome>),
}

/// The in-memory telemetry features of the three crates that have them.
const TESTING: &str = "llama-otel/testing,llama-core/otel-testing,llama-server/otel-testing";

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// `--lib --bins` and one `--test NAME` per test file gated on one of `features`.
fn telemetry_targets(features: &[&str]) -> Vec<String> {
    let mut args = words("--lib --bins");
    for (_, test) in gated_tests(&util::workspace_root(), features) {
        args.extend(["--test".to_string(), test]);
    }
    args
}

fn steps() -> Vec<(&'static str, Action)> {
    let clippy = "-- -D warnings";
    let otel = telemetry_targets(&["otel"]);
    let testing = telemetry_targets(&["otel-testing", "testing"]);
    let in_memory = format!("-p llama-otel -p llama-core -p llama-server --features {TESTING}");
    vec![
        ("fmt", Action::Cargo(words("fmt --all -- --check"))),
        (
            "clippy",
            Action::Cargo(words(&format!("clippy --workspace --all-targets {clippy}"))),
        ),
        (
            "clippy (otel)",
            Action::Cargo(words(&format!(
                "clippy --all-targets --features otel {clippy}"
            ))),
        ),
        (
            "clippy (otel-testing)",
            Action::Cargo(words(&format!("clippy --all-targets {in_memory} {clippy}"))),
        ),
        ("test", Action::Test(words("--workspace"))),
        (
            "test (otel)",
            Action::Test([words("--features otel"), otel].concat()),
        ),
        (
            "test (in-memory telemetry)",
            Action::Test([words(&in_memory), testing].concat()),
        ),
        (
            "fuzz target builds",
            Action::Check(
                "cargo build --manifest-path crates/llama-core/fuzz/… (gguf_parse, model_meta)",
                fuzz_build,
            ),
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
            "cargo deny",
            Action::Check("cargo deny check licenses bans sources", cargo_deny),
        ),
    ]
}

/// (package, test) of every `crates/*/tests/*.rs` whose first `#![cfg(...)]` requires one of
/// `features`: the test files that only exist with a telemetry feature.
fn gated_tests(root: &Path, features: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let files = std::fs::read_dir(root.join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|krate| {
            let tests = std::fs::read_dir(krate.path().join("tests"))
                .into_iter()
                .flatten()
                .flatten();
            tests.map(move |t| (krate.file_name().to_string_lossy().into_owned(), t.path()))
        });
    for (package, path) in files.filter(|(_, p)| p.extension().is_some_and(|e| e == "rs")) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let cfg = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("#![cfg(feature = \""));
        if cfg.is_some_and(|c| features.iter().any(|f| c.starts_with(&format!("{f}\")")))) {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            out.push((package, name));
        }
    }
    out.sort();
    out
}

/// A test that printed `skipping…`: its binary, its name, the line.
#[derive(Debug, Clone, PartialEq)]
struct Skip {
    binary: String,
    test: String,
    why: String,
}

/// Reads `cargo test` output (stdout and stderr merged) line by line and finds the skips:
/// `Running BINARY` names the binary, `---- TEST stdout ----` opens a test's captured output.
#[derive(Default)]
struct SkipScanner {
    binary: String,
    test: String,
    skips: Vec<Skip>,
}

impl SkipScanner {
    fn line(&mut self, line: &str) {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("Running ") {
            // `unittests src/lib.rs (target/debug/deps/llama_core-HASH)`: name the crate too.
            let (what, path) = rest.split_once(" (").unwrap_or((rest, ""));
            let file = path.rsplit('/').next().unwrap_or("");
            let krate = file.rsplit_once('-').map_or(file, |(k, _)| k);
            self.binary = match what.starts_with("unittests") {
                true => format!("{krate} {what}"),
                false => what.to_string(),
            };
            self.test = String::from("(outside a test)");
        } else if trimmed.starts_with("Doc-tests ") {
            self.binary = trimmed.to_string();
            self.test = String::from("(outside a test)");
        } else if let Some(test) = trimmed
            .strip_prefix("---- ")
            .and_then(|t| t.strip_suffix(" stdout ----"))
        {
            self.test = test.to_string();
        } else if trimmed.starts_with("skipping") {
            let skip = Skip {
                binary: self.binary.clone(),
                test: self.test.clone(),
                why: trimmed.to_string(),
            };
            // A failing test's output is printed twice (its section, then with --show-output).
            if !self.skips.contains(&skip) {
                self.skips.push(skip);
            }
        }
    }
}

/// Runs `cargo test ARGS -- --show-output` one test at a time, echoing its output; returns the
/// skips it printed.
fn run_tests(args: &[String], skips: &mut Vec<Skip>) -> Result<()> {
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = util::cargo();
    cmd.arg("test").args(args).args(["--", "--show-output"]);
    cmd.env("RUST_TEST_THREADS", "1")
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .stdin(Stdio::null());
    let mut child = cmd.spawn()?;
    // The pipe's write ends live in the child only now, so the reader ends when cargo does.
    drop(cmd);
    let mut scanner = SkipScanner::default();
    for line in BufReader::new(reader).lines() {
        let line = line?;
        println!("{line}");
        scanner.line(&line);
    }
    let status = child.wait()?;
    skips.extend(scanner.skips.iter().cloned());
    if !status.success() {
        bail!("`cargo test {}` failed ({status})", args.join(" "));
    }
    if in_ci() && !scanner.skips.is_empty() {
        bail!(
            "{} test(s) skipped, and CI runs everything",
            scanner.skips.len()
        );
    }
    Ok(())
}

pub fn run(_: Opts) -> Result<()> {
    let started = Instant::now();
    let steps = steps();
    let mut done: Vec<(&str, Result<Outcome, String>, Duration)> = Vec::new();
    let mut skips = Vec::new();
    for (i, (name, action)) in steps.iter().enumerate() {
        let shown = match action {
            Action::Cargo(args) => format!("cargo {}", args.join(" ")),
            Action::Test(args) => format!("cargo test {} -- --show-output", args.join(" ")),
            Action::Check(shown, _) => (*shown).to_string(),
        };
        println!("\n==> [{}/{}] {name}: {shown}", i + 1, steps.len());
        let t = Instant::now();
        let result = match action {
            Action::Cargo(args) => util::run(util::cargo().args(args)).map(|()| Outcome::Passed),
            Action::Test(args) => run_tests(args, &mut skips).map(|()| Outcome::Passed),
            Action::Check(_, f) => f(),
        };
        let failed = result.is_err();
        done.push((name, result.map_err(|e| format!("{e:#}")), t.elapsed()));
        if failed {
            summary(&done, &skips, started.elapsed());
            bail!("ci failed at step `{name}`");
        }
    }
    summary(&done, &skips, started.elapsed());
    println!("ci passed");
    Ok(())
}

fn summary(done: &[(&str, Result<Outcome, String>, Duration)], skips: &[Skip], total: Duration) {
    println!("\n==> summary");
    for (name, result, time) in done {
        let (status, note) = match result {
            Ok(Outcome::Passed) => ("ok", String::new()),
            Ok(Outcome::Skipped(why)) => ("skipped", format!("  ({why})")),
            Err(e) => ("FAILED", format!("  ({e})")),
        };
        println!(
            "  {status:<8} {name:<26} {:>8}{note}",
            util::duration(*time)
        );
    }
    println!("  {:<8} {:<26} {:>8}", "", "total", util::duration(total));
    if skips.is_empty() {
        println!("\nno test skipped");
        return;
    }
    println!(
        "\n==> {} skipped test(s): they passed without checking anything",
        skips.len()
    );
    for s in skips {
        println!("  {}: {}: {}", s.binary, s.test, s.why);
    }
}

/// The fuzz targets of `crates/llama-core/fuzz`, each with its seeds in `seeds/<target>/`.
const FUZZ_TARGETS: [&str; 2] = ["gguf_parse", "model_meta"];

/// Builds the fuzz targets with stable cargo (no sanitizers, so `cargo fuzz` and nightly are
/// not needed; the workspace's target dir shares its dependencies) so they cannot rot, and
/// replays each target's committed seeds through it (each input once: not fuzzing).
fn fuzz_build() -> Result<Outcome> {
    let fuzz = "crates/llama-core/fuzz";
    let manifest = format!("{fuzz}/Cargo.toml");
    util::run(util::cargo().args([
        "build",
        "--manifest-path",
        &manifest,
        "--target-dir",
        "target",
    ]))?;
    let root = util::workspace_root();
    for target in FUZZ_TARGETS {
        let dir = root.join(fuzz).join("seeds").join(target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)?
            .filter_map(|e| Some(e.ok()?.path()))
            .collect();
        seeds.sort();
        if seeds.is_empty() {
            bail!("no seeds in {fuzz}/seeds/{target}");
        }
        let binary = root.join("target/debug").join(target);
        util::run(std::process::Command::new(binary).args(&seeds))?;
    }
    Ok(Outcome::Passed)
}

fn bindgen_check() -> Result<Outcome> {
    if !bindgen::libclang_available() {
        if in_ci() {
            bail!("libclang not found, and CI requires the bindings check: install libclang-dev");
        }
        let why = "libclang not found; install libclang-dev to check the bindings";
        println!("skipped: {why}");
        return Ok(Outcome::Skipped(why.into()));
    }
    bindgen::check()?;
    Ok(Outcome::Passed)
}

/// The observability checks need Prometheus (`prometheus`, `promtool`): required under CI,
/// skipped with a note elsewhere.
fn observability() -> Result<Outcome> {
    let ready = ["prometheus", "promtool"]
        .iter()
        .all(|p| crate::stack::process::which(p).is_some());
    if !ready && !in_ci() {
        let why = "needs prometheus + promtool (Debian package `prometheus`)".to_string();
        println!("skipped: {why}");
        return Ok(Outcome::Skipped(why));
    }
    util::run(util::cargo().args(["xtask", "check-observability"]))?;
    Ok(Outcome::Passed)
}

fn cargo_deny() -> Result<Outcome> {
    let mut version = util::cargo();
    version
        .args(["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !version.status().is_ok_and(|s| s.success()) {
        let how = "cargo install --locked cargo-deny";
        if in_ci() {
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
    fn skips_are_attributed_to_their_test() {
        let output = "\
     Running unittests src/lib.rs (target/debug/deps/llama_core-1)
running 2 tests
test a ... ok
successes:

---- vocab::tests::gpt2 stdout ----
skipping: testdata/vocab/ggml-vocab-gpt-2.gguf not found

---- vocab::tests::bert stdout ----
near-tie at 3

successes:
    vocab::tests::gpt2
     Running tests/reference.rs (target/debug/deps/reference-2)
---- smollm2 stdout ----
  skipping: models/x.gguf not found (set LLAMA_TEST_MODEL)
";
        let mut s = SkipScanner::default();
        output.lines().for_each(|l| s.line(l));
        let found: Vec<(&str, &str)> = s
            .skips
            .iter()
            .map(|s| (s.binary.as_str(), s.test.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("llama_core unittests src/lib.rs", "vocab::tests::gpt2"),
                ("tests/reference.rs", "smollm2")
            ]
        );
        assert!(s.skips[1].why.starts_with("skipping: models/x.gguf"));
    }

    #[test]
    fn telemetry_runs_take_only_the_gated_test_files() {
        let root = util::workspace_root();
        let otel = gated_tests(&root, &["otel"]);
        let testing = gated_tests(&root, &["otel-testing", "testing"]);
        let has = |list: &[(String, String)], p: &str, t: &str| {
            list.iter().any(|(a, b)| a == p && b == t)
        };
        assert!(
            has(&otel, "llama-server", "otel_collector_down")
                && has(&otel, "llama-otel", "sdk_lifecycle")
        );
        assert!(
            has(&testing, "llama-server", "telemetry") && has(&testing, "llama-otel", "otel_on")
        );
        for list in [&otel, &testing] {
            assert!(
                !has(list, "llama-core", "reference") && !has(list, "llama-server", "http_api")
            );
            assert!(
                !has(list, "llama-otel", "macros_off"),
                "cfg(not(...)) is not gated on the feature"
            );
        }
    }

    #[test]
    fn every_fuzz_target_is_replayed_and_has_seeds() {
        let fuzz = util::workspace_root().join("crates/llama-core/fuzz");
        let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz manifest");
        let bins: Vec<&str> = manifest
            .split("[[bin]]")
            .skip(1)
            .filter_map(|bin| {
                bin.lines()
                    .find_map(|l| l.trim().strip_prefix("name = \"")?.strip_suffix('"'))
            })
            .collect();
        assert_eq!(bins, FUZZ_TARGETS);
        for target in FUZZ_TARGETS {
            let seeds = std::fs::read_dir(fuzz.join("seeds").join(target)).expect("seed dir");
            assert!(seeds.count() > 0, "no seeds for {target}");
        }
    }

    #[test]
    fn steps_are_the_documented_gate() {
        let names: Vec<&str> = steps().iter().map(|(name, _)| *name).collect();
        assert_eq!(names.first(), Some(&"fmt"));
        assert!(names.contains(&"test (otel)") && names.contains(&"cargo deny"));
        assert!(names.contains(&"fuzz target builds"));
    }
}
