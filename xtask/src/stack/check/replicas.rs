//! The replicas overlay (docker-compose.replicas.yaml): every replica the same server with its
//! own `service.instance.id`, all behind a least-connections HAProxy and all scraped in the one
//! `llama-server` job, new services only under the `replicas` profile (the default stack stays
//! as it is), and dashboards that break down by `instance`.

use super::compose::pinned_image;
use super::config::{load, Compose, Prometheus, Service};
use super::wiring::host_port;
use super::{outcome, Stack};
use crate::stack::files::{DASHBOARDS, HAPROXY, PROM_REPLICAS, REPLICAS};
use anyhow::{Context, Result};
use std::collections::BTreeSet;

/// The server's service in the default stack, replica 1 in the overlay.
const SERVER: &str = "llama-server";
const PROFILE: &str = "replicas";
/// Per-replica settings; everything else is the default server's.
const PER_REPLICA: [&str; 1] = ["OTEL_RESOURCE_ATTRIBUTES"];

/// The overlay's files, parsed.
pub(super) struct Replicas {
    compose: Compose,
    prom: Prometheus,
    haproxy: String,
}

impl Replicas {
    pub(super) fn load(root: &std::path::Path) -> Result<Self> {
        let haproxy = std::fs::read_to_string(root.join(HAPROXY));
        Ok(Replicas {
            compose: load(root, REPLICAS)?,
            prom: load(root, PROM_REPLICAS)?,
            haproxy: haproxy.with_context(|| format!("reading {HAPROXY}"))?,
        })
    }
}

/// `service.instance.id` in an `OTEL_RESOURCE_ATTRIBUTES` value.
fn instance_id(attributes: &str) -> Option<&str> {
    let mut pairs = attributes.split(',').filter_map(|kv| kv.split_once('='));
    pairs
        .find(|(k, _)| k.trim() == "service.instance.id")
        .map(|(_, v)| v.trim())
}

/// HAProxy's `balance` of the backend and its `server NAME HOST:PORT` addresses.
fn haproxy_backend(cfg: &str) -> (Vec<&str>, Vec<&str>) {
    let (mut balance, mut servers) = (Vec::new(), Vec::new());
    for line in cfg.lines().map(|l| l.split('#').next().unwrap_or("")) {
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            ["balance", how, ..] => balance.push(how),
            ["server", _, addr, ..] => servers.push(addr),
            _ => {}
        }
    }
    (balance, servers)
}

impl Stack {
    /// The replicas: the default server and the overlay's services that run it.
    fn replica_names(&self, r: &Replicas) -> Vec<String> {
        let image = self.compose.services[SERVER].image.as_deref();
        let mut names = vec![SERVER.to_string()];
        let same = |s: &Service| s.image.as_deref() == image && !s.profiles.is_empty();
        let more = r.compose.services.iter().filter(|(_, s)| same(s));
        names.extend(more.map(|(n, _)| n.clone()));
        names
    }

    /// A replica's setting after the overlay is merged over the default stack.
    fn replica_env(&self, r: &Replicas, name: &str, key: &str) -> String {
        let overlay = r
            .compose
            .services
            .get(name)
            .and_then(|s| s.environment.get(key));
        overlay.unwrap_or_else(|| self.env(name, key))
    }

    /// Every rule of the overlay; the replicas, or every problem found.
    pub(super) fn replicas(&self, r: &Replicas) -> Result<String> {
        let mut p = Vec::new();
        let names = self.replica_names(r);
        if names.len() < 2 {
            p.push(format!("{REPLICAS}: no replica besides {SERVER}"));
        }
        self.replicas_same(r, &names, &mut p);
        let port = self.compose.services[SERVER].command.flag("--port");
        let want: BTreeSet<String> = names
            .iter()
            .map(|n| format!("{n}:{}", port.unwrap_or("?")))
            .collect();
        balancer(r, &want, &mut p);
        scraped(&self.prom, &r.prom, &want, &mut p);
        for (name, s) in &r.compose.services {
            let new = !self.compose.services.contains_key(name);
            if new && !s.profiles.iter().any(|x| x == PROFILE) {
                p.push(format!("{name}: a new service without profile `{PROFILE}`"));
            }
            let known = |d: &&str| self.compose.services.contains_key(*d);
            let known = |d: &&str| known(d) || r.compose.services.contains_key(*d);
            for dep in s.depends_on.names().iter().filter(|d| !known(d)) {
                p.push(format!("{name} depends on unknown service {dep}"));
            }
            if let Some(Err(e)) = s.image.as_deref().map(pinned_image) {
                p.push(format!("{name}: {e}"));
            }
        }
        outcome(p, || format!("{} behind leastconn", names.join(", ")))
    }

