//! Who talks to whom across the stack's files, which no tool checks: the names, ports and paths
//! in the compose file match the collector's config, Prometheus' config and rule files,
//! Grafana's provisioning and data sources (linked both ways, Jaeger ↔ Prometheus).

use super::compose::{mount_of, normalize};
use super::config::Doc;
use super::outcome;
use crate::stack::files::{COLLECTOR, DASHBOARDS, PROM_CONFIG, SERVICES};
use anyhow::{bail, Result};
use serde_norway::Value;
use std::path::Path;

/// A missing data source.
static NONE: Value = Value::Null;

/// The parsed files the wiring spans.
pub(super) struct Stack {
    pub(super) compose: Value,
    pub(super) collector: Value,
    pub(super) prom: Value,
    pub(super) datasources: Value,
    pub(super) providers: Value,
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

/// Whether `host:port` is a port one of the stack's services listens on.
fn service_port(host: &str, port: u16) -> bool {
    SERVICES
        .iter()
        .any(|(s, ports)| *s == host && ports.contains(&port))
}

impl Stack {
    /// The target inside the container where `service` mounts `host`, which exists, read-only
    /// (the containers never write configuration or models).
    fn mounted(&self, service: &str, host: &str) -> Option<String> {
        let m = mount_of(&self.compose, service, host)?;
        (m.read_only && m.host.is_some_and(|h| h.exists())).then_some(m.target)
    }

    /// `--name` of a service's command.
    fn flag(&self, service: &str, name: &str) -> Option<String> {
        self.compose
            .flag(&format!("services.{service}.command"), name)
    }

    /// Every wiring rule; the scrape targets, or every problem found.
    pub(super) fn wiring(&self) -> Result<String> {
        let services = self.compose.names("services");
        if let Some((missing, _)) = SERVICES
            .iter()
            .find(|(s, _)| !services.iter().any(|n| n == s))
        {
            bail!("no service {missing}");
        }
        let mut p = Vec::new();
        for name in &services {
            for dep in self.compose.names(&format!("services.{name}.depends_on")) {
                if !services.contains(&dep) {
                    p.push(format!("{name} depends on unknown service {dep}"));
                }
            }
        }
        self.server(&mut p);
        self.collector(&services, &mut p);
        self.prometheus(&mut p);
        let targets = self.scrape_targets(&mut p);
        self.grafana(&mut p);
        self.datasources(&mut p);
        outcome(p, || format!("scrapes {}", targets.join(", ")))
    }

