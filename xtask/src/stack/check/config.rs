//! The stack's YAML files as typed structs: only the fields the checks read, so a missing field
//! or a wrong type is a parse error naming the file. Compose's either-form fields (a string or a
//! list, a mapping or `KEY=value` items, short or long volumes) are untagged enums.

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Reads `path` (relative to `root`) into `T`. Through `Value` first: its mappings reject a
/// duplicate key, where a struct's map would silently keep the last one.
pub(super) fn load<T: DeserializeOwned>(root: &Path, path: &str) -> Result<T> {
    let text = std::fs::read_to_string(root.join(path));
    let text = text.with_context(|| format!("reading {path}"))?;
    let value: Value = serde_norway::from_str(&text).with_context(|| path.to_string())?;
    serde_norway::from_value(value).with_context(|| path.to_string())
}

#[derive(Deserialize)]
pub(super) struct Compose {
    pub(super) services: BTreeMap<String, Service>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Service {
    pub(super) image: Option<String>,
    pub(super) build: Option<Build>,
    pub(super) command: Either,
    pub(super) environment: Either,
    pub(super) volumes: Vec<Volume>,
    pub(super) depends_on: Either,
    /// Compose profiles the service belongs to (`gpu`): off unless asked for.
    pub(super) profiles: Vec<String>,
    /// `deploy:` as written (resources, device reservations); read by the GPU check.
    pub(super) deploy: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Build {
    pub(super) context: Option<String>,
    pub(super) dockerfile: Option<String>,
    pub(super) dockerfile_inline: Option<String>,
    pub(super) args: Either,
}

/// A string, a list of strings, or a mapping: a `command`, `environment`, build `args` or
/// `depends_on`.
#[derive(Deserialize, Default)]
#[serde(untagged)]
pub(super) enum Either {
    Line(String),
    List(Vec<String>),
    Map(BTreeMap<String, Value>),
    #[default]
    Absent,
}

impl Either {
    /// A command's words.
    pub(super) fn words(&self) -> Vec<&str> {
        match self {
            Either::Line(s) => s.split_whitespace().collect(),
            Either::List(l) => l.iter().map(String::as_str).collect(),
            Either::Map(_) | Either::Absent => Vec::new(),
        }
    }

    /// A command's `--name=value` or `--name value`.
    pub(super) fn flag(&self, name: &str) -> Option<&str> {
        let words = self.words();
        let at = words
            .iter()
            .position(|w| w.split('=').next() == Some(name))?;
        let value = words[at].split_once('=').map(|(_, v)| v);
        value.or(words.get(at + 1).copied())
    }

    /// The names in a list or the keys of a mapping (`depends_on`).
    pub(super) fn names(&self) -> Vec<&str> {
        match self {
            Either::Map(map) => map.keys().map(String::as_str).collect(),
            _ => self.words(),
        }
    }

    /// A setting, from `KEY: value` or `KEY=value`.
    pub(super) fn get(&self, key: &str) -> Option<String> {
        let Either::Map(map) = self else {
            let mut items = self.words().into_iter().filter_map(|w| w.split_once('='));
            return items.find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
        };
        Some(match map.get(key)? {
            Value::String(s) => s.clone(),
            v => serde_norway::to_string(v).ok()?.trim().to_string(),
        })
    }
}

/// A `volumes:` entry: `source:target[:mode]`, or the long form.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum Volume {
    Short(String),
    Long {
        source: Option<String>,
        target: String,
        #[serde(default)]
        read_only: bool,
    },
}

impl Volume {
    /// (source, target, read-only).
    pub(super) fn parts(&self) -> (Option<&str>, &str, bool) {
        match self {
            Volume::Long {
                source: s,
                target: t,
                read_only: ro,
            } => (s.as_deref(), t, *ro),
            Volume::Short(s) => match s.split(':').collect::<Vec<_>>()[..] {
                [src, dst, mode] => (Some(src), dst, mode.split(',').any(|m| m == "ro")),
                [src, dst] => (Some(src), dst, false),
                _ => (None, s, false),
            },
        }
    }
}

/// The OpenTelemetry Collector's config: components by id (`otlp`, `otlp/jaeger`; `batch:`
/// alone has no settings) and the pipelines.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Collector {
    pub(super) extensions: Components,
    pub(super) receivers: Components,
    pub(super) processors: Components,
    pub(super) exporters: Components,
    pub(super) connectors: Components,
    pub(super) service: Pipelines,
}

