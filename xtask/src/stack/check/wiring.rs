//! The compose file's wiring: who talks to whom — the names and ports in one file match the
//! others (OTLP export, the collector's exporters, Prometheus' config, rules and scrape targets,
//! Grafana's provisioning and data sources).

use super::compose_file::{
    command_words, endpoint_port, environment, flag_value, host_port, normalize, ComposeFile,
};
use crate::stack::files::{COLLECTOR, DASHBOARDS, PROM_CONFIG, SERVICES};
use anyhow::{bail, Result};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Problems found so far; each check adds to it.
type Problems = Vec<String>;

impl ComposeFile {
    /// Who talks to whom: the names and ports in one file match the others.
    pub(super) fn wiring(
        &self,
        collector: &Value,
        prom: &Value,
        datasources: &Value,
        providers: &Value,
    ) -> Result<String> {
        let mut problems = Vec::new();
        let services: BTreeSet<String> = self.service_names().into_iter().collect();
        self.dependencies(&services, &mut problems)?;
        self.server_exports(collector, &mut problems)?;
        let server_port = self.server_command(&mut problems)?;
        self.collector_wiring(collector, &services, &mut problems)?;
        let exporter_port = collector
            .pointer("/exporters/prometheus/endpoint")
            .map(Some)
            .and_then(endpoint_port);
        self.prometheus_files(prom, &mut problems)?;
        let targets = scrape_targets(prom, server_port, exporter_port, &mut problems);
        self.grafana_mounts(providers, &mut problems)?;
        grafana_datasources(datasources, &services, &mut problems);
        if problems.is_empty() {
            Ok(format!("scrapes {}", targets.join(", ")))
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    /// Every `depends_on` names a service.
    fn dependencies(&self, services: &BTreeSet<String>, problems: &mut Problems) -> Result<()> {
        for name in services {
            let s = self.service(name)?;
            let deps: Vec<String> = match s.get("depends_on") {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                _ => Vec::new(),
            };
            for d in deps.iter().filter(|d| !services.contains(*d)) {
                problems.push(format!("{name} depends on unknown service {d}"));
            }
        }
        Ok(())
    }

    /// llama-server → collector over OTLP.
    fn server_exports(&self, collector: &Value, problems: &mut Problems) -> Result<()> {
        let env = environment(self.service("llama-server")?);
        let grpc_port = collector
            .pointer("/receivers/otlp/protocols/grpc/endpoint")
            .map(Some)
            .and_then(endpoint_port);
        let http_port = collector
            .pointer("/receivers/otlp/protocols/http/endpoint")
            .map(Some)
            .and_then(endpoint_port);
        match env
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .and_then(|e| host_port(e))
        {
            Some((host, port)) => {
                let protocol = env
                    .get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    .map_or("grpc", String::as_str);
                let want = if protocol == "grpc" {
                    grpc_port
                } else {
                    http_port
                };
                if host != "otel-collector" || Some(port) != want {
                    problems.push(format!(
                        "llama-server exports to {host}:{port}, the collector's OTLP {protocol} receiver is otel-collector:{want:?}"
                    ));
                }
            }
            None => problems.push("llama-server: no OTEL_EXPORTER_OTLP_ENDPOINT".into()),
        }
        Ok(())
    }

    /// llama-server's command (model under /models, reachable host) and build features; returns
    /// its `--port`.
    fn server_command(&self, problems: &mut Problems) -> Result<Option<u16>> {
        let server = self.service("llama-server")?;
        let words = command_words(server);
        let server_port: Option<u16> = flag_value(&words, "--port").and_then(|p| p.parse().ok());
        match flag_value(&words, "--model").or_else(|| flag_value(&words, "-m")) {
            Some(m) if m.starts_with("/models/") => {}
            other => problems.push(format!(
                "llama-server: --model {other:?} is not under /models"
            )),
        }
        if flag_value(&words, "--host").as_deref() != Some("0.0.0.0") {
            problems.push(
                "llama-server: --host is not 0.0.0.0 (unreachable from other containers)".into(),
            );
        }
        let features = server
            .pointer("/build/args/FEATURES")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !features
            .split(',')
            .any(|f| f == "otel" || f == "llama-server/otel")
        {
            problems.push(format!(
                "llama-server: build FEATURES `{features}` lacks otel"
            ));
        }
        Ok(server_port)
    }

    /// collector → jaeger; its config file is the one mounted.
    fn collector_wiring(
        &self,
        collector: &Value,
        services: &BTreeSet<String>,
        problems: &mut Problems,
    ) -> Result<()> {
        let col = self.service("otel-collector")?;
        let col_words = command_words(col);
        match (
            flag_value(&col_words, "--config"),
            self.mount_of("otel-collector", COLLECTOR),
        ) {
            (Some(c), Some(m)) if c == m.target => {}
            (c, m) => problems.push(format!(
                "otel-collector: --config {c:?} is not where {COLLECTOR} is mounted ({:?})",
                m.map(|m| &m.target)
            )),
        }
        for (id, exp) in collector
            .get("exporters")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if id.split('/').next() == Some("otlp") {
                match exp
                    .get("endpoint")
                    .and_then(Value::as_str)
                    .and_then(host_port)
                {
                    Some((h, 4317)) if services.contains(&h) => {}
                    other => problems.push(format!(
                        "collector exporter {id}: endpoint {other:?} is no service's OTLP port"
                    )),
                }
            }
        }
        Ok(())
    }

    /// prometheus: its config and rules are the mounted ones, with exemplar storage on.
    fn prometheus_files(&self, prom: &Value, problems: &mut Problems) -> Result<()> {
        let p = self.service("prometheus")?;
        let p_words = command_words(p);
        match (
            flag_value(&p_words, "--config.file"),
            self.mount_of("prometheus", PROM_CONFIG),
        ) {
            (Some(c), Some(m)) if c == m.target => self.rule_files(&c, prom, problems),
            (c, _) => problems.push(format!(
                "prometheus: --config.file {c:?} is not where {PROM_CONFIG} is mounted"
            )),
        }
        if !p_words
            .iter()
            .any(|w| w == "--enable-feature=exemplar-storage")
        {
            problems.push("prometheus: no --enable-feature=exemplar-storage".into());
        }
        Ok(())
    }

    /// Each of `rule_files` (relative to the config at `config` inside the container) is mounted.
    fn rule_files(&self, config: &str, prom: &Value, problems: &mut Problems) {
        let dir = Path::new(config)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for rule in prom
            .get("rule_files")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rule = rule.as_str().unwrap_or("");
            let inside = normalize(&dir.join(rule));
            let host = normalize(
                &Path::new(PROM_CONFIG)
                    .parent()
                    .unwrap_or(Path::new(""))
                    .join(rule),
            );
            match self.mount_of("prometheus", &host.to_string_lossy()) {
                Some(m) if Path::new(&m.target) == inside => {}
                _ => problems.push(format!(
                    "prometheus: rule file {rule} is not mounted at {}",
                    inside.display()
                )),
            }
        }
    }

