//! Prometheus' config and alert rules: `promtool`, the required alerts, and their expressions
//! as queries.

use super::promql::{comparison_as_bool, Query};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::process::Command;

/// Runs `promtool ARGS`; its SUCCESS lines, or its output as the error.
pub(super) fn promtool(args: &[&str]) -> Result<String> {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .context("promtool not found (Debian package `prometheus`)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{}", text.trim().replace('\n', " | "));
    }
    Ok(text
        .lines()
        .filter(|l| l.contains("SUCCESS"))
        .collect::<Vec<_>>()
        .join(" | "))
}

/// The alerts the stack must have (by name) and the metric each is about.
const REQUIRED_ALERTS: [(&str, &str); 5] = [
    (
        "LlamaTimeToFirstTokenHigh",
        "gen_ai_server_time_to_first_token_seconds_bucket",
    ),
    ("LlamaQueueSaturated", "llamacpp:requests_rejected_total"),
    ("LlamaErrorRatioHigh", "llama_requests_total"),
    ("LlamaKvCacheNearlyFull", "llama_kv_cache_usage_ratio"),
    ("PrometheusTargetDown", "up"),
];

/// Every rule of every group.
fn alert_rules(alerts: &Value) -> Vec<&Value> {
    alerts
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|g| {
            g.get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .collect()
}

/// The required alerts exist and use their metric; every alert has `for`, a severity and
/// annotations.
pub(super) fn check_alert_rules(alerts: &Value) -> Result<String> {
    let mut problems = Vec::new();
    let rules = alert_rules(alerts);
    for (name, metric) in REQUIRED_ALERTS {
        match rules
            .iter()
            .find(|r| r.get("alert").and_then(Value::as_str) == Some(name))
        {
            None => problems.push(format!("no alert {name}")),
            Some(r) => {
                if !r
                    .get("expr")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .contains(metric)
                {
                    problems.push(format!("{name} does not use {metric}"));
                }
            }
        }
    }
    for r in &rules {
        let Some(name) = r.get("alert").and_then(Value::as_str) else {
            continue;
        };
        if r.get("for").is_none() {
            problems.push(format!("{name}: no `for`"));
        }
        if r.pointer("/labels/severity").is_none() {
            problems.push(format!("{name}: no severity label"));
        }
        if r.pointer("/annotations/summary").is_none()
            || r.pointer("/annotations/description").is_none()
        {
            problems.push(format!("{name}: needs summary and description annotations"));
        }
    }
    if problems.is_empty() {
        Ok(format!("{} rules", rules.len()))
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// Each rule's expression, its comparisons made `bool` so it returns series either way.
pub(super) fn alert_queries(alerts: &Value) -> Vec<Query> {
    alert_rules(alerts)
        .into_iter()
        .filter_map(|r| {
            let name = r.get("alert").or_else(|| r.get("record"))?.as_str()?;
            let expr = r.get("expr")?.as_str()?;
            Some(Query {
                source: format!("alert {name} (as bool)"),
                expr: comparison_as_bool(expr),
            })
        })
        .collect()
}