pub(super) type Components = BTreeMap<String, Option<Component>>;

/// Where a component listens or sends; a tail sampler's policies.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Component {
    pub(super) endpoint: Option<String>,
    pub(super) protocols: Components,
    pub(super) policies: Vec<Policy>,
}

/// A `tail_sampling` policy: only the latency policy's threshold is checked.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Policy {
    pub(super) name: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) latency: Option<Latency>,
}

#[derive(Deserialize)]
pub(super) struct Latency {
    pub(super) threshold_ms: u64,
}

/// Loki's config: where it listens and whether it keeps OTLP's structured metadata.
#[derive(Deserialize)]
pub(super) struct Loki {
    pub(super) server: LokiServer,
    pub(super) limits_config: LokiLimits,
}

#[derive(Deserialize)]
pub(super) struct LokiServer {
    pub(super) http_listen_port: u16,
}

#[derive(Deserialize)]
pub(super) struct LokiLimits {
    #[serde(default)]
    pub(super) allow_structured_metadata: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Pipelines {
    pub(super) extensions: Vec<String>,
    pub(super) pipelines: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// `prometheus.yml`.
#[derive(Deserialize)]
pub(super) struct Prometheus {
    #[serde(default)]
    pub(super) rule_files: Vec<String>,
    pub(super) scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Deserialize)]
pub(super) struct ScrapeConfig {
    #[serde(default)]
    pub(super) job_name: String,
    #[serde(default)]
    pub(super) static_configs: Vec<Targets>,
}

#[derive(Deserialize)]
pub(super) struct Targets {
    pub(super) targets: Vec<String>,
}

/// A Prometheus rule file.
#[derive(Deserialize)]
pub(super) struct Rules {
    pub(super) groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
pub(super) struct RuleGroup {
    pub(super) rules: Vec<Rule>,
}

#[derive(Deserialize)]
pub(super) struct Rule {
    pub(super) alert: Option<String>,
    pub(super) record: Option<String>,
    pub(super) expr: String,
}

/// Grafana's data-source provisioning.
#[derive(Deserialize)]
pub(super) struct DataSources {
    pub(super) datasources: Vec<DataSource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DataSource {
    pub(super) uid: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) url: String,
    #[serde(default)]
    pub(super) json_data: JsonData,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct JsonData {
    pub(super) traces_to_metrics: Option<TracesToMetrics>,
    pub(super) exemplar_trace_id_destinations: Vec<TracesToMetrics>,
    /// Jaeger → Loki.
    pub(super) traces_to_logs_v2: Option<TracesToMetrics>,
    /// Loki → Jaeger: a log field that opens a trace.
    pub(super) derived_fields: Vec<TracesToMetrics>,
}

/// A link to another data source (trace to metrics, exemplar to trace), with its queries.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TracesToMetrics {
    pub(super) datasource_uid: String,
    #[serde(default)]
    pub(super) queries: Vec<BTreeMap<String, String>>,
}

/// Grafana's dashboard provisioning.
#[derive(Deserialize)]
pub(super) struct Providers {
    pub(super) providers: Vec<Provider>,
}

#[derive(Deserialize)]
pub(super) struct Provider {
    pub(super) options: ProviderOptions,
}

#[derive(Deserialize)]
pub(super) struct ProviderOptions {
    pub(super) path: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn either_forms_read() {
        let text = "services: {s: {command: [--port=80, --host, h], environment: [K=v], \
                    volumes: [../m:/m:ro, {type: bind, source: ., target: /t}]}}";
        let s = &serde_norway::from_str::<Compose>(text).unwrap().services["s"];
        let flags = [s.command.flag("--port"), s.command.flag("--host")];
        assert_eq!(flags, [Some("80"), Some("h")]);
        assert_eq!(s.environment.get("K").as_deref(), Some("v"));
        assert_eq!(s.volumes[0].parts(), (Some("../m"), "/m", true));
        assert_eq!(s.volumes[1].parts(), (Some("."), "/t", false));
    }
}
