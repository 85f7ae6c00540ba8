//! Prometheus' alert rules: the alerts the stack promises, and every rule as a query.

use super::config::Doc;
use super::outcome;
use super::promql::{comparison_as_bool, Query};
use anyhow::Result;
use serde_norway::Value;

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

/// Every rule: (alert or record name, expression).
fn rules(alerts: &Value) -> Vec<(&str, &str)> {
    let rules = alerts
        .items("groups")
        .into_iter()
        .flat_map(|g| g.items("rules"));
    let named =
        rules.filter_map(|r| Some((r.text("alert").or(r.text("record"))?, r.text("expr")?)));
    named.collect()
}

/// The required alerts exist and use their metric.
pub(super) fn check_alert_rules(alerts: &Value) -> Result<String> {
    let rules = rules(alerts);
    let missing = REQUIRED_ALERTS.iter().filter(|(name, metric)| {
        !rules
            .iter()
            .any(|(n, expr)| n == name && expr.contains(metric))
    });
    let problems = missing
        .map(|(name, metric)| format!("no alert {name} on {metric}"))
        .collect();
    outcome(problems, || format!("{} rules", rules.len()))
}

/// Each rule's expression, its comparisons made `bool` so it returns series either way.
pub(super) fn alert_queries(alerts: &Value) -> Vec<Query> {
    let query =
        |(name, expr)| Query::new(format!("alert {name} (as bool)"), &comparison_as_bool(expr));
    rules(alerts).into_iter().map(query).collect()
}
