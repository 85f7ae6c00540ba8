//! The stack's YAML files as typed values (serde_norway), with the parts the checks read.

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;

/// Parses `text` (from `path`), rejecting duplicate keys anywhere.
pub(super) fn parse<T: DeserializeOwned>(path: &str, text: &str) -> Result<T> {
    // Through `Value` first: its mappings reject a duplicate key, where a typed map would let
    // the last one win silently.
    let value: Value = serde_norway::from_str(text).with_context(|| path.to_string())?;
    serde_norway::from_value(value).with_context(|| path.to_string())
}

/// Reads and parses the file at `path` (relative to the workspace root).
pub(super) fn load<T: DeserializeOwned>(path: &str) -> Result<T> {
    parse(
        path,
        &std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
    )
}

/// A string or a list of strings (a compose `command`, a healthcheck `test`).
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub(super) enum Words {
    #[default]
    None,
    One(String),
    List(Vec<String>),
}

impl Words {
    pub(super) fn words(&self) -> Vec<String> {
        match self {
            Words::None => Vec::new(),
            Words::One(s) => s.split_whitespace().map(String::from).collect(),
            Words::List(l) => l.clone(),
        }
    }

    /// `--name=value` or `--name value`.
    pub(super) fn flag(&self, name: &str) -> Option<String> {
        let words = self.words();
        let prefix = format!("{name}=");
        let at = words
            .iter()
            .position(|w| w == name || w.starts_with(&prefix))?;
        match words[at].strip_prefix(&prefix) {
            Some(v) => Some(v.to_string()),
            None => words.get(at + 1).cloned(),
        }
    }
}

/// A mapping or a list of names / `KEY=value` (compose `environment`, `depends_on`).
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub(super) enum Entries {
    #[default]
    None,
    Mapping(BTreeMap<String, Value>),
    List(Vec<String>),
}

impl Entries {
    pub(super) fn get(&self, key: &str) -> Option<String> {
        match self {
            Entries::None => None,
            Entries::Mapping(m) => m.get(key).map(|v| match v {
                Value::String(s) => s.clone(),
                other => serde_norway::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            }),
            Entries::List(l) => l.iter().find_map(|item| match item.split_once('=') {
                Some((k, v)) if k == key => Some(v.to_string()),
                None if item == key => Some(String::new()),
                _ => None,
            }),
        }
    }

    pub(super) fn keys(&self) -> Vec<String> {
        match self {
            Entries::None => Vec::new(),
            Entries::Mapping(m) => m.keys().cloned().collect(),
            Entries::List(l) => l
                .iter()
                .map(|i| i.split('=').next().unwrap_or(i).to_string())
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Compose {
    pub(super) services: BTreeMap<String, Service>,
    #[serde(default)]
    pub(super) volumes: BTreeMap<String, Option<Value>>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Service {
    pub(super) image: Option<String>,
    pub(super) build: Option<Build>,
    #[serde(default)]
    pub(super) command: Words,
    #[serde(default)]
    pub(super) environment: Entries,
    #[serde(default)]
    pub(super) depends_on: Entries,
    #[serde(default)]
    pub(super) volumes: Vec<Value>,
    #[serde(default)]
    pub(super) ports: Vec<Value>,
    pub(super) healthcheck: Option<Healthcheck>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Build {
    pub(super) context: Option<String>,
    pub(super) dockerfile: Option<String>,
    pub(super) dockerfile_inline: Option<String>,
    #[serde(default)]
    pub(super) args: Entries,
}

#[derive(Debug, Deserialize)]
pub(super) struct Healthcheck {
    #[serde(default)]
    pub(super) test: Words,
    pub(super) interval: Option<String>,
    pub(super) retries: Option<u32>,
    #[serde(default)]
    pub(super) disable: bool,
}

/// The OpenTelemetry Collector's config: component ids by section, and the pipelines.
#[derive(Debug, Deserialize)]
pub(super) struct Collector {
    #[serde(default)]
    pub(super) receivers: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) processors: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) exporters: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) connectors: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) extensions: BTreeMap<String, Value>,
    pub(super) service: CollectorService,
}

#[derive(Debug, Deserialize)]
pub(super) struct CollectorService {
    #[serde(default)]
    pub(super) extensions: Vec<String>,
    pub(super) pipelines: BTreeMap<String, Pipeline>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Pipeline {
    #[serde(default)]
    pub(super) receivers: Vec<String>,
    #[serde(default)]
    pub(super) processors: Vec<String>,
    #[serde(default)]
    pub(super) exporters: Vec<String>,
}

/// The string at `path` (mapping keys) inside `v`.
pub(super) fn at<'a>(v: Option<&'a Value>, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v?, |v, k| v.get(*k))?.as_str()
}

/// Prometheus' config.
#[derive(Debug, Deserialize)]
pub(super) struct PromConfig {
    #[serde(default)]
    pub(super) rule_files: Vec<String>,
    #[serde(default)]
    pub(super) scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ScrapeConfig {
    #[serde(default)]
    pub(super) static_configs: Vec<StaticConfig>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StaticConfig {
    pub(super) targets: Vec<String>,
}

/// Prometheus' rule file.
#[derive(Debug, Deserialize)]
pub(super) struct Rules {
    pub(super) groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RuleGroup {
    pub(super) rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Rule {
    pub(super) alert: Option<String>,
    pub(super) record: Option<String>,
    pub(super) expr: String,
    #[serde(rename = "for")]
    pub(super) for_: Option<String>,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) annotations: BTreeMap<String, String>,
}

/// Grafana's data-source provisioning.
#[derive(Debug, Deserialize)]
pub(super) struct Datasources {
    pub(super) datasources: Vec<Datasource>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Datasource {
    pub(super) uid: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) url: String,
    #[serde(default)]
    pub(super) json_data: JsonData,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct JsonData {
    pub(super) traces_to_metrics: Option<TracesToMetrics>,
    #[serde(default)]
    pub(super) exemplar_trace_id_destinations: Vec<Link>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TracesToMetrics {
    pub(super) datasource_uid: Option<String>,
    #[serde(default)]
    pub(super) queries: Vec<NamedQuery>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Link {
    pub(super) datasource_uid: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct NamedQuery {
    pub(super) name: String,
    pub(super) query: String,
}

/// Grafana's dashboard provisioning.
#[derive(Debug, Deserialize)]
pub(super) struct Providers {
    pub(super) providers: Vec<Provider>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Provider {
    pub(super) options: ProviderOptions,
}

#[derive(Debug, Deserialize)]
pub(super) struct ProviderOptions {
    pub(super) path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_and_forms_read() {
        let dup = "services:\n  a: {image: x}\n  a: {image: y}\n";
        assert!(parse::<Compose>("c", dup).is_err());
        let c: Compose = parse(
            "c",
            "services:\n  a:\n    command: [\"--port=80\", --host, h]\n    environment: [K=v, E]\n",
        )
        .unwrap();
        let a = &c.services["a"];
        assert_eq!(a.command.flag("--port").as_deref(), Some("80"));
        assert_eq!(a.command.flag("--host").as_deref(), Some("h"));
        assert_eq!(a.environment.get("K").as_deref(), Some("v"));
        assert_eq!(a.environment.keys(), ["K", "E"]);
    }
}