    /// grafana: provisioning and dashboards are the mounted folders.
    fn grafana_mounts(&self, providers: &Value, problems: &mut Problems) -> Result<()> {
        match self.mount_of("grafana", "observability/grafana/provisioning") {
            Some(m) if m.target == "/etc/grafana/provisioning" => {}
            _ => problems
                .push("grafana: provisioning/ is not mounted at /etc/grafana/provisioning".into()),
        }
        let dash_target = self
            .mount_of("grafana", DASHBOARDS)
            .map(|m| m.target.clone());
        for prov in providers
            .get("providers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = prov.pointer("/options/path").and_then(Value::as_str);
            if path.map(String::from) != dash_target {
                problems.push(format!("grafana: dashboard provider path {path:?} is not where {DASHBOARDS} is mounted"));
            }
        }
        let genv = environment(self.service("grafana")?);
        if let (Some(home), Some(t)) = (
            genv.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"),
            &dash_target,
        ) {
            let rel = home
                .strip_prefix(t.as_str())
                .unwrap_or(home)
                .trim_start_matches('/');
            if !Path::new(DASHBOARDS).join(rel).is_file() {
                problems.push(format!(
                    "grafana: home dashboard {home} is not a mounted file"
                ));
            }
        }
        Ok(())
    }
}

/// Prometheus' scrape targets are llama-server's and the collector exporter's ports (or itself);
/// returns the two service targets.
fn scrape_targets(
    prom: &Value,
    server_port: Option<u16>,
    exporter_port: Option<u16>,
    problems: &mut Problems,
) -> Vec<String> {
    let mut targets = Vec::new();
    let all = prom
        .get("scrape_configs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|sc| {
            sc.pointer("/static_configs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .flat_map(|t| {
            t.get("targets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        });
    for target in all {
        let target = target.as_str().unwrap_or("");
        match host_port(target) {
            Some((h, port)) if h == "localhost" && port == 9090 => {}
            Some((h, port)) if h == "llama-server" && Some(port) == server_port => {
                targets.push(target.to_string())
            }
            Some((h, port)) if h == "otel-collector" && Some(port) == exporter_port => {
                targets.push(target.to_string())
            }
            _ => problems.push(format!("prometheus scrapes {target}: no such service port")),
        }
    }
    if targets.len() < 2 {
        problems.push(format!(
            "prometheus scrapes {targets:?}: expected llama-server and otel-collector"
        ));
    }
    targets
}

/// Grafana's data sources reach services' ports.
fn grafana_datasources(datasources: &Value, services: &BTreeSet<String>, problems: &mut Problems) {
    for ds in datasources
        .get("datasources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = ds.get("url").and_then(Value::as_str).unwrap_or("");
        match host_port(url) {
            Some((h, port))
                if services.contains(&h)
                    && SERVICES
                        .iter()
                        .any(|(s, ports)| *s == h && ports.contains(&port)) => {}
            _ => problems.push(format!(
                "grafana data source url {url} is no service's port"
            )),
        }
    }
}
