//! Grafana's data sources: Prometheus and Jaeger, linked both ways, and the trace-to-metrics
//! queries.

use super::promql::Query;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;

/// Prometheus and Jaeger data sources with fixed uids, linked both ways (trace → metrics,
/// exemplar → trace).
pub(super) fn check_datasources(ds: &Value) -> Result<String> {
    let list: Vec<&Value> = ds
        .get("datasources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let by_type = |t: &str| {
        list.iter()
            .find(|d| d.get("type").and_then(Value::as_str) == Some(t))
            .copied()
    };
    let prom = by_type("prometheus").ok_or_else(|| anyhow!("no prometheus data source"))?;
    let jaeger = by_type("jaeger").ok_or_else(|| anyhow!("no jaeger data source"))?;
    let uid = |d: &Value| {
        d.get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut problems = Vec::new();
    if uid(prom).is_empty() || uid(jaeger).is_empty() {
        problems.push("data sources need fixed uids".to_string());
    }
    let t2m = jaeger
        .pointer("/jsonData/tracesToMetrics/datasourceUid")
        .and_then(Value::as_str);
    if t2m != Some(uid(prom).as_str()) {
        problems.push(format!(
            "Jaeger tracesToMetrics points at {t2m:?}, not the Prometheus uid"
        ));
    }
    if jaeger
        .pointer("/jsonData/tracesToMetrics/queries")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        problems.push("Jaeger tracesToMetrics has no queries".into());
    }
    let ex = prom
        .pointer("/jsonData/exemplarTraceIdDestinations/0/datasourceUid")
        .and_then(Value::as_str);
    if ex != Some(uid(jaeger).as_str()) {
        problems.push(format!(
            "Prometheus exemplar links point at {ex:?}, not the Jaeger uid"
        ));
    }
    if problems.is_empty() {
        Ok(format!("{} ↔ {}", uid(prom), uid(jaeger)))
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// The trace-to-metrics queries of the Jaeger data source, with `$__tags` as Grafana fills it in
/// for a llama-server span.
pub(super) fn datasource_queries(ds: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for d in ds
        .get("datasources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for q in d
            .pointer("/jsonData/tracesToMetrics/queries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = q.get("name").and_then(Value::as_str).unwrap_or("?");
            if let Some(expr) = q.get("query").and_then(Value::as_str) {
                let expr = expr
                    .replace("$$", "$")
                    .replace("$__tags", "job=\"llama-server\"");
                out.push(Query {
                    source: format!("trace-to-metrics query \"{name}\""),
                    expr,
                });
            }
        }
    }
    out
}
