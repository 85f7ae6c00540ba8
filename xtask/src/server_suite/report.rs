//! Result files of `cargo xtask server-suite`: the summary of one run and the comparison of two.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

/// One test's result, as the plugin writes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TestResult {
    outcome: String,
    duration_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    server_errors: Vec<String>,
    /// The last non-2xx answers the test got: `POST /props -> 404`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    http_errors: Vec<String>,
}

/// Outcome counts of one file (or of the whole run).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Counts {
    passed: usize,
    failed: usize,
    skipped: usize,
    error: usize,
}

impl Counts {
    fn add(&mut self, outcome: &str) {
        match outcome {
            "passed" => self.passed += 1,
            "failed" => self.failed += 1,
            "skipped" => self.skipped += 1,
            _ => self.error += 1,
        }
    }
}

/// A result file: what ran, against which binary, and every test's outcome.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Summary {
    suite: String,
    binary: String,
    binary_path: String,
    pytest_args: Vec<String>,
    /// `--threads` given to each server where a test sets none (None: the server's default).
    #[serde(default)]
    pub(super) server_threads: Option<usize>,
    model_map: String,
    totals: Counts,
    files: BTreeMap<String, Counts>,
    tests: BTreeMap<String, TestResult>,
}

/// Reads the plugin's JSON lines into a summary.
pub(super) fn summarise(
    results: &Path,
    label: &str,
    binary: &Path,
    args: &[String],
    source: &Path,
) -> Result<Summary> {
    let text = fs::read_to_string(results)
        .with_context(|| format!("{} (did pytest start? see the log)", results.display()))?;
    let mut tests = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).context("a result line")?;
        let nodeid = v["nodeid"].as_str().context("nodeid")?;
        let mut result: TestResult = serde_json::from_value(v.clone())?;
        // Start-up polling of /health (503 while loading), recorded by older plugin versions.
        result.http_errors.retain(|h| h != "GET /health -> 503");
        tests.insert(nodeid.trim_start_matches("unit/").to_string(), result);
    }
    let (mut totals, mut files) = (Counts::default(), BTreeMap::<String, Counts>::new());
    for (id, t) in &tests {
        totals.add(&t.outcome);
        files
            .entry(file_of(id).to_string())
            .or_default()
            .add(&t.outcome);
    }
    let suite = source
        .ancestors()
        .find_map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| n.starts_with("llama_cpp_python"))
        })
        .unwrap_or_else(|| source.display().to_string());
    Ok(Summary {
        suite: format!("{suite}: vendor/llama.cpp/tools/server/tests"),
        binary: label.to_string(),
        binary_path: binary.display().to_string(),
        // Without the test files: with --append the results span several runs (`files` lists them).
        pytest_args: args.iter().filter(|a| !a.starts_with("unit/")).cloned().collect(),
        server_threads: None,
        model_map: "stories260K/tinyllamas/stories15M -> SmolLM2-135M-Instruct Q4_1; bert-bge-small -> \
                    nomic-embed-text-v1.5 F16; stories260K-infill and Qwen repos -> Qwen2.5-Coder-0.5B Q4_K_M; \
                    (tiny)gemma3 -> Gemma 3 270M Q4_K_M; other HF models: test skipped"
            .to_string(),
        totals,
        files,
        tests,
    })
}

fn file_of(test_id: &str) -> &str {
    test_id.split("::").next().unwrap_or(test_id)
}

pub(super) fn write_summary(summary: &Summary, out: &Path) -> Result<()> {
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(out, serde_json::to_string_pretty(summary)? + "\n")
        .with_context(|| out.display().to_string())?;
    let md = out.with_extension("md");
    let mut text = format!(
        "# {} against llama.cpp's server test-suite\n\n",
        summary.binary
    );
    text += &file_table(summary);
    text += "\n| test | outcome | message |\n|---|---|---|\n";
    for (id, t) in &summary.tests {
        let msg = t
            .message
            .as_deref()
            .unwrap_or("")
            .replace('|', "\\|")
            .replace('\n', " ");
        let _ = writeln!(
            text,
            "| `{id}` | {} | {} |",
            t.outcome,
            msg.chars().take(160).collect::<String>()
        );
    }
    fs::write(&md, text).with_context(|| md.display().to_string())?;
    println!("server-suite: wrote {} and {}", out.display(), md.display());
    Ok(())
}

pub(super) fn file_table(s: &Summary) -> String {
    let mut t =
        String::from("| file | passed | failed | skipped | error |\n|---|---:|---:|---:|---:|\n");
    let rows = s
        .files
        .iter()
        .map(|(f, c)| (f.as_str(), c))
        .chain([("**total**", &s.totals)]);
    for (f, c) in rows {
        let _ = writeln!(
            t,
            "| {f} | {} | {} | {} | {} |",
            c.passed, c.failed, c.skipped, c.error
        );
    }
    t
}

fn load(path: &Path) -> Result<Summary> {
    let text = fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a server-suite result", path.display()))
}

