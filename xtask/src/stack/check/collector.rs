//! The OpenTelemetry Collector's config: its components exist in the pinned contrib release and
//! its pipelines are complete.

use super::compose_file::ComposeFile;
use super::dockerfile::dockerfile_froms;
use anyhow::{anyhow, bail, Result};
use serde_json::Value;
use std::collections::BTreeSet;

/// The contrib release `CONTRIB_*` lists are taken from; the compose file must pin this one.
const CONTRIB_VERSION: &str = "0.116.0";

/// Component types of otelcol-contrib 0.116.0 (its manifest, `distributions/otelcol-contrib/
/// manifest.yaml` in opentelemetry-collector-releases), the commonly used part. `logging` is not
/// here: the exporter was removed in 0.111.0 (use `debug`).
const CONTRIB_RECEIVERS: &[&str] = &[
    "otlp",
    "prometheus",
    "prometheus_simple",
    "hostmetrics",
    "filelog",
    "jaeger",
    "zipkin",
    "kafka",
    "kafkametrics",
    "k8s_cluster",
    "k8s_events",
    "k8sobjects",
    "kubeletstats",
    "docker_stats",
    "statsd",
    "carbon",
    "collectd",
    "fluentforward",
    "journald",
    "syslog",
    "tcplog",
    "udplog",
    "otlpjsonfile",
    "receiver_creator",
    "sqlquery",
    "postgresql",
    "mysql",
    "redis",
    "mongodb",
    "nginx",
    "apache",
    "elasticsearch",
    "jmx",
    "haproxy",
    "httpcheck",
    "influxdb",
    "memcached",
    "rabbitmq",
    "sqlserver",
    "opencensus",
    "skywalking",
    "signalfx",
    "splunk_hec",
    "awsxray",
    "googlecloudpubsub",
    "azureeventhub",
    "datadog",
    "loki",
    "zookeeper",
    "nsxt",
    "podman_stats",
];
const CONTRIB_PROCESSORS: &[&str] = &[
    "memory_limiter",
    "batch",
    "attributes",
    "resource",
    "resourcedetection",
    "filter",
    "transform",
    "k8sattributes",
    "tail_sampling",
    "probabilistic_sampler",
    "span",
    "groupbyattrs",
    "groupbytrace",
    "metricstransform",
    "cumulativetodelta",
    "deltatorate",
    "redaction",
    "routing",
    "metricsgeneration",
    "interval",
    "logdedup",
    "remotetap",
    "schema",
    "sumologic",
];
const CONTRIB_EXPORTERS: &[&str] = &[
    "otlp",
    "otlphttp",
    "debug",
    "nop",
    "prometheus",
    "prometheusremotewrite",
    "file",
    "kafka",
    "loadbalancing",
    "loki",
    "elasticsearch",
    "opensearch",
    "clickhouse",
    "zipkin",
    "datadog",
    "splunk_hec",
    "signalfx",
    "awsxray",
    "awsemf",
    "googlecloud",
    "googlemanagedprometheus",
    "azuremonitor",
    "influxdb",
    "sapm",
    "carbon",
    "kinetica",
    "opencensus",
    "otelarrow",
];
const CONTRIB_CONNECTORS: &[&str] = &[
    "spanmetrics",
    "servicegraph",
    "count",
    "forward",
    "routing",
    "failover",
    "roundrobin",
    "exceptions",
    "sum",
    "grafanacloud",
    "datadog",
    "otlpjson",
    "signaltometrics",
];
const CONTRIB_EXTENSIONS: &[&str] = &[
    "health_check",
    "healthcheckv2",
    "pprof",
    "zpages",
    "file_storage",
    "basicauth",
    "bearertokenauth",
    "oauth2client",
    "oidc",
    "headers_setter",
    "memory_limiter",
    "k8s_observer",
    "docker_observer",
    "host_observer",
    "sigv4auth",
    "jaegerremotesampling",
];

/// Sections of a collector config and the known component types of each.
const SECTIONS: [(&str, &[&str]); 5] = [
    ("receivers", CONTRIB_RECEIVERS),
    ("processors", CONTRIB_PROCESSORS),
    ("exporters", CONTRIB_EXPORTERS),
    ("connectors", CONTRIB_CONNECTORS),
    ("extensions", CONTRIB_EXTENSIONS),
];

