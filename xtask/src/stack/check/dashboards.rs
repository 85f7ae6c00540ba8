//! Grafana's dashboards: each file's static check (title, uid, `$datasource` everywhere, a query
//! in every panel) and the queries and variables to evaluate.

use super::promql::Query;
use crate::stack::files::DASHBOARDS;
use anyhow::{bail, Result};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One dashboard file: its static check and its queries.
pub(super) struct Dashboard {
    pub(super) file: String,
    pub(super) title: String,
    pub(super) check: std::result::Result<String, String>,
    pub(super) queries: Vec<Query>,
    pub(super) variables: Vec<Query>,
}

/// Every `*.json` in the dashboards folder, by name.
pub(super) fn load_dashboards() -> Vec<Dashboard> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DASHBOARDS)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    if files.is_empty() {
        return vec![Dashboard {
            file: DASHBOARDS.into(),
            title: String::new(),
            check: Err("no dashboards".into()),
            queries: Vec::new(),
            variables: Vec::new(),
        }];
    }
    files.iter().map(|p| load_dashboard(p)).collect()
}

/// Whether a panel or target data source is the `datasource` variable.
fn is_datasource_variable(ds: Option<&Value>) -> bool {
    let uid = match ds {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => o.get("uid").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    matches!(uid, "$datasource" | "${datasource}")
}

fn load_dashboard(path: &Path) -> Dashboard {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut d = Dashboard {
        file: file.clone(),
        title: String::new(),
        check: Ok(String::new()),
        queries: Vec::new(),
        variables: Vec::new(),
    };
    let parsed: Result<Value> = std::fs::read_to_string(path)
        .map_err(anyhow::Error::from)
        .and_then(|t| serde_json::from_str(&t).map_err(anyhow::Error::from));
    let json = match parsed {
        Ok(j) => j,
        Err(e) => {
            d.check = Err(format!("not valid JSON: {e}"));
            return d;
        }
    };
    let mut problems = Vec::new();
    d.title = json
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if d.title.is_empty()
        || json
            .get("uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        problems.push("needs a title and a uid".to_string());
    }
    let n_vars = check_variables(&json, &file, &mut d.variables, &mut problems);
    let n_panels = check_panels(&json, &file, &mut d.queries, &mut problems);
    d.check = if problems.is_empty() {
        Ok(format!(
            "\"{}\", {n_panels} panels, {} queries, {n_vars} variables",
            d.title,
            d.queries.len(),
        ))
    } else {
        Err(problems.join("; "))
    };
    d
}

/// A `datasource` variable of type prometheus, and query variables on it (collected into
/// `variables`); returns the number of variables.
fn check_variables(
    json: &Value,
    file: &str,
    variables: &mut Vec<Query>,
    problems: &mut Vec<String>,
) -> usize {
    let vars: Vec<&Value> = json
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let ds_var = vars.iter().any(|v| {
        v.get("type").and_then(Value::as_str) == Some("datasource")
            && v.get("name").and_then(Value::as_str) == Some("datasource")
            && v.get("query").and_then(Value::as_str) == Some("prometheus")
    });
    if !ds_var {
        problems.push("no `datasource` variable of type prometheus".into());
    }
    for v in &vars {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
        if v.get("type").and_then(Value::as_str) != Some("query") {
            continue;
        }
        if !is_datasource_variable(v.get("datasource")) {
            problems.push(format!("variable {name}: data source is not $datasource"));
        }
        let q = match v.get("query") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        if q.is_empty() {
            problems.push(format!("variable {name}: no query"));
        } else {
            variables.push(Query {
                source: format!("{file}: variable ${name}"),
                expr: q,
            });
        }
    }
    vars.len()
}

/// Unique panel ids, and each panel but rows and text on `$datasource` with queries (collected
/// into `queries`); returns the number of such panels.
fn check_panels(
    json: &Value,
    file: &str,
    queries: &mut Vec<Query>,
    problems: &mut Vec<String>,
) -> usize {
    // Panels, including those nested in rows.
    let mut panels: Vec<&Value> = Vec::new();
    for p in json
        .get("panels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        panels.push(p);
        panels.extend(
            p.get("panels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    let mut ids = BTreeSet::new();
    let mut n_panels = 0;
    for p in panels {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(id) = p.get("id").and_then(Value::as_u64) {
            if !ids.insert(id) {
                problems.push(format!("panel id {id} used twice"));
            }
        }
        if kind == "row" || kind == "text" {
            continue;
        }
        n_panels += 1;
        check_panel(p, file, queries, problems);
    }
    n_panels
}

/// One panel's data source and targets.
fn check_panel(p: &Value, file: &str, queries: &mut Vec<Query>, problems: &mut Vec<String>) {
    let title = p.get("title").and_then(Value::as_str).unwrap_or("?");
    if !is_datasource_variable(p.get("datasource")) {
        problems.push(format!("panel \"{title}\": data source is not $datasource"));
    }
    let mut any = false;
    for t in p
        .get("targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let expr = t.get("expr").and_then(Value::as_str).unwrap_or("").trim();
        let ref_id = t.get("refId").and_then(Value::as_str).unwrap_or("?");
        if expr.is_empty() {
            problems.push(format!("panel \"{title}\" {ref_id}: empty query"));
            continue;
        }
        any = true;
        if !is_datasource_variable(t.get("datasource")) {
            problems.push(format!(
                "panel \"{title}\" {ref_id}: data source is not $datasource"
            ));
        }
        queries.push(Query {
            source: format!("{file}: \"{title}\" {ref_id}"),
            expr: expr.to_string(),
        });
    }
    if !any {
        problems.push(format!("panel \"{title}\" has no query"));
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
        .find(|d| d.queries.iter().all(|q| q.expr.contains("llamacpp:")) && !d.queries.is_empty());
    match llamacpp {
        Some(d) => Ok(format!(
            "\"LLM serving\", \"{}\" (llamacpp:* only)",
            d.title
        )),
        None => bail!("no dashboard that only uses llamacpp:* series"),
    }
}
