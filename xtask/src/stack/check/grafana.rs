//! Grafana's queries: each dashboard's panels and variables (every one on the `$datasource`
//! variable) and the trace-to-metrics queries of the data sources.

use super::config::Doc;
use super::outcome;
use super::promql::Query;
use crate::stack::files::DASHBOARDS;
use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::path::Path;

/// One dashboard file: its check and its queries.
pub(super) struct Dashboard {
    pub(super) file: String,
    pub(super) check: Result<String>,
    pub(super) queries: Vec<Query>,
    pub(super) variables: Vec<Query>,
}

/// Every `*.json` in the dashboards folder, by name.
pub(super) fn load_dashboards() -> Result<Vec<Dashboard>> {
    let entries = std::fs::read_dir(DASHBOARDS).with_context(|| format!("reading {DASHBOARDS}"))?;
    let mut files: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    Ok(files.iter().map(|p| dashboard(p)).collect())
}

/// Whether a data source is the `datasource` variable.
fn on_variable(item: &Value) -> bool {
    let ds = &item["datasource"];
    let uid = ds.as_str().or(ds["uid"].as_str());
    matches!(uid, Some("$datasource" | "${datasource}"))
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn dashboard(path: &Path) -> Dashboard {
    let file = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let (mut queries, mut variables, mut p) = (Vec::new(), Vec::new(), Vec::new());
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let json: Value = match serde_json::from_str(&text) {
        Ok(json) => json,
        Err(e) => {
            let check = Err(anyhow!("not JSON: {e}"));
            return Dashboard {
                file,
                check,
                queries,
                variables,
            };
        }
    };
    let title = json["title"].as_str().unwrap_or("");
    if title.is_empty() || json["uid"].as_str().is_none_or(str::is_empty) {
        p.push("needs a title and a uid".to_string());
    }
    let vars = list(&json["templating"]["list"]);
    let ds_var = |v: &&Value| v["type"] == "datasource" && v["query"] == "prometheus";
    if !vars.iter().any(|v| ds_var(&v) && v["name"] == "datasource") {
        p.push("no `datasource` variable of type prometheus".into());
    }
    for v in vars.iter().filter(|v| v["type"] == "query") {
        let query = v["query"]
            .as_str()
            .or(v["query"]["query"].as_str())
            .unwrap_or("");
        if !on_variable(v) || query.is_empty() {
            p.push(format!(
                "variable {}: needs a query on $datasource",
                v["name"]
            ));
        }
        variables.push(Query::new(
            format!("{file}: variable ${}", v["name"]),
            query,
        ));
    }
    let top = list(&json["panels"]).iter();
    let panels = top.flat_map(|p| std::iter::once(p).chain(list(&p["panels"])));
    let panels: Vec<&Value> = panels
        .filter(|x| x["type"] != "row" && x["type"] != "text")
        .collect();
    for panel in &panels {
        let targets = list(&panel["targets"]).iter();
        let targets: Vec<&Value> = targets
            .filter(|t| t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()))
            .collect();
        if targets.is_empty() || !on_variable(panel) || !targets.iter().all(|t| on_variable(t)) {
            p.push(format!(
                "panel {}: needs queries on $datasource",
                panel["title"]
            ));
        }
        for t in targets {
            let source = format!("{file}: {} {}", panel["title"], t["refId"]);
            queries.push(Query::new(source, t["expr"].as_str().unwrap_or("").trim()));
        }
    }
    let (n, q, v) = (panels.len(), queries.len(), vars.len());
    let check = outcome(p, || {
        format!("\"{title}\", {n} panels, {q} queries, {v} variables")
    });
    Dashboard {
        file,
        check,
        queries,
        variables,
    }
}

/// The trace-to-metrics queries, with `$__tags` as Grafana fills it in for a llama-server span.
pub(super) fn datasource_queries(ds: &serde_norway::Value) -> Vec<Query> {
    let sources = ds.items("datasources");
    let queries = sources
        .iter()
        .flat_map(|d| d.items("jsonData.tracesToMetrics.queries"));
    let expr = |q: &str| {
        q.replace("$$", "$")
            .replace("$__tags", "job=\"llama-server\"")
    };
    let query = |q: &serde_norway::Value| {
        let source = format!(
            "trace-to-metrics query \"{}\"",
            q.text("name").unwrap_or("?")
        );
        Query::new(source, &expr(q.text("query").unwrap_or("")))
    };
    queries.map(query).collect()
}
