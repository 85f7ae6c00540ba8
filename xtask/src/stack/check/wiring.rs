//! Who talks to whom across the stack's files, which no tool checks: every address (OTLP
//! endpoints, exporters, scrape targets, data-source URLs) is a port a compose service listens
//! on, every file a service is told to read is the repository's, mounted read-only, and the
//! Grafana data sources link Jaeger and Prometheus both ways.

use super::config::{Component, Components};
use super::{outcome, Stack};
use crate::stack::files::{
    COLLECTOR, DASHBOARDS, JAEGER, LOKI, PROM_CONFIG, PROVISIONING, SERVICES,
};
use anyhow::{bail, Result};
use std::path::{Component as Part, Path, PathBuf};

/// `host:port` of a URL or address (`http://h:p/x`, `h:p`).
pub(super) fn host_port(addr: &str) -> Option<(&str, u16)> {
    let rest = addr.split_once("://").map_or(addr, |(_, r)| r);
    let (host, port) = rest.split('/').next()?.rsplit_once(':')?;
    Some((host, port.parse().ok()?))
}

/// `a/./b/../c` → `a/c` (no file-system access).
pub(super) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Part::CurDir => {}
            Part::ParentDir if out.pop() => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn parent(p: &str) -> &Path {
    Path::new(p).parent().unwrap_or(Path::new(""))
}

/// The port of component `id`'s endpoint (`protocol` of a receiver's, when given).
fn port(components: &Components, id: &str, protocol: Option<&str>) -> Option<u16> {
    let mut c: &Component = components.get(id)?.as_ref()?;
    if let Some(protocol) = protocol {
        c = c.protocols.get(protocol)?.as_ref()?;
    }
    host_port(c.endpoint.as_deref()?).map(|(_, port)| port)
}

impl Stack {
    /// `--name` of a service's command.
    fn flag(&self, service: &str, name: &str) -> &str {
        let command = &self.compose.services[service].command;
        command.flag(name).unwrap_or("")
    }

    pub(super) fn env(&self, service: &str, key: &str) -> String {
        let env = &self.compose.services[service].environment;
        env.get(key).unwrap_or_default()
    }

    /// The path (relative to the root) that `service` sees at `inside`, through a read-only
    /// bind mount (the containers never write configuration or models).
    fn host_path(&self, service: &str, inside: &Path) -> Option<PathBuf> {
        self.compose.services[service].volumes.iter().find_map(|v| {
            let (source, target, read_only) = v.parts();
            let rest = inside.strip_prefix(target).ok()?;
            let source = source.filter(|s| read_only && s.starts_with('.'))?;
            let host = Path::new("observability").join(source);
            Some(normalize(&host.join(rest)))
        })
    }

    /// Every wiring rule; the scrape targets, or every problem found.
    pub(super) fn wiring(&self) -> Result<String> {
        let services = &self.compose.services;
        if let Some((missing, _)) = SERVICES.iter().find(|(s, _)| !services.contains_key(*s)) {
            bail!("no service {missing}");
        }
        let mut p = Vec::new();
        self.mounts(&mut p);
        self.addresses(&mut p);
        let targets = self.scrape_targets(&mut p);
        self.links(&mut p);
        let exemplars = "--enable-feature=exemplar-storage";
        if !services["prometheus"].command.words().contains(&exemplars) {
            p.push(format!("prometheus: no {exemplars}"));
        }
        let build = services["llama-server"].build.as_ref();
        let features = build.and_then(|b| b.args.get("FEATURES"));
        let features = features.unwrap_or_default();
        if !features.split(',').any(|f| f.ends_with("otel")) {
            p.push(format!("llama-server: FEATURES `{features}` lack otel"));
        }
        outcome(p, || format!("scrapes {}", targets.join(", ")))
    }

    /// The configs, rules, dashboards and models the services read are this repository's.
    fn mounts(&self, p: &mut Vec<String>) {
        let prom = self.flag("prometheus", "--config.file");
        let collector = self.flag("otel-collector", "--config");
        let jaeger = self.flag("jaeger", "--config");
        let loki = self.flag("loki", "-config.file");
        let models = parent(self.flag("llama-server", "--model"));
        let provisioning = "/etc/grafana/provisioning";
        let mut wants: Vec<(&str, PathBuf, PathBuf)> = vec![
            ("otel-collector", collector.into(), COLLECTOR.into()),
            ("jaeger", jaeger.into(), JAEGER.into()),
            ("loki", loki.into(), LOKI.into()),
            ("prometheus", prom.into(), PROM_CONFIG.into()),
            ("llama-server", models.into(), "models".into()),
            ("grafana", provisioning.into(), PROVISIONING.into()),
        ];
        for rule in &self.prom.rule_files {
            let inside = normalize(&parent(prom).join(rule));
            wants.push(("prometheus", inside, parent(PROM_CONFIG).join(rule)));
        }
        for provider in &self.providers.providers {
            let path = (&provider.options.path).into();
            wants.push(("grafana", path, DASHBOARDS.into()));
        }
        for (service, inside, host) in wants {
            if self.host_path(service, &inside).as_ref() != Some(&host) {
                let (inside, host) = (inside.display(), host.display());
                p.push(format!("{service}: `{inside}` is not {host}, read-only"));
            }
        }
        let home = self.env("grafana", "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH");
        let host = self.host_path("grafana", Path::new(&home));
        if !home.is_empty() && !host.is_some_and(|h| self.root.join(h).is_file()) {
            p.push(format!("grafana: home dashboard {home} not mounted"));
        }
    }

