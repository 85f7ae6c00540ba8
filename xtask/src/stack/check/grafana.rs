//! Grafana: each dashboard (title, uid, `$datasource` everywhere, a query in every panel) and the
//! data sources (Prometheus and Jaeger linked both ways); the queries both hold.

use super::config::Datasources;
use super::outcome;
use super::promql::Query;
use crate::stack::files::DASHBOARDS;
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Debug, Deserialize)]
struct DashboardJson {
    #[serde(default)]
    title: String,
    #[serde(default)]
    uid: String,
    #[serde(default)]
    panels: Vec<Panel>,
    #[serde(default)]
    templating: Templating,
}

#[derive(Debug, Default, Deserialize)]
struct Templating {
    list: Vec<Variable>,
}

#[derive(Debug, Deserialize)]
struct Variable {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    query: Value,
    datasource: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Panel {
    id: Option<u64>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    title: String,
    datasource: Option<Value>,
    #[serde(default)]
    targets: Vec<Target>,
    /// A row's panels.
    #[serde(default)]
    panels: Vec<Panel>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    #[serde(default)]
    expr: String,
    #[serde(default)]
    ref_id: String,
    datasource: Option<Value>,
}

/// One dashboard file: its static check and its queries.
pub(super) struct Dashboard {
    pub(super) file: String,
    pub(super) title: String,
    pub(super) check: Result<String>,
    pub(super) queries: Vec<Query>,
    pub(super) variables: Vec<Query>,
}

/// Every `*.json` in the dashboards folder, by name.
pub(super) fn load_dashboards() -> Result<Vec<Dashboard>> {
    let mut files: Vec<_> = std::fs::read_dir(DASHBOARDS)
        .with_context(|| format!("reading {DASHBOARDS}"))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no dashboards in {DASHBOARDS}");
    }
    Ok(files
        .iter()
        .map(|p| load_dashboard(&p.file_name().unwrap_or_default().to_string_lossy(), p))
        .collect())
}

/// Whether a data source is the `datasource` variable.
fn is_variable(ds: Option<&Value>) -> bool {
    let uid = ds.and_then(|d| d.as_str().or_else(|| d.get("uid")?.as_str()));
    matches!(uid, Some("$datasource" | "${datasource}"))
}

fn load_dashboard(file: &str, path: &std::path::Path) -> Dashboard {
    let mut d = Dashboard {
        file: file.to_string(),
        title: String::new(),
        check: Ok(String::new()),
        queries: Vec::new(),
        variables: Vec::new(),
    };
    let json: DashboardJson = match std::fs::read_to_string(path)
        .map_err(anyhow::Error::from)
        .and_then(|t| Ok(serde_json::from_str(&t)?))
    {
        Ok(j) => j,
        Err(e) => {
            d.check = Err(anyhow!("not a dashboard: {e}"));
            return d;
        }
    };
    let mut p = Vec::new();
    if json.title.is_empty() || json.uid.is_empty() {
        p.push("needs a title and a uid".to_string());
    }
    let vars = &json.templating.list;
    if !vars
        .iter()
        .any(|v| v.kind == "datasource" && v.name == "datasource" && v.query == "prometheus")
    {
        p.push("no `datasource` variable of type prometheus".into());
    }
    for v in vars.iter().filter(|v| v.kind == "query") {
        if !is_variable(v.datasource.as_ref()) {
            p.push(format!(
                "variable {}: data source is not $datasource",
                v.name
            ));
        }
        match v
            .query
            .as_str()
            .or_else(|| v.query.get("query")?.as_str())
            .filter(|q| !q.is_empty())
        {
            Some(q) => d
                .variables
                .push(Query::new(format!("{file}: variable ${}", v.name), q)),
            None => p.push(format!("variable {}: no query", v.name)),
        }
    }
    let panels: Vec<&Panel> = json
        .panels
        .iter()
        .flat_map(|p| std::iter::once(p).chain(&p.panels))
        .collect();
    let mut ids = BTreeSet::new();
    p.extend(
        panels
            .iter()
            .filter_map(|x| x.id)
            .filter(|id| !ids.insert(*id))
            .map(|id| format!("panel id {id} used twice")),
    );
    let panels: Vec<&&Panel> = panels
        .iter()
        .filter(|x| x.kind != "row" && x.kind != "text")
        .collect();
    for panel in &panels {
        panel_queries(panel, file, &mut d.queries, &mut p);
    }
    d.title = json.title;
    let detail = format!(
        "\"{}\", {} panels, {} queries, {} variables",
        d.title,
        panels.len(),
        d.queries.len(),
        vars.len()
    );
    d.check = outcome(p, || detail);
    d
}

