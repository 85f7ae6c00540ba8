//! `cargo xtask bench-ggml`: times ggml ops in the `cc` build against the `cmake` build.
//!
//! Builds `crates/ggml-sys/examples/bench_ops.rs` once per build path (release; the `cmake`
//! feature changes ggml-sys's metadata hash, so both live side by side in one target dir), copies
//! each executable aside, then times every op in both, back to back, for a few rounds (alternating
//! which goes first) so bursts of other load on the machine hit both builds about equally.
//! Every run reports its `ggml_sys::BUILD_PATH`, which is checked against the build it came from.

use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The build paths compared, and the cargo features that select them.
const BUILDS: [(&str, &[&str]); 2] = [("cc", &[]), ("cmake", &["--features", "cmake"])];
/// cc total / cmake total must stay at or under this.
const TARGET_RATIO: f64 = 1.03;
/// Median total over minimum total above this (either build): runs were preempted, so the
/// medians say more about the machine's other load than about the code.
const NOISY: f64 = 1.25;

/// One op's samples: per build, one (median, min) in microseconds per round.
#[derive(Debug)]
struct OpSamples {
    op: String,
    per_build: [Vec<(f64, f64)>; 2],
}

/// Times ggml ops in the cc build against the cmake build.
///
/// Times ggml ops (crates/ggml-sys/examples/bench_ops.rs) in the cc and the cmake build,
/// alternating them for --rounds; per-op medians, totals, cc/cmake ratio (target <= 1.03).
#[derive(Debug, clap::Args)]
pub struct Options {
    /// ggml threads
    #[arg(long, value_name = "N", default_value_t = 2)]
    threads: u32,
    /// Timed runs per op [default: as many as fit in ~300 ms]
    #[arg(long, value_name = "N")]
    reps: Option<u32>,
    /// Rounds, alternating which build goes first
    #[arg(long, value_name = "N", default_value_t = 5)]
    rounds: u32,
    /// Print one JSON summary object instead of the table
    #[arg(long)]
    json: bool,
}

pub fn run(opts: Options) -> Result<()> {
    if opts.threads == 0 || opts.rounds == 0 {
        bail!("--threads and --rounds must be at least 1");
    }
    let dir = util::workspace_root().join("target/xtask/bench-ggml");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut bins = Vec::new();
    for (build, features) in BUILDS {
        bins.push(build_bench(build, features, &dir)?);
    }
    let samples = measure(&bins, &opts)?;
    let summary = summarize(&samples, &opts);
    if opts.json {
        println!("{summary}");
    } else {
        print_table(&summary);
    }
    Ok(())
}

/// Builds the example for one build path and copies the executable to `dir/bench_ops-<build>`.
fn build_bench(build: &str, features: &[&str], dir: &Path) -> Result<PathBuf> {
    eprintln!("bench-ggml: building bench_ops ({build} build, release)");
    let mut cmd = util::cargo();
    cmd.args([
        "build",
        "--release",
        "-p",
        "ggml-sys",
        "--example",
        "bench_ops",
    ])
    .args(["--message-format", "json-render-diagnostics"])
    .args(features);
    let out = util::output(&mut cmd)?;
    let exe = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "bench_ops")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo reported no bench_ops executable")?;
    let copy = dir.join(format!("bench_ops-{build}"));
    std::fs::copy(&exe, &copy).with_context(|| format!("copying {} aside", exe.display()))?;
    Ok(copy)
}

/// Runs every op `rounds` times per build. The two builds time the same op back to back (order
/// alternating), so bursts of other load on the machine hit both about equally.
fn measure(bins: &[PathBuf], opts: &Options) -> Result<Vec<OpSamples>> {
    let ops = list_ops(&bins[0])?;
    if list_ops(&bins[1])? != ops {
        bail!("the cc and cmake bench_ops executables list different ops");
    }
    let mut samples: Vec<OpSamples> = Vec::new();
    for round in 0..opts.rounds as usize {
        eprintln!("bench-ggml: round {}/{}", round + 1, opts.rounds);
        for (i, op) in ops.iter().enumerate() {
            let first = (round + i) % 2;
            for b in [first, 1 - first] {
                for (name, median, min) in run_bench(&bins[b], BUILDS[b].0, opts, op)? {
                    record(&mut samples, name, b, (median, min));
                }
            }
        }
    }
    Ok(samples)
}

/// The op names an executable knows (`bench_ops --list`).
fn list_ops(exe: &Path) -> Result<Vec<String>> {
    let out = util::output(Command::new(exe).arg("--list"))?;
    let ops: Vec<String> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if ops.is_empty() {
        bail!("{} --list printed no ops", exe.display());
    }
    Ok(ops)
}

/// Runs one executable for one op; returns (op, median µs, min µs) per reported op.
fn run_bench(exe: &Path, build: &str, opts: &Options, op: &str) -> Result<Vec<(String, f64, f64)>> {
    let mut cmd = Command::new(exe);
    cmd.args(["--threads", &opts.threads.to_string(), "--op", op]);
    if let Some(reps) = opts.reps {
        cmd.args(["--reps", &reps.to_string()]);
    }
    let out = util::output(&mut cmd)?;
    let mut ops = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("bench_ops printed a line that is not JSON: {line}"))?;
        if v["build"] != build {
            bail!(
                "the {build} executable reports build {}: the two builds got mixed up",
                v["build"]
            );
        }
        let field = |k: &str| {
            v[k].as_f64()
                .with_context(|| format!("no number `{k}` in {line}"))
        };
        let op = v["op"]
            .as_str()
            .with_context(|| format!("no `op` in {line}"))?;
        ops.push((op.to_string(), field("median_us")?, field("min_us")?));
    }
    if ops.is_empty() {
        bail!("bench_ops ({build}) printed no results");
    }
    Ok(ops)
}

