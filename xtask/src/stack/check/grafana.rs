//! Grafana's queries: every dashboard's panels (inside rows too) and query variables, each on
//! the `$datasource` variable, and the data sources' trace-to-metrics queries.

use super::config::DataSources;
use super::promql::{variable_query, Query};
use super::{outcome, Report};
use crate::stack::files::DASHBOARDS;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The fields of a dashboard JSON the checks read.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Dashboard {
    title: String,
    uid: String,
    panels: Vec<Panel>,
    templating: Templating,
}

#[derive(Deserialize, Default)]
struct Templating {
    list: Vec<Variable>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Variable {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    query: Text,
    datasource: Text,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Panel {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    datasource: Text,
    targets: Vec<Target>,
    panels: Vec<Panel>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Target {
    ref_id: String,
    expr: String,
    datasource: Text,
    exemplar: bool,
}

/// A time-series query over a latency histogram's buckets must ask for exemplars: the server
/// attaches the trace of a request to each bucket, and Grafana links the dots to Jaeger.
fn lacks_exemplars(panel: &Panel, t: &Target) -> bool {
    panel.kind == "timeseries" && t.expr.contains("_seconds_bucket") && !t.exemplar
}

/// A string, or an object holding it: a variable's `{"query": ..}`, a data source's `{"uid": ..}`.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Text {
    Plain(String),
    Query {
        query: String,
    },
    Uid {
        uid: String,
    },
    #[default]
    #[serde(skip)]
    Absent,
}

impl Text {
    fn text(&self) -> &str {
        match self {
            Text::Plain(s) | Text::Query { query: s } | Text::Uid { uid: s } => s,
            Text::Absent => "",
        }
    }

    fn is_variable(&self) -> bool {
        matches!(self.text(), "$datasource" | "${datasource}")
    }
}

/// Every panel, the panels of collapsed rows included.
fn walk<'a>(panels: &'a [Panel], out: &mut Vec<&'a Panel>) {
    for panel in panels {
        out.push(panel);
        walk(&panel.panels, out);
    }
}

/// Checks one dashboard and adds its queries: the panels', and its query variables' as series
/// queries.
fn dashboard(file: &str, text: &str, queries: &mut Vec<Query>) -> Result<String> {
    let d: Dashboard = serde_json::from_str(text).context("not a Grafana dashboard")?;
    let mut p = Vec::new();
    if d.title.is_empty() || d.uid.is_empty() {
        p.push("needs a title and a uid".to_string());
    }
    let variables = &d.templating.list;
    let prometheus = |v: &Variable| v.kind == "datasource" && v.query.text() == "prometheus";
    if !variables
        .iter()
        .any(|v| prometheus(v) && v.name == "datasource")
    {
        p.push("no `datasource` variable of type prometheus".into());
    }
    let before = queries.len();
    for v in variables.iter().filter(|v| v.kind == "query") {
        let (name, query) = (&v.name, variable_query(v.query.text()));
        match query.filter(|_| v.datasource.is_variable()) {
            Some(q) => queries.push(Query::new(format!("{file}: variable ${name}"), &q)),
            None => p.push(format!(
                "variable {name}: needs label_values() on $datasource"
            )),
        }
    }
    let mut panels = Vec::new();
    walk(&d.panels, &mut panels);
    panels.retain(|x| x.kind != "row" && x.kind != "text");
    for panel in &panels {
        let targets = panel.targets.iter().filter(|t| !t.expr.trim().is_empty());
        let targets: Vec<_> = targets.collect();
        let on_variable = targets.iter().all(|t| t.datasource.is_variable());
        if targets.is_empty() || !panel.datasource.is_variable() || !on_variable {
            let title = &panel.title;
            p.push(format!("panel {title:?}: needs queries on $datasource"));
        }
        for t in targets {
            if lacks_exemplars(panel, t) {
                let title = &panel.title;
                p.push(format!(
                    "panel {title:?} {}: latency query without exemplars",
                    t.ref_id
                ));
            }
            let source = format!("{file}: {} {}", panel.title, t.ref_id);
            queries.push(Query::new(source, t.expr.trim()));
        }
    }
    let (n, q) = (panels.len(), queries.len() - before);
    outcome(p, || format!("\"{}\", {n} panels, {q} queries", d.title))
}

/// Checks every `*.json` in the dashboards folder (by name), collecting their queries.
pub(super) fn dashboards(root: &Path, report: &mut Report, queries: &mut Vec<Query>) -> Result<()> {
    let dir = std::fs::read_dir(root.join(DASHBOARDS)).context(DASHBOARDS)?;
    let mut files: Vec<_> = dir.filter_map(|e| Some(e.ok()?.path())).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    for path in files {
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {file}"));
        let check = text.and_then(|t| dashboard(&file, &t, queries));
        report.record(&format!("dashboard {file}"), check);
    }
    Ok(())
}

/// The trace-to-metrics queries, with `$__tags` as Grafana fills it in for a llama-server span.
pub(super) fn datasource_queries(ds: &DataSources) -> Vec<Query> {
    let t2m = ds
        .datasources
        .iter()
        .filter_map(|d| d.json_data.traces_to_metrics.as_ref());
    let query = |q: &BTreeMap<String, String>| {
        let field = |key| q.get(key).map_or("", String::as_str);
        let expr = field("query")
            .replace("$$", "$")
            .replace("$__tags", "job=\"llama-server\"");
        Query::new(
            format!("trace-to-metrics query \"{}\"", field("name")),
            &expr,
        )
    };
    t2m.flat_map(|t| &t.queries).map(query).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_inside_rows_are_read() {
        let ds = r#""datasource": "$datasource""#;
        let var = r#"{"type": "datasource", "name": "datasource", "query": "prometheus"}"#;
        let panel = format!(
            r#"{{"type": "stat", "title": "p", {ds}, "targets": [{{"expr": "up", {ds}}}]}}"#
        );
        let text = format!(
            r#"{{"title": "t", "uid": "u", "templating": {{"list": [{var}]}},
                "panels": [{{"type": "row", "panels": [{panel}]}}]}}"#
        );
        let mut queries = Vec::new();
        let found = dashboard("d", &text, &mut queries).unwrap();
        assert_eq!(
            (found.as_str(), queries[0].expr.as_str()),
            ("\"t\", 1 panels, 1 queries", "up")
        );
    }

    #[test]
    fn latency_time_series_must_ask_for_exemplars() {
        let ds = r#""datasource": "$datasource""#;
        let var = r#"{"type": "datasource", "name": "datasource", "query": "prometheus"}"#;
        let expr = "histogram_quantile(0.9, sum by (le) (rate(x_seconds_bucket[1m])))";
        let text = |exemplar: bool| {
            let target =
                format!(r#"{{"refId": "A", "expr": "{expr}", "exemplar": {exemplar}, {ds}}}"#);
            let panel =
                format!(r#"{{"type": "timeseries", "title": "p", {ds}, "targets": [{target}]}}"#);
            format!(
                r#"{{"title": "t", "uid": "u", "templating": {{"list": [{var}]}}, "panels": [{panel}]}}"#
            )
        };
        assert!(dashboard("d", &text(true), &mut Vec::new()).is_ok());
        let err = dashboard("d", &text(false), &mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("latency query without exemplars"),
            "{err}"
        );
    }
}