/// One panel's data source and queries.
fn panel_queries(panel: &Panel, file: &str, queries: &mut Vec<Query>, p: &mut Vec<String>) {
    let title = &panel.title;
    if !is_variable(panel.datasource.as_ref()) {
        p.push(format!("panel \"{title}\": data source is not $datasource"));
    }
    for t in &panel.targets {
        if t.expr.trim().is_empty() {
            p.push(format!("panel \"{title}\" {}: empty query", t.ref_id));
            continue;
        }
        if !is_variable(t.datasource.as_ref()) {
            p.push(format!(
                "panel \"{title}\" {}: data source is not $datasource",
                t.ref_id
            ));
        }
        queries.push(Query::new(
            format!("{file}: \"{title}\" {}", t.ref_id),
            t.expr.trim(),
        ));
    }
    if panel.targets.iter().all(|t| t.expr.trim().is_empty()) {
        p.push(format!("panel \"{title}\" has no query"));
    }
}

/// The dashboards include "LLM serving" and one that only uses llama.cpp's series.
pub(super) fn dashboard_titles(dashboards: &[Dashboard]) -> Result<String> {
    let titles: Vec<&str> = dashboards.iter().map(|d| d.title.as_str()).collect();
    if !titles.contains(&"LLM serving") {
        bail!("no dashboard titled \"LLM serving\" (have {titles:?})");
    }
    let llamacpp = dashboards
        .iter()
        .find(|d| !d.queries.is_empty() && d.queries.iter().all(|q| q.expr.contains("llamacpp:")));
    match llamacpp {
        Some(d) => Ok(format!(
            "\"LLM serving\", \"{}\" (llamacpp:* only)",
            d.title
        )),
        None => bail!("no dashboard that only uses llamacpp:* series"),
    }
}

/// Prometheus and Jaeger data sources with fixed uids, linked both ways (trace → metrics,
/// exemplar → trace).
pub(super) fn check_datasources(ds: &Datasources) -> Result<String> {
    let by_type = |t: &str| {
        ds.datasources
            .iter()
            .find(|d| d.kind == t)
            .ok_or_else(|| anyhow!("no {t} data source"))
    };
    let (prom, jaeger) = (by_type("prometheus")?, by_type("jaeger")?);
    let mut p = Vec::new();
    if prom.uid.is_none() || jaeger.uid.is_none() {
        p.push("data sources need fixed uids".to_string());
    }
    match &jaeger.json_data.traces_to_metrics {
        Some(t) if t.datasource_uid == prom.uid && !t.queries.is_empty() => {}
        _ => p.push("Jaeger's tracesToMetrics needs queries on the Prometheus uid".into()),
    }
    let exemplar = prom.json_data.exemplar_trace_id_destinations.first();
    if exemplar.is_none_or(|e| e.datasource_uid != jaeger.uid) {
        p.push("Prometheus' exemplar links do not point at the Jaeger uid".into());
    }
    outcome(p, || format!("{:?} ↔ {:?}", prom.uid, jaeger.uid))
}

/// The trace-to-metrics queries, with `$__tags` as Grafana fills it in for a llama-server span.
pub(super) fn datasource_queries(ds: &Datasources) -> Vec<Query> {
    let t2m = ds
        .datasources
        .iter()
        .filter_map(|d| d.json_data.traces_to_metrics.as_ref());
    t2m.flat_map(|t| &t.queries)
        .map(|q| {
            let expr = q
                .query
                .replace("$$", "$")
                .replace("$__tags", "job=\"llama-server\"");
            Query::new(format!("trace-to-metrics query \"{}\"", q.name), &expr)
        })
        .collect()
}
