//! The live evaluation in Prometheus: every query returns series once the scrapes have data,
//! and every alert rule evaluates without error.

use super::instruments::check_instruments;
use super::promql::{substitute, variable_query, Query};
use super::report::Report;
use crate::stack::http::{http, urlencode};
use crate::stack::process::Proc;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::time::{Duration, Instant};

/// POST /api/v1/query → the number of series (a scalar counts as one).
fn prom_query(prom: &str, expr: &str) -> Result<usize> {
    let r = http(
        prom,
        "POST",
        "/api/v1/query",
        "application/x-www-form-urlencoded",
        &format!("query={}", urlencode(expr)),
        Duration::from_secs(30),
    )?;
    let v: Value = serde_json::from_str(&r.body)
        .with_context(|| format!("Prometheus answered {}: {}", r.status, r.body))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        bail!(
            "{}",
            v.get("error").and_then(Value::as_str).unwrap_or(&r.body)
        );
    }
    let result = v.pointer("/data/result");
    Ok(match result {
        Some(Value::Array(a)) => a.len(),
        Some(_) => 1,
        None => 0,
    })
}

/// GET `path` of Prometheus' API as JSON.
pub(super) fn prom_get(prom: &str, path: &str) -> Result<Value> {
    let r = http(prom, "GET", path, "text/plain", "", Duration::from_secs(30))?;
    serde_json::from_str(&r.body).with_context(|| format!("GET {path}: {}", r.status))
}

/// Waits until the scrapes have data, then evaluates everything, retrying empty results for a
/// while (rates need two scrapes of a series that has moved).
pub(super) fn evaluate(
    report: &mut Report,
    prom: &str,
    server: &str,
    server_proc: &mut Proc,
    queries: &[Query],
    variables: &[Query],
) -> Result<()> {
    let start = Instant::now();
    let warm = Duration::from_secs(20);
    let deadline = Duration::from_secs(90);
    while start.elapsed() < warm {
        server_proc.alive()?;
        std::thread::sleep(Duration::from_secs(1));
    }
    // The target is scraped (a scrape can time out while the machine is busy: look at the last
    // minute, not only the last scrape).
    let up = prom_query(prom, "max_over_time(up{job=\"llama-server\"}[1m]) == 1");
    report.record(
        "Prometheus scrapes llama-server",
        up.and_then(|n| {
            if n == 1 {
                Ok(server.to_string())
            } else {
                Err(anyhow!("target not up"))
            }
        }),
    );
    let pending = evaluable(report, queries, variables);
    let total = pending.len();
    let (passed, pending) = poll(report, prom, server_proc, pending, || {
        start.elapsed() > deadline
    })?;
    for (q, n) in &passed {
        report.record(&format!("query {}", q.source), Ok(format!("{n} series")));
    }
    for (q, why) in &pending {
        report.record(
            &format!("query {}", q.source),
            Err(anyhow!("{why}: {}", q.expr)),
        );
    }
    println!(
        "      ({} of {total} queries returned series)",
        passed.len()
    );
    report.record(
        "alert rules evaluate in Prometheus",
        prom_get(prom, "/api/v1/rules").and_then(rules_health),
    );
    check_instruments(report, prom, queries);
    Ok(())
}

/// The queries with Grafana's variables filled in and the `label_values` variables as series
/// queries; records variables of any other kind as failed.
fn evaluable(report: &mut Report, queries: &[Query], variables: &[Query]) -> Vec<Query> {
    let pending: Vec<Query> = queries
        .iter()
        .map(|q| Query {
            source: q.source.clone(),
            expr: substitute(&q.expr),
        })
        .chain(variables.iter().filter_map(|v| {
            let q = variable_query(&substitute(&v.expr))?;
            Some(Query {
                source: v.source.clone(),
                expr: q,
            })
        }))
        .collect();
    let unsupported: Vec<_> = variables
        .iter()
        .filter(|v| variable_query(&v.expr).is_none())
        .collect();
    for v in unsupported {
        report.record(
            &v.source,
            Err(anyhow!(
                "only label_values(...) variables are checked: {}",
                v.expr
            )),
        );
    }
    pending
}

/// Queries that returned series, with how many.
type Passed = Vec<(Query, usize)>;
/// Queries that did not, with why.
type Failed = Vec<(Query, String)>;

/// Evaluates `pending` every 3 s until all return series or `expired`; parse errors are recorded
/// at once. Returns (query, series) of those with series and (query, why) of the rest.
fn poll(
    report: &mut Report,
    prom: &str,
    server_proc: &mut Proc,
    pending: Vec<Query>,
    expired: impl Fn() -> bool,
) -> Result<(Passed, Failed)> {
    let mut pending: Vec<(Query, String)> =
        pending.into_iter().map(|q| (q, String::new())).collect();
    let mut passed = Vec::new();
    loop {
        server_proc.alive()?;
        let mut still = Vec::new();
        for (q, _) in pending {
            match prom_query(prom, &q.expr) {
                Ok(n) if n > 0 => passed.push((q, n)),
                Ok(_) => still.push((q, "no series".to_string())),
                // A parse error does not get better by waiting.
                Err(e) if e.to_string().contains("parse error") => {
                    report.record(
                        &format!("query {}", q.source),
                        Err(anyhow!("{e:#}: {}", q.expr)),
                    );
                }
                Err(e) => still.push((q, format!("{e:#}"))),
            }
        }
        pending = still;
        if pending.is_empty() || expired() {
            return Ok((passed, pending));
        }
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// `/api/v1/rules` → every rule healthy (and how many fire), or the unhealthy ones.
fn rules_health(v: Value) -> Result<String> {
    let groups = v
        .pointer("/data/groups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rules: Vec<Value> = groups
        .iter()
        .flat_map(|g| {
            g.get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let bad: Vec<String> = rules
        .iter()
        .filter(|r| r.get("health").and_then(Value::as_str) != Some("ok"))
        .map(|r| {
            format!(
                "{} ({})",
                r.get("name").and_then(Value::as_str).unwrap_or("?"),
                r.get("lastError")
                    .and_then(Value::as_str)
                    .unwrap_or("not evaluated")
            )
        })
        .collect();
    if rules.is_empty() {
        bail!("no rules loaded");
    }
    if bad.is_empty() {
        let firing = rules
            .iter()
            .filter(|r| r.get("state").and_then(Value::as_str) == Some("firing"))
            .count();
        Ok(format!("{} rules healthy, {firing} firing", rules.len()))
    } else {
        bail!("{}", bad.join("; "))
    }
}
