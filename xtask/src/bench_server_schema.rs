//! `cargo xtask bench-server --json-schema FILE`: generation speed (tg, tokens/s over the
//! generated tokens, from the server's `timings.predicted_per_second`) of one greedy chat
//! request constrained by the schema against the same request unconstrained, alternating the
//! two, one request at a time; the ratio is constrained / unconstrained.

use crate::http;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

/// The prompt both variants answer.
const PROMPT: &str = "Describe a fictional person: name, age, city, hobbies and a short biography.";

/// One request's generation speed and generated tokens.
fn tg(addr: &str, schema: Option<&Value>, tokens: usize) -> Result<(f64, u64)> {
    let mut body = json!({"messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": tokens, "temperature": 0});
    match schema {
        Some(s) => {
            body["response_format"] =
                json!({"type": "json_schema", "json_schema": {"name": "bench", "schema": s}})
        }
        // Unconstrained: as many tokens as asked for.
        None => body["ignore_eos"] = json!(true),
    }
    let r = http::post_json(
        addr,
        "/v1/chat/completions",
        &body.to_string(),
        Duration::from_secs(600),
    )?;
    if r.status != 200 {
        bail!("{}: {}", r.status, r.body);
    }
    let v: Value = serde_json::from_str(&r.body).context("response JSON")?;
    let speed = v["timings"]["predicted_per_second"].as_f64().unwrap_or(0.0);
    let n = v["usage"]["completion_tokens"].as_u64().unwrap_or(0);
    Ok((speed, n))
}

/// Runs `reps` pairs (unconstrained, constrained; order alternating) against the server at
/// `addr` and returns the summary object.
pub fn measure(addr: &str, schema_file: &Path, tokens: usize, reps: usize) -> Result<Value> {
    let text = std::fs::read_to_string(schema_file)
        .with_context(|| format!("read {}", schema_file.display()))?;
    let schema: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", schema_file.display()))?;
    // Warm-up: graphs, buffers and the schema's first compile.
    tg(addr, None, 8)?;
    tg(addr, Some(&schema), 8)?;
    let (mut free, mut constrained, mut n_constrained) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..reps {
        for variant in if rep % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            if variant {
                let (speed, n) = tg(addr, Some(&schema), tokens)?;
                constrained.push(speed);
                n_constrained.push(n);
            } else {
                free.push(tg(addr, None, tokens)?.0);
            }
        }
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    let (f, c) = (mean(&free), mean(&constrained));
    Ok(json!({
        "schema": schema_file.display().to_string(),
        "repetitions": reps,
        "max_tokens": tokens,
        "unconstrained_tg": f,
        "constrained_tg": c,
        "constrained_tokens": n_constrained,
        "ratio": if f > 0.0 { c / f } else { 0.0 },
    }))
}

/// The summary as one line of text.
pub fn print(v: &Value) {
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    println!(
        "tg unconstrained {:.1} t/s, constrained by {} {:.1} t/s (tokens {}): ratio {:.3} \
         ({} repetitions)",
        f("unconstrained_tg"),
        v["schema"].as_str().unwrap_or_default(),
        f("constrained_tg"),
        v["constrained_tokens"],
        f("ratio"),
        v["repetitions"]
    );
}