fn record(samples: &mut Vec<OpSamples>, op: String, build: usize, sample: (f64, f64)) {
    let i = match samples.iter().position(|s| s.op == op) {
        Some(i) => i,
        None => {
            samples.push(OpSamples {
                op,
                per_build: [Vec::new(), Vec::new()],
            });
            samples.len() - 1
        }
    };
    samples[i].per_build[build].push(sample);
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Per op: the median over rounds of each round's median, and the least minimum; plus totals.
fn summarize(samples: &[OpSamples], opts: &Options) -> Value {
    let (mut total, mut total_min) = ([0.0f64; 2], [0.0f64; 2]);
    let ops: Vec<Value> = samples
        .iter()
        .map(|s| {
            let med = s
                .per_build
                .clone()
                .map(|v| median(v.iter().map(|x| x.0).collect()));
            let min = s
                .per_build
                .clone()
                .map(|v| v.iter().map(|x| x.1).fold(f64::INFINITY, f64::min));
            for b in 0..2 {
                total[b] += med[b];
                total_min[b] += min[b];
            }
            json!({"op": s.op, "cc_us": med[0], "cmake_us": med[1], "ratio": med[0] / med[1],
                   "cc_min_us": min[0], "cmake_min_us": min[1]})
        })
        .collect();
    let ratio = total[0] / total[1];
    let noise = (total[0] / total_min[0]).max(total[1] / total_min[1]);
    let verdict = if noise > NOISY {
        "inconclusive"
    } else if ratio <= TARGET_RATIO {
        "met"
    } else {
        "not met"
    };
    json!({
        "threads": opts.threads, "rounds": opts.rounds, "reps": opts.reps, "ops": ops,
        "total_cc_us": total[0], "total_cmake_us": total[1], "ratio": ratio,
        "total_cc_min_us": total_min[0], "total_cmake_min_us": total_min[1],
        "ratio_min": total_min[0] / total_min[1],
        "noise": noise, "target_ratio": TARGET_RATIO, "verdict": verdict,
    })
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

/// One table row: name, then median cc / cmake / ratio, then minimum cc / cmake / ratio.
fn row(name: &str, v: [f64; 6]) {
    println!(
        "{name:<28} {:>10.1} {:>10.1} {:>7.3}   {:>10.1} {:>10.1} {:>7.3}",
        v[0], v[1], v[2], v[3], v[4], v[5]
    );
}

fn print_table(s: &Value) {
    println!(
        "\n{:<28} {:>10} {:>10} {:>7}   {:>10} {:>10} {:>7}",
        "op (µs per run)", "cc med", "cmake med", "ratio", "cc min", "cmake min", "ratio"
    );
    for op in s["ops"].as_array().map_or(&[][..], Vec::as_slice) {
        let keys = ["cc_us", "cmake_us", "ratio", "cc_min_us", "cmake_min_us"];
        let [a, b, r, c, d] = keys.map(|k| num(op, k));
        row(op["op"].as_str().unwrap_or("?"), [a, b, r, c, d, c / d]);
    }
    let keys = ["total_cc_us", "total_cmake_us", "ratio"];
    let [a, b, r] = keys.map(|k| num(s, k));
    let keys = ["total_cc_min_us", "total_cmake_min_us", "ratio_min"];
    let [c, d, rm] = keys.map(|k| num(s, k));
    row("total", [a, b, r, c, d, rm]);
    println!(
        "\ncc/cmake = {r:.3} (medians), {rm:.3} (minima) with {} thread(s), {} round(s): \
         target <= {TARGET_RATIO} {}",
        s["threads"],
        s["rounds"],
        s["verdict"].as_str().unwrap_or("?")
    );
    let noise = num(s, "noise");
    if noise > NOISY {
        println!(
            "warning: median totals are up to {noise:.2}x the minima: the machine was busy, so the \
             medians are unreliable; compare the minima, or rerun on a quiet machine"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn summary_totals_and_ratio() {
        let mut samples = Vec::new();
        record(&mut samples, "a".into(), 0, (10.0, 9.0));
        record(&mut samples, "a".into(), 1, (10.0, 8.0));
        record(&mut samples, "b".into(), 0, (12.0, 11.0));
        record(&mut samples, "b".into(), 1, (10.0, 10.0));
        let opts = Options {
            threads: 2,
            reps: None,
            rounds: 1,
            json: true,
        };
        let s = summarize(&samples, &opts);
        assert_eq!(s["total_cc_us"], 22.0);
        assert_eq!(s["total_cmake_us"], 20.0);
        assert_eq!(s["verdict"], "not met");
        record(&mut samples, "c".into(), 0, (50.0, 5.0));
        record(&mut samples, "c".into(), 1, (50.0, 5.0));
        assert_eq!(summarize(&samples, &opts)["verdict"], "inconclusive");
        assert_eq!(s["ops"][1]["op"], "b");
    }
}
