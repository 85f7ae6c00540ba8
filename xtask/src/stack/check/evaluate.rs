//! The evaluation in Prometheus: every query returns series once the scrapes have data, and
//! every alert rule evaluates without error.

use super::promql::{substitute, variable_query, Query};
use super::Report;
use crate::http;
use crate::stack::process::Proc;
use anyhow::{anyhow, bail, Context, Result};
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
fn prom_api<T: serde::de::DeserializeOwned>(
    prom: &str,
    path: &str,
    form: &[(&str, &str)],
) -> Result<T> {
    let timeout = Duration::from_secs(30);
    let r = match form {
        [] => http::get(prom, path, timeout)?,
        _ => http::post_form(prom, path, form, timeout)?,
    };
    let answer: Answer<T> = serde_json::from_str(&r.body)
        .with_context(|| format!("Prometheus answered {}: {}", r.status, r.body))?;
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
    while start.elapsed() < Duration::from_secs(20) {
        server_proc.alive()?;
        std::thread::sleep(Duration::from_secs(1));
    }
    // A scrape can time out while the machine is busy: look at the last minute.
    let up = prom_query(prom, "max_over_time(up{job=\"llama-server\"}[1m]) == 1");
    let up = up.and_then(|n| {
        if n == 1 {
            Ok(server.to_string())
        } else {
            bail!("not up")
        }
    });
    report.record("Prometheus scrapes llama-server", up);
    let evaluable = |q: &Query| Query::new(q.source.clone(), &substitute(&q.expr));
    let mut pending: Vec<Query> = queries.iter().map(evaluable).collect();
    for v in variables {
        match variable_query(&substitute(&v.expr)) {
            Some(q) => pending.push(Query::new(v.source.clone(), &q)),
            None => report.record(&v.source, Err(anyhow!("not label_values(...): {}", v.expr))),
        }
    }
    let total = pending.len();
    let mut returned = 0;
    loop {
        server_proc.alive()?;
        let expired = start.elapsed() > Duration::from_secs(90);
        let mut still = Vec::new();
        for q in pending {
            let name = format!("query {}", q.source);
            match prom_query(prom, &q.expr) {
                Ok(n) if n > 0 => {
                    returned += 1;
                    report.record(&name, Ok(format!("{n} series")));
                }
                // A parse error does not get better by waiting.
                Err(e) if e.to_string().contains("parse error") => {
                    report.record(&name, Err(anyhow!("{e:#}: {}", q.expr)))
                }
                Ok(_) if expired => report.record(&name, Err(anyhow!("no series: {}", q.expr))),
                Err(e) if expired => report.record(&name, Err(anyhow!("{e:#}: {}", q.expr))),
                _ => still.push(q),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    println!("      ({returned} of {total} queries returned series)");
    let rules = prom_api(prom, "/api/v1/rules", &[]).and_then(rules_health);
    report.record("alert rules evaluate in Prometheus", rules);
    Ok(())
}

/// Every rule healthy (and how many fire), or the unhealthy ones.
fn rules_health(data: Value) -> Result<String> {
    let groups = data["groups"].as_array().cloned().unwrap_or_default();
    let rules: Vec<Value> = groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned())
        .flatten()
        .collect();
    let bad = rules.iter().filter(|r| r["health"] != "ok");
    let bad: Vec<String> = bad
        .map(|r| format!("{} ({})", r["name"], r["lastError"]))
        .collect();
    if rules.is_empty() || !bad.is_empty() {
        bail!("unhealthy rules: {bad:?} of {}", rules.len());
    }
    let firing = rules.iter().filter(|r| r["state"] == "firing").count();
    Ok(format!("{} rules healthy, {firing} firing", rules.len()))
}