    /// Each replica runs what the default server runs, with its own `service.instance.id`.
    fn replicas_same(&self, r: &Replicas, names: &[String], p: &mut Vec<String>) {
        let server = &self.compose.services[SERVER];
        let mut ids = BTreeSet::new();
        for name in names {
            let attributes = self.replica_env(r, name, PER_REPLICA[0]);
            match instance_id(&attributes) {
                Some(id) if !ids.insert(id.to_string()) => p.push(format!(
                    "{name}: service.instance.id `{id}` is not distinct"
                )),
                Some(_) => {}
                None => p.push(format!("{name}: no service.instance.id in {attributes:?}")),
            }
            let Some(s) = r.compose.services.get(name).filter(|_| name != SERVER) else {
                continue;
            };
            if s.command.words() != server.command.words() {
                p.push(format!("{name}: command differs from {SERVER}'s"));
            }
            for key in server.environment.names() {
                let theirs = s.environment.get(key);
                if !PER_REPLICA.contains(&key) && theirs != server.environment.get(key) {
                    p.push(format!("{name}: {key} differs from {SERVER}'s"));
                }
            }
        }
    }
}

/// HAProxy balances by outstanding requests over exactly the replicas.
fn balancer(r: &Replicas, want: &BTreeSet<String>, p: &mut Vec<String>) {
    let (balance, servers) = haproxy_backend(&r.haproxy);
    if balance != ["leastconn"] {
        p.push(format!("{HAPROXY}: balance {balance:?}, not leastconn"));
    }
    let have: BTreeSet<String> = servers.iter().map(|s| s.to_string()).collect();
    if &have != want {
        p.push(format!(
            "{HAPROXY}: servers {have:?}, not the replicas {want:?}"
        ));
    }
    let mounted = r
        .compose
        .services
        .values()
        .flat_map(|s| &s.volumes)
        .any(|v| {
            let (source, _, ro) = v.parts();
            ro && source == Some("./haproxy/haproxy.cfg")
        });
    if !mounted {
        p.push(format!("{HAPROXY} is mounted read-only by no service"));
    }
}

/// The replicas' Prometheus config is the default one with every replica in the server's job.
fn scraped(base: &Prometheus, prom: &Prometheus, want: &BTreeSet<String>, p: &mut Vec<String>) {
    let targets = |c: &Prometheus, job: &str| -> BTreeSet<String> {
        let jobs = c.scrape_configs.iter().filter(|s| s.job_name == job);
        let sets = jobs.flat_map(|s| &s.static_configs);
        sets.flat_map(|t| t.targets.iter().cloned()).collect()
    };
    let have = targets(prom, SERVER);
    if &have != want {
        p.push(format!(
            "{PROM_REPLICAS}: job {SERVER} scrapes {have:?}, not {want:?}"
        ));
    }
    for job in base.scrape_configs.iter().map(|s| s.job_name.as_str()) {
        if job != SERVER && targets(prom, job) != targets(base, job) {
            p.push(format!(
                "{PROM_REPLICAS}: job {job} differs from prometheus.yml's"
            ));
        }
    }
    let bad = have.iter().filter(|t| host_port(t).is_none());
    p.extend(bad.map(|t| format!("{PROM_REPLICAS}: `{t}` is not host:port")));
}

/// Every dashboard has a multi-value `instance` variable and panels broken down by it.
pub(super) fn dashboards_by_instance(root: &std::path::Path) -> Result<String> {
    let mut p = Vec::new();
    let mut n = 0;
    for entry in std::fs::read_dir(root.join(DASHBOARDS))? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let d: serde_json::Value = serde_json::from_str(&text)?;
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let vars = d["templating"]["list"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let var = vars.iter().find(|v| v["name"] == "instance");
        if !var.is_some_and(|v| v["multi"] == true && v["includeAll"] == true) {
            p.push(format!(
                "{file}: no multi-value `instance` variable with All"
            ));
        }
        let by = per_instance_targets(&d["panels"]);
        if by == 0 {
            p.push(format!("{file}: no panel broken down by instance"));
        }
        n += by;
    }
    outcome(p, || {
        format!("{n} queries by instance with {{{{instance}}}} legends")
    })
}

/// Targets that aggregate `by (instance…)` (or keep it) and show it in the legend.
fn per_instance_targets(panels: &serde_json::Value) -> usize {
    let panels = panels.as_array().map(Vec::as_slice).unwrap_or_default();
    let mine = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default());
    let ok = |t: &serde_json::Value| {
        let legend = t["legendFormat"].as_str().unwrap_or("");
        let expr = t["expr"].as_str().unwrap_or("");
        legend.contains("{{instance}}")
            && (expr.contains("by (instance") || !expr.contains(" by ("))
    };
    let nested: usize = panels
        .iter()
        .map(|p| per_instance_targets(&p["panels"]))
        .sum();
    mine.filter(ok).count() + nested
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haproxy_and_attributes_read() {
        let cfg = "backend b\n    balance leastconn # x\n    server a h:80 check\n#server c d:1";
        assert_eq!(haproxy_backend(cfg), (vec!["leastconn"], vec!["h:80"]));
        assert_eq!(instance_id("a=b, service.instance.id=r2"), Some("r2"));
        assert_eq!(instance_id("service.instance=x"), None);
    }
}
