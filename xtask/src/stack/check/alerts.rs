//! Prometheus' alert rules: the alerts the stack promises, each labelled and annotated, and
//! their expressions as queries.

use super::config::{Rule, Rules};
use super::outcome;
use super::promql::{comparison_as_bool, Query};
use anyhow::Result;

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

fn rules(alerts: &Rules) -> impl Iterator<Item = &Rule> {
    alerts.groups.iter().flat_map(|g| &g.rules)
}

/// The required alerts exist and use their metric; every alert has `for`, a severity, a summary
/// and a description.
pub(super) fn check_alert_rules(alerts: &Rules) -> Result<String> {
    let mut p = Vec::new();
    for (name, metric) in REQUIRED_ALERTS {
        match rules(alerts).find(|r| r.alert.as_deref() == Some(name)) {
            None => p.push(format!("no alert {name}")),
            Some(r) if !r.expr.contains(metric) => p.push(format!("{name} does not use {metric}")),
            Some(_) => {}
        }
    }
    for r in rules(alerts) {
        let Some(name) = &r.alert else { continue };
        if r.for_.is_none() || !r.labels.contains_key("severity") {
            p.push(format!("{name}: needs `for` and a severity label"));
        }
        if !r.annotations.contains_key("summary") || !r.annotations.contains_key("description") {
            p.push(format!("{name}: needs summary and description annotations"));
        }
    }
    outcome(p, || format!("{} rules", rules(alerts).count()))
}

/// Each rule's expression, its comparisons made `bool` so it returns series either way.
pub(super) fn alert_queries(alerts: &Rules) -> Vec<Query> {
    rules(alerts)
        .filter_map(|r| {
            let name = r.alert.as_ref().or(r.record.as_ref())?;
            Some(Query::new(
                format!("alert {name} (as bool)"),
                &comparison_as_bool(&r.expr),
            ))
        })
        .collect()
}