    /// llama-server: exports OTLP to the collector's receiver, is reachable, reads its model
    /// from the mounted /models, is built with otel.
    fn server(&self, p: &mut Vec<String>) {
        let env = |key| {
            self.compose
                .setting("services.llama-server.environment", key)
        };
        let http = env("OTEL_EXPORTER_OTLP_PROTOCOL").is_some_and(|p| p.starts_with("http"));
        let receiver = format!(
            "receivers.otlp.protocols.{}.endpoint",
            ["grpc", "http"][usize::from(http)]
        );
        let want = port_of(self.collector.text(&receiver));
        let endpoint = env("OTEL_EXPORTER_OTLP_ENDPOINT").unwrap_or_default();
        if want.is_none() || host_port(&endpoint) != want.map(|w| ("otel-collector", w)) {
            p.push(format!(
                "llama-server exports to `{endpoint}`, not to the collector's {receiver}"
            ));
        }
        let model = self
            .flag("llama-server", "--model")
            .or_else(|| self.flag("llama-server", "-m"));
        let mounted = self.mounted("llama-server", "models");
        if !model.is_some_and(|m| m.starts_with("/models/"))
            || mounted.as_deref() != Some("/models")
        {
            p.push("llama-server: --model is not in ./models mounted at /models".into());
        }
        if self.flag("llama-server", "--host").as_deref() != Some("0.0.0.0") {
            p.push(
                "llama-server: --host is not 0.0.0.0 (unreachable from other containers)".into(),
            );
        }
        let features = self
            .compose
            .setting("services.llama-server.build.args", "FEATURES");
        let features = features.unwrap_or_default();
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
    fn collector(&self, services: &[String], p: &mut Vec<String>) {
        let config = self.flag("otel-collector", "--config");
        if config.is_none() || config != self.mounted("otel-collector", COLLECTOR) {
            p.push(format!(
                "otel-collector: --config {config:?} is not where {COLLECTOR} is"
            ));
        }
        for (id, exporter) in self.collector.entries("exporters") {
            let to = host_port(exporter.text("endpoint").unwrap_or(""));
            let otlp_port =
                to.is_some_and(|(h, port)| port == 4317 && services.iter().any(|s| s == h));
            if id.starts_with("otlp") && !otlp_port {
                p.push(format!(
                    "collector exporter {id}: {to:?} is no service's OTLP port"
                ));
            }
        }
    }

    /// Prometheus runs the mounted config, its rule files are mounted beside it, exemplars on.
    fn prometheus(&self, p: &mut Vec<String>) {
        let config = self.flag("prometheus", "--config.file");
        if config.is_none() || config != self.mounted("prometheus", PROM_CONFIG) {
            p.push(format!(
                "prometheus: --config.file {config:?} is not where {PROM_CONFIG} is"
            ));
        }
        let inside = Path::new(config.as_deref().unwrap_or(""))
            .parent()
            .unwrap_or(Path::new(""));
        let host = Path::new(PROM_CONFIG).parent().unwrap_or(Path::new(""));
        for rule in self.prom.words("rule_files") {
            let (inside, host) = (normalize(&inside.join(&rule)), normalize(&host.join(&rule)));
            let target = self.mounted("prometheus", &host.to_string_lossy());
            if target.as_deref().map(Path::new) != Some(inside.as_path()) {
                p.push(format!(
                    "prometheus: rule file {rule} is not at {}",
                    inside.display()
                ));
            }
        }
        let words = self.compose.words("services.prometheus.command");
        if !words
            .iter()
            .any(|w| w == "--enable-feature=exemplar-storage")
        {
            p.push("prometheus: no --enable-feature=exemplar-storage".into());
        }
    }

    /// Prometheus scrapes llama-server's port and the collector's Prometheus exporter (and
    /// itself); returns the two service targets.
    fn scrape_targets(&self, p: &mut Vec<String>) -> Vec<String> {
        let server = self
            .flag("llama-server", "--port")
            .and_then(|s| s.parse().ok());
        let exporter = port_of(self.collector.text("exporters.prometheus.endpoint"));
        let mut found = Vec::new();
        let configs = self.prom.items("scrape_configs");
        let statics = configs.iter().flat_map(|c| c.items("static_configs"));
        for target in statics.flat_map(|s| s.words("targets")) {
            match host_port(&target) {
                Some(("localhost", 9090)) => continue,
                Some(("llama-server", port)) if Some(port) == server => {}
                Some(("otel-collector", port)) if Some(port) == exporter => {}
                _ => {
                    p.push(format!("prometheus scrapes {target}: no such service port"));
                    continue;
                }
            }
            found.push(target);
        }
        if found.len() < 2 {
            p.push(format!(
                "prometheus scrapes {found:?}: not llama-server and otel-collector"
            ));
        }
        found
    }

    /// Grafana's provisioning and dashboards are the mounted folders.
    fn grafana(&self, p: &mut Vec<String>) {
        let provisioning = self.mounted("grafana", "observability/grafana/provisioning");
        if provisioning.as_deref() != Some("/etc/grafana/provisioning") {
            p.push("grafana: provisioning/ is not mounted at /etc/grafana/provisioning".into());
        }
        let dashboards = self.mounted("grafana", DASHBOARDS);
        for provider in self.providers.items("providers") {
            let path = provider.text("options.path");
            if path.is_none() || path != dashboards.as_deref() {
                p.push(format!(
                    "grafana: provider path {path:?} is not where {DASHBOARDS} is"
                ));
            }
        }
        let env = "services.grafana.environment";
        let home = self
            .compose
            .setting(env, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
        if let (Some(home), Some(dir)) = (home, &dashboards) {
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
    }

    /// The data sources reach services and link Jaeger and Prometheus both ways (trace →
    /// metrics, exemplar → trace).
    fn datasources(&self, p: &mut Vec<String>) {
        let sources = self.datasources.items("datasources");
        for ds in &sources {
            let url = ds.text("url").unwrap_or("");
            if !host_port(url).is_some_and(|(h, port)| service_port(h, port)) {
                p.push(format!(
                    "grafana data source url {url} is no service's port"
                ));
            }
        }
        let of = |kind| {
            sources
                .iter()
                .find(|d| d.text("type") == Some(kind))
                .copied()
        };
        let (prom, jaeger) = (
            of("prometheus").unwrap_or(&NONE),
            of("jaeger").unwrap_or(&NONE),
        );
        let t2m = jaeger.text("jsonData.tracesToMetrics.datasourceUid");
        let queries = jaeger.items("jsonData.tracesToMetrics.queries");
        if prom.text("uid").is_none() || t2m != prom.text("uid") || queries.is_empty() {
            p.push("Jaeger's tracesToMetrics needs queries on the Prometheus uid".into());
        }
        let exemplars = prom.items("jsonData.exemplarTraceIdDestinations");
        let to = exemplars.first().and_then(|e| e.text("datasourceUid"));
        if jaeger.text("uid").is_none() || to != jaeger.text("uid") {
            p.push("Prometheus' exemplars do not link to the Jaeger uid".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::files::{COMPOSE, DASHBOARD_PROVIDERS, DATASOURCES};

    #[test]
    fn the_real_stack_is_wired_and_broken_links_are_found() {
        // The paths are relative to the workspace root (no other test depends on the cwd).
        std::env::set_current_dir(crate::util::workspace_root()).unwrap();
        let load = |path| super::super::config::load(path).unwrap();
        let mut stack = Stack {
            compose: load(COMPOSE),
            collector: load(COLLECTOR),
            prom: load(PROM_CONFIG),
            datasources: load(DATASOURCES),
            providers: load(DASHBOARD_PROVIDERS),
        };
        stack.wiring().unwrap();
        let env = &mut stack.compose["services"]["llama-server"]["environment"];
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://otel-collector:4999".into();
        stack.prom["scrape_configs"][0]["static_configs"][0]["targets"][0] =
            "llama-server:1".into();
        stack.datasources["datasources"][1]["uid"] = "other".into();
        let err = stack.wiring().unwrap_err().to_string();
        assert!(
            err.contains("llama-server exports to `http://otel-collector:4999`"),
            "{err}"
        );
        assert!(
            err.contains("prometheus scrapes llama-server:1: no such"),
            "{err}"
        );
        assert!(
            err.contains("exemplars do not link to the Jaeger uid"),
            "{err}"
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(
            host_port("http://otel-collector:4317"),
            Some(("otel-collector", 4317))
        );
        assert_eq!(host_port("jaeger:4317/x"), Some(("jaeger", 4317)));
        assert_eq!(host_port("jaeger"), None);
        assert!(service_port("prometheus", 9090) && !service_port("prometheus", 9091));
    }
}