    /// The server exports to the collector's receiver and listens on all interfaces, the
    /// collector exports to a service's OTLP port, the data sources reach services.
    fn addresses(&self, p: &mut Vec<String>) {
        let protocol = self.env("llama-server", "OTEL_EXPORTER_OTLP_PROTOCOL");
        let protocol = if protocol.starts_with("http") {
            "http"
        } else {
            "grpc"
        };
        let receiver = port(&self.collector.receivers, "otlp", Some(protocol));
        let endpoint = self.env("llama-server", "OTEL_EXPORTER_OTLP_ENDPOINT");
        if receiver.is_none() || host_port(&endpoint) != receiver.map(|r| ("otel-collector", r)) {
            let to = format!("not the otlp {protocol} receiver");
            p.push(format!("llama-server exports to `{endpoint}`, {to}"));
        }
        if self.flag("llama-server", "--host") != "0.0.0.0" {
            p.push("llama-server: --host is not 0.0.0.0".into());
        }
        for (id, exporter) in &self.collector.exporters {
            let to = exporter.as_ref().and_then(|e| e.endpoint.as_deref());
            if let Some(problem) = self.exporter_problem(id, to) {
                p.push(format!("exporter {id}: {problem}"));
            }
        }
        for url in self.datasources.datasources.iter().map(|d| &d.url) {
            let (host, port) = host_port(url).unwrap_or_default();
            if !SERVICES
                .iter()
                .any(|(s, ports)| *s == host && ports.contains(&port))
            {
                p.push(format!("data source url {url} is no service's port"));
            }
        }
    }

    /// Why the collector's exporter `id` does not reach its service: OTLP/gRPC to Jaeger's
    /// OTLP receiver, OTLP/HTTP to Loki's `/otlp` (the deprecated `otlp`/`otlphttp` names fail).
    fn exporter_problem(&self, id: &str, to: Option<&str>) -> Option<String> {
        let (host, to_port) = to.and_then(host_port).unwrap_or_default();
        match id.split('/').next().unwrap_or_default() {
            kind @ ("otlp" | "otlphttp") => {
                Some(format!("`{kind}` is deprecated (collector 0.144)"))
            }
            "otlp_grpc" => {
                let jaeger = port(&self.jaeger.receivers, "otlp", Some("grpc"));
                (host != "jaeger" || Some(to_port) != jaeger)
                    .then(|| format!("{to:?} is not Jaeger's OTLP/gRPC receiver"))
            }
            "otlp_http" => {
                let loki = self.loki.server.http_listen_port;
                let path = to.is_some_and(|t| t.trim_end_matches('/').ends_with("/otlp"));
                (host != "loki" || to_port != loki || !path).then(|| {
                    format!("{to:?} is not Loki's OTLP endpoint (http://loki:{loki}/otlp)")
                })
            }
            _ => None,
        }
    }

    /// Prometheus scrapes llama-server's port and the collector's Prometheus exporter (and
    /// itself); returns the two service targets.
    fn scrape_targets(&self, p: &mut Vec<String>) -> Vec<String> {
        let server = self.flag("llama-server", "--port").parse().ok();
        let exporter = port(&self.collector.exporters, "prometheus", None);
        let mut found = Vec::new();
        let configs = self.prom.scrape_configs.iter();
        for target in configs
            .flat_map(|c| &c.static_configs)
            .flat_map(|s| &s.targets)
        {
            let (host, port) = host_port(target).unwrap_or_default();
            match host {
                "localhost" if port == 9090 => {}
                "llama-server" if Some(port) == server => found.push(target.clone()),
                "otel-collector" if Some(port) == exporter => found.push(target.clone()),
                _ => p.push(format!("prometheus scrapes {target}: no such port")),
            }
        }
        if found.len() < 2 {
            p.push(format!("prometheus scrapes only {found:?}"));
        }
        found
    }

    /// Jaeger's trace-to-metrics queries go to the Prometheus uid, Prometheus' exemplars link
    /// to the Jaeger uid, Jaeger's trace-to-logs goes to the Loki uid and Loki's trace ids link
    /// back to the Jaeger uid.
    fn links(&self, p: &mut Vec<String>) {
        let of = |kind| self.datasources.datasources.iter().find(|d| d.kind == kind);
        let (Some(prom), Some(jaeger), Some(loki)) = (of("prometheus"), of("jaeger"), of("loki"))
        else {
            return p.push("grafana needs prometheus, jaeger and loki data sources".into());
        };
        let t2m = jaeger.json_data.traces_to_metrics.as_ref();
        if t2m.is_none_or(|t| t.datasource_uid != prom.uid || t.queries.is_empty()) {
            p.push("Jaeger's tracesToMetrics needs queries on the Prometheus uid".into());
        }
        let exemplars = &prom.json_data.exemplar_trace_id_destinations;
        if !exemplars.iter().any(|e| e.datasource_uid == jaeger.uid) {
            p.push("Prometheus' exemplars do not link to the Jaeger uid".into());
        }
        let t2l = jaeger.json_data.traces_to_logs_v2.as_ref();
        if t2l.is_none_or(|t| t.datasource_uid != loki.uid) {
            p.push("Jaeger's tracesToLogsV2 does not go to the Loki uid".into());
        }
        let fields = &loki.json_data.derived_fields;
        if !fields.iter().any(|f| f.datasource_uid == jaeger.uid) {
            p.push("Loki's trace ids do not link to the Jaeger uid".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_paths() {
        assert_eq!(host_port("http://h:4317"), Some(("h", 4317)));
        assert_eq!(host_port("jaeger:4317/x"), Some(("jaeger", 4317)));
        assert_eq!(host_port("jaeger"), None);
        assert_eq!(normalize(Path::new("a/./b/../c")), Path::new("a/c"));
    }
}
