//! `cargo xtask bench-otel --micro`: the telemetry path itself, timed call by call by the
//! llama-otel example `telemetry_micro` in three modes (otel compiled in but no SDK, the SDK as
//! the server installs it without an exporter, the test SDK exporting into memory), and the
//! per-token estimate: the decode loop's instrumentation per decode step divided by the
//! tokens a step generates.

use crate::util;
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

/// The modes of `telemetry_micro`, with the iterations each runs (the in-memory exporter keeps
/// every span, so it runs fewer).
const MODES: [(&str, usize); 3] = [
    ("off", 400_000),
    ("no-exporter", 200_000),
    ("in-memory", 100_000),
];

/// Generated tokens per decode step for which the per-token cost is shown: one stream, and
/// batches of 4 and 8 (one token per sequence per step).
const TOKENS_PER_STEP: [f64; 3] = [1.0, 4.0, 8.0];

/// What the decode loop records per decode step (llama-core `Context::decode_linked`); the
/// scheduler's request telemetry (request.rs) is per request, plus one span link per request
/// for its first `LINKED_DECODE_STEPS` steps only.
const PER_STEP: &str = "per decode step (op decode_step): 1 span `llama.decode` (3 start + 3 \
    set attributes, end; ≤ 1 link per request in its first steps), 1 histogram record with \
    exemplar, 1 without, 3 gauges (slots busy, KV usage, KV tokens), no metric attributes; \
    per sampled token (op sample_token): 2 clock reads, 1 histogram record with exemplar";

pub fn run(decode_tps: Option<f64>, as_json: bool) -> Result<()> {
    let root = util::workspace_root();
    let mut cmd = util::cargo();
    cmd.args(["build", "--release", "--quiet", "-p", "llama-otel"])
        .args(["--features", "testing", "--example", "telemetry_micro"]);
    util::run(&mut cmd)?;
    let bin = util::target_dir(&root)
        .join("release")
        .join("examples")
        .join("telemetry_micro");
    let mut results = Vec::new();
    for (mode, iters) in MODES {
        let out = util::output(std::process::Command::new(&bin).args([mode, &iters.to_string()]))
            .with_context(|| format!("telemetry_micro {mode}"))?;
        let line = out.lines().last().unwrap_or("");
        let v: Value = serde_json::from_str(line)
            .with_context(|| format!("telemetry_micro {mode} printed {out}"))?;
        results.push(v);
    }
    let summary = summarize(&results, decode_tps)?;
    if as_json {
        println!("{summary}");
    } else {
        print_table(&summary, &results);
    }
    Ok(())
}

/// ns of `op` (median of batches) in one mode's result.
fn op_ns(result: &Value, op: &str) -> Result<f64> {
    result["ops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["op"] == op)
        .and_then(|o| o["ns_median"].as_f64())
        .ok_or_else(|| anyhow!("telemetry_micro: no {op} in {result}"))
}

/// Per mode: the decode step's telemetry in ns per generated token, and its share of a
/// decoded token's time where the decode speed is known.
fn summarize(results: &[Value], decode_tps: Option<f64>) -> Result<Value> {
    let decode_ns = decode_tps.filter(|t| *t > 0.0).map(|t| 1e9 / t);
    let mut per_token = Vec::new();
    for r in results {
        let step = op_ns(r, "decode_step")?;
        let linked = op_ns(r, "decode_step_1_link")?;
        let sample = op_ns(r, "sample_token")?;
        let by_batch: Vec<Value> = TOKENS_PER_STEP
            .iter()
            .map(|n| {
                let ns = step / n + sample;
                json!({"tokens_per_step": n, "ns_per_token": ns,
                    "share_of_decode": decode_ns.map(|d| ns / d)})
            })
            .collect();
        per_token.push(json!({"mode": r["mode"], "decode_step_ns": step,
            "decode_step_1_link_ns": linked, "sample_token_ns": sample, "per_token": by_batch}));
    }
    Ok(
        json!({"per_step": PER_STEP, "decode_tps": decode_tps, "decode_ns_per_token": decode_ns,
        "modes": per_token, "micro": results}),
    )
}

fn print_table(s: &Value, results: &[Value]) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    print!("{:<28}", "op (ns/op, median | min)");
    for r in results {
        print!(" {:>22}", r["mode"].as_str().unwrap_or(""));
    }
    println!();
    let ops = results[0]["ops"].as_array().cloned().unwrap_or_default();
    for (i, op) in ops.iter().enumerate() {
        print!("{:<28}", op["op"].as_str().unwrap_or(""));
        for r in results {
            let o = &r["ops"][i];
            print!(
                " {:>22}",
                format!("{:.1} | {:.1}", f(&o["ns_median"]), f(&o["ns_min"]))
            );
        }
        println!();
    }
    println!(
        "\nwhat is recorded: {}",
        s["per_step"].as_str().unwrap_or("")
    );
    let decode = s["decode_ns_per_token"].as_f64();
    for m in s["modes"].as_array().into_iter().flatten() {
        let cells: Vec<String> = m["per_token"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let share = p["share_of_decode"]
                    .as_f64()
                    .map(|x| format!(" = {:.3} %", x * 100.0))
                    .unwrap_or_default();
                format!(
                    "{} tok/step: {:.0} ns/token{share}",
                    f(&p["tokens_per_step"]),
                    f(&p["ns_per_token"])
                )
            })
            .collect();
        println!(
            "{:<12} {}",
            m["mode"].as_str().unwrap_or(""),
            cells.join(", ")
        );
    }
    match decode {
        Some(d) => println!("(share of a decoded token's {d:.0} ns, from --decode-tps)"),
        None => println!(
            "(pass --decode-tps T/S, e.g. the plain build's tg, for the share of decode time)"
        ),
    }
}