/// The component ids (`type[/name]`) defined in `section`.
fn component_ids(config: &Value, section: &str) -> BTreeSet<String> {
    config
        .get(section)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every component type exists in the contrib release the compose file runs.
pub(super) fn check_collector_components(config: &Value, compose: &ComposeFile) -> Result<String> {
    let mut problems = Vec::new();
    // The list above belongs to one release: the one the compose file runs.
    let service = compose.service("otel-collector")?;
    let mut images: Vec<String> = service
        .get("image")
        .and_then(Value::as_str)
        .map(String::from)
        .into_iter()
        .collect();
    if let Some(inline) = service
        .pointer("/build/dockerfile_inline")
        .and_then(Value::as_str)
    {
        images = dockerfile_froms(inline);
    }
    let contrib = images
        .iter()
        .find(|i| i.contains("opentelemetry-collector-contrib"));
    match contrib {
        Some(img) if img.ends_with(&format!(":{CONTRIB_VERSION}")) => {}
        other => problems.push(format!(
            "the component list is otelcol-contrib {CONTRIB_VERSION}'s, the compose file runs {other:?}"
        )),
    }
    let mut n = 0;
    for (section, known) in SECTIONS {
        for id in component_ids(config, section) {
            n += 1;
            let kind = id.split('/').next().unwrap_or("");
            if !known.contains(&kind) {
                problems.push(format!(
                    "{section}: `{kind}` ({id}) is not in otelcol-contrib {CONTRIB_VERSION}"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(format!("{n} components, contrib {CONTRIB_VERSION}"))
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// The ids a pipeline (or `service.extensions`) lists.
fn id_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The component ids a config defines, by section.
struct Defined {
    receivers: BTreeSet<String>,
    processors: BTreeSet<String>,
    exporters: BTreeSet<String>,
    connectors: BTreeSet<String>,
}

/// What the pipelines use: every id, and which connectors they export to and receive from.
#[derive(Default)]
struct Usage {
    used: BTreeSet<String>,
    connector_in: BTreeSet<String>,
    connector_out: BTreeSet<String>,
}

/// Every pipeline has defined receivers, processors and exporters; connectors join pipelines;
/// nothing is defined and unused.
pub(super) fn check_collector_pipelines(config: &Value) -> Result<String> {
    let mut problems = Vec::new();
    let defined = Defined {
        receivers: component_ids(config, "receivers"),
        processors: component_ids(config, "processors"),
        exporters: component_ids(config, "exporters"),
        connectors: component_ids(config, "connectors"),
    };
    let extensions = component_ids(config, "extensions");
    let pipelines = config
        .pointer("/service/pipelines")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("no service.pipelines"))?;
    let mut usage = Usage::default();
    for (name, p) in pipelines {
        check_pipeline(name, p, &defined, &mut usage, &mut problems);
    }
    for c in &defined.connectors {
        if !usage.connector_in.contains(c) || !usage.connector_out.contains(c) {
            problems.push(format!(
                "connector {c} must be an exporter of one pipeline and a receiver of another"
            ));
        }
    }
    for id in defined
        .receivers
        .iter()
        .chain(&defined.processors)
        .chain(&defined.exporters)
        .chain(&defined.connectors)
    {
        if !usage.used.contains(id) {
            problems.push(format!("{id} is defined but in no pipeline"));
        }
    }
    let enabled: BTreeSet<String> = id_list(config.pointer("/service/extensions"))
        .into_iter()
        .collect();
    if enabled != extensions {
        problems.push(format!(
            "extensions defined {extensions:?} but enabled {enabled:?}"
        ));
    }
    if problems.is_empty() {
        Ok(pipelines.keys().cloned().collect::<Vec<_>>().join(", "))
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// One pipeline: a known signal, defined components, memory_limiter first and batch last.
fn check_pipeline(
    name: &str,
    p: &Value,
    defined: &Defined,
    usage: &mut Usage,
    problems: &mut Vec<String>,
) {
    let signal = name.split('/').next().unwrap_or("");
    if !["traces", "metrics", "logs"].contains(&signal) {
        problems.push(format!("pipeline {name}: unknown signal"));
    }
    let (r, pr, e) = (
        id_list(p.get("receivers")),
        id_list(p.get("processors")),
        id_list(p.get("exporters")),
    );
    if r.is_empty() || e.is_empty() {
        problems.push(format!("pipeline {name}: needs receivers and exporters"));
    }
    for id in &r {
        if defined.connectors.contains(id) {
            usage.connector_in.insert(id.clone());
        } else if !defined.receivers.contains(id) {
            problems.push(format!("pipeline {name}: receiver {id} is not defined"));
        }
    }
    for id in &pr {
        if !defined.processors.contains(id) {
            problems.push(format!("pipeline {name}: processor {id} is not defined"));
        }
    }
    for id in &e {
        if defined.connectors.contains(id) {
            usage.connector_out.insert(id.clone());
        } else if !defined.exporters.contains(id) {
            problems.push(format!("pipeline {name}: exporter {id} is not defined"));
        }
    }
    // memory_limiter first (refuse data before anything else holds it), batch last.
    let kinds: Vec<&str> = pr
        .iter()
        .map(|p| p.split('/').next().unwrap_or(""))
        .collect();
    if kinds.first() != Some(&"memory_limiter") || kinds.last() != Some(&"batch") {
        problems.push(format!("pipeline {name}: processors {pr:?} should start with memory_limiter and end with batch"));
    }
    usage.used.extend(r.into_iter().chain(pr).chain(e));
}