/// Prints (and with `markdown` writes) the per-file table "llama.cpp passes → ours passes", the
/// tests that pass with llama.cpp but not with ours, and the commonest failure messages.
pub(super) fn compare(reference: &Path, ours: &Path, markdown: Option<&Path>) -> Result<()> {
    let (r, o) = (load(reference)?, load(ours)?);
    let text = comparison(&r, &o);
    print!("{text}");
    if let Some(path) = markdown {
        fs::write(path, &text).with_context(|| path.display().to_string())?;
    }
    Ok(())
}

fn comparison(r: &Summary, o: &Summary) -> String {
    let passes = |s: &Summary, id: &str| s.tests.get(id).is_some_and(|t| t.outcome == "passed");
    let mut per_file: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut missing = Vec::new();
    for (id, t) in &r.tests {
        let row = per_file.entry(file_of(id)).or_default();
        row.0 += 1;
        if t.outcome == "passed" {
            row.1 += 1;
            if passes(o, id) {
                row.2 += 1;
            } else {
                missing.push(id.as_str());
            }
        }
    }
    let mut text = format!(
        "| file | tests | pass with {} | of those, pass with {} |\n|---|---:|---:|---:|\n",
        r.binary, o.binary
    );
    let (mut n, mut a, mut b) = (0, 0, 0);
    for (f, (tests, ra, ob)) in &per_file {
        let _ = writeln!(text, "| {f} | {tests} | {ra} | {ob} |");
        (n, a, b) = (n + tests, a + ra, b + ob);
    }
    let _ = writeln!(text, "| **total** | {n} | {a} | {b} |");
    let _ = writeln!(
        text,
        "\n{} tests pass with {} but not with {}:\n",
        missing.len(),
        r.binary,
        o.binary
    );
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for id in &missing {
        let why = o
            .tests
            .get(*id)
            .map_or_else(|| "not run".to_string(), reason);
        let outcome = o.tests.get(*id).map_or("not run", |t| t.outcome.as_str());
        let _ = writeln!(text, "- `{id}`: {outcome}: {why}");
        *groups.entry(normalise(&why)).or_default() += 1;
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
    let _ = writeln!(text, "\nCommonest reasons (digits as N):\n");
    for (why, count) in groups.iter().take(25) {
        let _ = writeln!(text, "- {count} × {why}");
    }
    text
}

/// Why a test failed: the server's own error line when it died, else pytest's message (with the
/// request that got an unexpected status, when an assertion on a status code failed).
fn reason(t: &TestResult) -> String {
    let msg = t.message.as_deref().unwrap_or("");
    let first = msg.lines().next().unwrap_or("");
    let status_assert = first.contains(" == 200") || first.contains("ServerError");
    let why = match (t.server_errors.last(), t.http_errors.last()) {
        (Some(e), _) if msg.contains("Server process died") => format!("server died: {e}"),
        (_, Some(h)) if status_assert => format!("{first} ({h})"),
        _ => first.to_string(),
    };
    why.chars().take(200).collect()
}

fn normalise(why: &str) -> String {
    let digits = regex::Regex::new(r"\d+").map(|re| re.replace_all(why, "N").into_owned());
    digits
        .unwrap_or_else(|_| why.to_string())
        .chars()
        .take(120)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(label: &str, outcomes: &[(&str, &str)]) -> Summary {
        let mut tests = BTreeMap::new();
        for (id, outcome) in outcomes {
            let t = TestResult {
                outcome: outcome.to_string(),
                duration_s: 0.1,
                message: Some("AssertionError: assert 404 == 200".into()),
                server_errors: vec![],
                http_errors: vec!["POST /props -> 404".into()],
            };
            tests.insert(id.to_string(), t);
        }
        Summary {
            suite: "s".into(),
            binary: label.into(),
            binary_path: "b".into(),
            pytest_args: vec![],
            server_threads: None,
            model_map: String::new(),
            totals: Counts::default(),
            files: BTreeMap::new(),
            tests,
        }
    }

    #[test]
    fn the_comparison_lists_what_only_the_reference_passes() {
        let r = summary(
            "llama-cpp",
            &[
                ("test_a.py::x", "passed"),
                ("test_a.py::y", "passed"),
                ("test_b.py::z", "failed"),
            ],
        );
        let o = summary(
            "ours",
            &[
                ("test_a.py::x", "passed"),
                ("test_a.py::y", "failed"),
                ("test_b.py::z", "passed"),
            ],
        );
        let text = comparison(&r, &o);
        assert!(text.contains("| test_a.py | 2 | 2 | 1 |"), "{text}");
        assert!(text.contains("| test_b.py | 1 | 0 | 0 |"), "{text}");
        assert!(
            text.contains("1 tests pass with llama-cpp but not with ours"),
            "{text}"
        );
        assert!(
            text.contains(
                "- `test_a.py::y`: failed: AssertionError: assert 404 == 200 (POST /props -> 404)"
            ),
            "{text}"
        );
        assert!(
            text.contains("- 1 × AssertionError: assert N == N (POST /props -> N)"),
            "{text}"
        );
    }
}
