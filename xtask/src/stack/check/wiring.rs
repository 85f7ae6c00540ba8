//! Who talks to whom across the stack's files — no tool checks this: the names and ports in the
//! compose file match the collector's config, Prometheus' config and rules, Grafana's
//! provisioning and data sources. Also the collector's pipelines, for where
//! `otelcol-contrib validate` is not installed.

use super::compose::{mount_of, normalize};
use super::config::{at, Collector, Compose, Datasources, PromConfig, Providers};
use super::outcome;
use crate::stack::files::{COLLECTOR, DASHBOARDS, PROM_CONFIG, SERVICES};
use anyhow::{bail, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// The parsed files the wiring spans.
pub(super) struct Stack {
    pub(super) compose: Compose,
    pub(super) collector: Collector,
    pub(super) prom: PromConfig,
    pub(super) datasources: Datasources,
    pub(super) providers: Providers,
}

/// `host:port` of a URL or address (`http://h:p/x`, `h:p`).
pub(super) fn host_port(addr: &str) -> Option<(&str, u16)> {
    let rest = addr.split_once("://").map_or(addr, |(_, r)| r);
    let (host, port) = rest.split('/').next()?.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

fn port_of(endpoint: Option<&str>) -> Option<u16> {
    host_port(endpoint?).map(|(_, p)| p)
}

impl Stack {
    /// Every wiring rule; the scrape targets, or every problem found.
    pub(super) fn wiring(&self) -> Result<String> {
        if let Some((missing, _)) = SERVICES
            .iter()
            .find(|(s, _)| !self.compose.services.contains_key(*s))
        {
            bail!("no service {missing}");
        }
        let mut p = Vec::new();
        let services: BTreeSet<&str> = self.compose.services.keys().map(String::as_str).collect();
        for (name, s) in &self.compose.services {
            for d in s
                .depends_on
                .keys()
                .iter()
                .filter(|d| !services.contains(d.as_str()))
            {
                p.push(format!("{name} depends on unknown service {d}"));
            }
        }
        self.server(&mut p);
        self.collector_files(&services, &mut p);
        self.prometheus_files(&mut p);
        let targets = self.scrape_targets(&mut p);
        self.grafana(&services, &mut p);
        outcome(p, || format!("scrapes {}", targets.join(", ")))
    }

    /// llama-server: exports OTLP to the collector's receiver, reachable, model under /models.
    fn server(&self, p: &mut Vec<String>) {
        let s = &self.compose.services["llama-server"];
        let otlp = self.collector.receivers.get("otlp");
        let protocol = s.environment.get("OTEL_EXPORTER_OTLP_PROTOCOL");
        let protocol = protocol.as_deref().unwrap_or("grpc");
        let want = port_of(at(
            otlp,
            &[
                "protocols",
                if protocol == "grpc" { "grpc" } else { "http" },
                "endpoint",
            ],
        ));
        let endpoint = s
            .environment
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .unwrap_or_default();
        if host_port(&endpoint) != want.map(|w| ("otel-collector", w)) {
            p.push(format!("llama-server exports to `{endpoint}`, the collector's OTLP {protocol} receiver is on port {want:?}"));
        }
        if !s
            .command
            .flag("--model")
            .or_else(|| s.command.flag("-m"))
            .is_some_and(|m| m.starts_with("/models/"))
        {
            p.push("llama-server: --model is not under /models".into());
        }
        if s.command.flag("--host").as_deref() != Some("0.0.0.0") {
            p.push(
                "llama-server: --host is not 0.0.0.0 (unreachable from other containers)".into(),
            );
        }
        let features = s
            .build
            .as_ref()
            .and_then(|b| b.args.get("FEATURES"))
            .unwrap_or_default();
        if !features
            .split(',')
            .any(|f| f == "otel" || f == "llama-server/otel")
        {
            p.push(format!(
                "llama-server: build FEATURES `{features}` lacks otel"
            ));
        }
    }

    /// The collector runs the mounted config and exports OTLP to a service's OTLP port.
    fn collector_files(&self, services: &BTreeSet<&str>, p: &mut Vec<String>) {
        let config = self.compose.services["otel-collector"]
            .command
            .flag("--config");
        let mounted = mount_of(&self.compose, "otel-collector", COLLECTOR).map(|m| m.target);
        if config.is_none() || config != mounted {
            p.push(format!("otel-collector: --config {config:?} is not where {COLLECTOR} is mounted ({mounted:?})"));
        }
        for (id, exp) in &self.collector.exporters {
            if id.split('/').next() == Some("otlp") {
                match host_port(at(Some(exp), &["endpoint"]).unwrap_or("")) {
                    Some((h, 4317)) if services.contains(h) => {}
                    other => p.push(format!(
                        "collector exporter {id}: {other:?} is no service's OTLP port"
                    )),
                }
            }
        }
    }

    /// Prometheus runs the mounted config, its rule files are mounted beside it, exemplars on.
    fn prometheus_files(&self, p: &mut Vec<String>) {
        let cmd = &self.compose.services["prometheus"].command;
        let config = cmd.flag("--config.file");
        let mounted = mount_of(&self.compose, "prometheus", PROM_CONFIG).map(|m| m.target);
        if config.is_none() || config != mounted {
            p.push(format!(
                "prometheus: --config.file {config:?} is not where {PROM_CONFIG} is mounted"
            ));
        }
        let inside_dir = Path::new(config.as_deref().unwrap_or(""))
            .parent()
            .unwrap_or(Path::new(""));
        let host_dir = Path::new(PROM_CONFIG).parent().unwrap_or(Path::new(""));
        for rule in &self.prom.rule_files {
            let inside = normalize(&inside_dir.join(rule));
            let host = normalize(&host_dir.join(rule));
            match mount_of(&self.compose, "prometheus", &host.to_string_lossy()) {
                Some(m) if Path::new(&m.target) == inside => {}
                _ => p.push(format!(
                    "prometheus: rule file {rule} is not mounted at {}",
                    inside.display()
                )),
            }
        }
        if !cmd
            .words()
            .iter()
            .any(|w| w == "--enable-feature=exemplar-storage")
        {
            p.push("prometheus: no --enable-feature=exemplar-storage".into());
        }
    }

    /// Prometheus scrapes llama-server's port and the collector's Prometheus exporter (and
    /// itself); returns the two service targets.
    fn scrape_targets(&self, p: &mut Vec<String>) -> Vec<String> {
        let server_port = self.compose.services["llama-server"].command.flag("--port");
        let server_port = server_port.and_then(|s| s.parse().ok());
        let exporter_port = port_of(at(
            self.collector.exporters.get("prometheus"),
            &["endpoint"],
        ));
        let mut found = Vec::new();
        let configs = self
            .prom
            .scrape_configs
            .iter()
            .flat_map(|c| &c.static_configs);
        for target in configs.flat_map(|s| &s.targets) {
            match host_port(target) {
                Some(("localhost", 9090)) => {}
                Some(("llama-server", port)) if Some(port) == server_port => {
                    found.push(target.clone())
                }
                Some(("otel-collector", port)) if Some(port) == exporter_port => {
                    found.push(target.clone())
                }
                _ => p.push(format!("prometheus scrapes {target}: no such service port")),
            }
        }
        if found.len() < 2 {
            p.push(format!(
                "prometheus scrapes {found:?}: expected llama-server and otel-collector"
            ));
        }
        found
    }

    /// Grafana: provisioning and dashboards are the mounted folders; data sources reach services.
    fn grafana(&self, services: &BTreeSet<&str>, p: &mut Vec<String>) {
        let provisioning = mount_of(
            &self.compose,
            "grafana",
            "observability/grafana/provisioning",
        );
        if provisioning.is_none_or(|m| m.target != "/etc/grafana/provisioning") {
            p.push("grafana: provisioning/ is not mounted at /etc/grafana/provisioning".into());
        }
        let dashboards = mount_of(&self.compose, "grafana", DASHBOARDS).map(|m| m.target);
        for prov in &self.providers.providers {
            if Some(&prov.options.path) != dashboards.as_ref() {
                p.push(format!(
                    "grafana: provider path {} is not where {DASHBOARDS} is mounted",
                    prov.options.path
                ));
            }
        }
        let env = &self.compose.services["grafana"].environment;
        if let (Some(home), Some(dir)) = (
            env.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"),
            &dashboards,
        ) {
            let rel = home
                .strip_prefix(dir.as_str())
                .unwrap_or(&home)
                .trim_start_matches('/');
            if !Path::new(DASHBOARDS).join(rel).is_file() {
                p.push(format!(
                    "grafana: home dashboard {home} is not a mounted file"
                ));
            }
        }
        for ds in &self.datasources.datasources {
            let ok = host_port(&ds.url).is_some_and(|(h, port)| {
                services.contains(h)
                    && SERVICES
                        .iter()
                        .any(|(s, ports)| *s == h && ports.contains(&port))
            });
            if !ok {
                p.push(format!(
                    "grafana data source url {} is no service's port",
                    ds.url
                ));
            }
        }
    }

    /// Pipelines use defined components only, every connector links two pipelines, nothing is
    /// defined unused, memory_limiter comes first and batch last (no tool checks the order).
    pub(super) fn pipelines(&self) -> Result<String> {
        let c = &self.collector;
        let mut p = Vec::new();
        let mut used = BTreeSet::new();
        let (mut conn_in, mut conn_out) = (BTreeSet::new(), BTreeSet::new());
        for (name, pl) in &c.service.pipelines {
            if pl.receivers.is_empty() || pl.exporters.is_empty() {
                p.push(format!("pipeline {name}: needs receivers and exporters"));
            }
            let lists = [
                ("receiver", &pl.receivers, &c.receivers, &mut conn_in),
                ("exporter", &pl.exporters, &c.exporters, &mut conn_out),
            ];
            for (what, ids, defined, connected) in lists {
                for id in ids {
                    if c.connectors.contains_key(id) {
                        connected.insert(id);
                    } else if !defined.contains_key(id) {
                        p.push(format!("pipeline {name}: {what} {id} is not defined"));
                    }
                }
            }
            p.extend(
                pl.processors
                    .iter()
                    .filter(|id| !c.processors.contains_key(*id))
                    .map(|id| format!("pipeline {name}: processor {id} is not defined")),
            );
            let kind = |id: Option<&String>| id.and_then(|i| i.split('/').next()).map(String::from);
            if kind(pl.processors.first()).as_deref() != Some("memory_limiter")
                || kind(pl.processors.last()).as_deref() != Some("batch")
            {
                p.push(format!("pipeline {name}: processors {:?} should start with memory_limiter and end with batch", pl.processors));
            }
            used.extend(
                pl.receivers
                    .iter()
                    .chain(&pl.processors)
                    .chain(&pl.exporters),
            );
        }
        for id in c
            .connectors
            .keys()
            .filter(|id| !conn_in.contains(id) || !conn_out.contains(id))
        {
            p.push(format!(
                "connector {id} must be an exporter of one pipeline and a receiver of another"
            ));
        }
        let defined = [&c.receivers, &c.processors, &c.exporters, &c.connectors];
        for id in defined
            .iter()
            .flat_map(|m| m.keys())
            .filter(|id| !used.contains(id))
        {
            p.push(format!("{id} is defined but in no pipeline"));
        }
        let enabled: BTreeSet<&String> = c.service.extensions.iter().collect();
        if enabled != c.extensions.keys().collect() {
            p.push(format!(
                "extensions defined {:?} but enabled {enabled:?}",
                c.extensions.keys()
            ));
        }
        outcome(p, || {
            c.service
                .pipelines
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            host_port("http://otel-collector:4317"),
            Some(("otel-collector", 4317))
        );
        assert_eq!(host_port("jaeger:4317/x"), Some(("jaeger", 4317)));
        assert_eq!(host_port("jaeger"), None);
    }
}
