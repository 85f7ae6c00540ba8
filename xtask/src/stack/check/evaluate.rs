//! The evaluation in Prometheus: every query returns series once the scrapes have data, and
//! every alert rule evaluates without error.

use super::promql::{substitute, Query};
use super::Report;
use crate::http;
use anyhow::{anyhow, bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Prometheus' answer envelope.
#[derive(Deserialize)]
struct Answer<T> {
    status: String,
    error: Option<String>,
    data: Option<T>,
}

/// GET or POST (a form) `path` of Prometheus' API → its `data`.
fn prom_api<T: DeserializeOwned>(prom: &str, path: &str, form: &[(&str, &str)]) -> Result<T> {
    let timeout = Duration::from_secs(30);
    let r = match form {
        [] => http::get(prom, path, timeout)?,
        _ => http::post_form(prom, path, form, timeout)?,
    };
    let answer: Result<Answer<T>, _> = serde_json::from_str(&r.body);
    let answer = answer.with_context(|| format!("Prometheus answered {}", r.status))?;
    match (answer.status.as_str(), answer.data) {
        ("success", Some(data)) => Ok(data),
        _ => bail!("{}", answer.error.unwrap_or(r.body)),
    }
}

/// The number of series `expr` returns (a scalar counts as one).
fn prom_query(prom: &str, expr: &str) -> Result<usize> {
    let data: Value = prom_api(prom, "/api/v1/query", &[("query", expr)])?;
    Ok(data["result"].as_array().map_or(1, Vec::len))
}

/// How long to let the scrapes gather data before the first query, and until when to retry
/// queries that return nothing yet (rates need two scrapes of a series that has moved).
pub(super) struct Patience {
    pub(super) warm_up: Duration,
    pub(super) deadline: Duration,
}

/// Waits `warm_up`, then evaluates every query, retrying empty results until the deadline;
/// `alive` fails when the scraped process has died.
pub(super) fn evaluate(
    report: &mut Report,
    prom: &str,
    alive: &mut dyn FnMut() -> Result<()>,
    queries: &[Query],
    patience: Patience,
) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < patience.warm_up {
        alive()?;
        std::thread::sleep(Duration::from_millis(500));
    }
    // A scrape can time out while the machine is busy: look at the last minute.
    let up = "max_over_time(up{job=\"llama-server\"}[1m]) == 1";
    let mut pending = vec![Query::new("Prometheus scrapes llama-server".into(), up)];
    pending.extend_from_slice(queries);
    let (total, mut returned) = (pending.len(), 0);
    while !pending.is_empty() {
        alive()?;
        let expired = start.elapsed() > patience.deadline;
        let mut still = Vec::new();
        for q in pending {
            let name = format!("query {}", q.source);
            match prom_query(prom, &substitute(&q.expr)) {
                // Evaluated without error: as far as a Prometheus without the collector goes.
                Ok(0) if q.collector_only() => {
                    returned += 1;
                    report.record(
                        &name,
                        Ok("parses and evaluates; series need the collector".into()),
                    );
                }
                Ok(n) if n > 0 => {
                    returned += 1;
                    report.record(&name, Ok(format!("{n} series")));
                }
                // A parse error does not get better by waiting.
                Err(e) if expired || e.to_string().contains("parse error") => {
                    report.record(&name, Err(anyhow!("{e:#}: {}", q.expr)))
                }
                Ok(_) if expired => report.record(&name, Err(anyhow!("no series: {}", q.expr))),
                _ => still.push(q),
            }
        }
        pending = still;
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    println!("      ({returned} of {total} queries returned series)");
    let rules = prom_api(prom, "/api/v1/rules", &[]).and_then(rules_health);
    report.record("alert rules evaluate in Prometheus", rules);
    Ok(())
}

/// Every rule healthy (and how many fire), or the unhealthy ones.
fn rules_health(data: Value) -> Result<String> {
    let groups = data["groups"].as_array().cloned().unwrap_or_default();
    let rules = groups.iter().flat_map(|g| g["rules"].as_array());
    let rules: Vec<&Value> = rules.flatten().collect();
    let bad = rules.iter().filter(|r| r["health"] != "ok");
    let bad: Vec<_> = bad
        .map(|r| format!("{} ({})", r["name"], r["lastError"]))
        .collect();
    if rules.is_empty() || !bad.is_empty() {
        bail!("unhealthy rules: {bad:?} of {}", rules.len());
    }
    let firing = rules.iter().filter(|r| r["state"] == "firing").count();
    Ok(format!("{} rules healthy, {firing} firing", rules.len()))
}
