//! The compose file: its services, images, healthchecks, ports and mounts (how the services
//! are wired together is in `wiring`).

use super::dockerfile::{dockerfile_froms, pinned_image};
use crate::stack::files::{COMPOSE, SERVICES};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// A parsed compose file and the mounts of each service.
pub(super) struct ComposeFile {
    doc: Value,
    /// Service → [(host path relative to the workspace root or volume name, target, read-only)].
    mounts: BTreeMap<String, Vec<Mount>>,
}

/// One entry of a service's `volumes:`.
#[derive(Debug, Clone)]
pub(super) struct Mount {
    /// Bind mounts: the host path relative to the workspace root; named volumes: `None`.
    pub(super) host: Option<PathBuf>,
    pub(super) source: String,
    pub(super) target: String,
    pub(super) read_only: bool,
}

impl Mount {
    /// One entry of service `name`'s `volumes:`, short (`src:dst[:ro]`) or long form.
    fn parse(name: &str, v: &Value) -> Result<Self> {
        let (source, target, read_only) = match v {
            Value::String(short) => {
                let parts: Vec<&str> = short.split(':').collect();
                match parts.as_slice() {
                    [src, dst] => (src.to_string(), dst.to_string(), false),
                    [src, dst, mode] => (
                        src.to_string(),
                        dst.to_string(),
                        mode.split(',').any(|m| m == "ro"),
                    ),
                    _ => bail!("service {name}: cannot read volume `{short}`"),
                }
            }
            Value::Object(long) => {
                let field = |k: &str| {
                    long.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                (
                    field("source"),
                    field("target"),
                    long.get("read_only") == Some(&Value::Bool(true)),
                )
            }
            other => bail!("service {name}: cannot read volume {other}"),
        };
        let host = (source.starts_with('.') || source.starts_with('/'))
            .then(|| normalize(&Path::new("observability").join(&source)));
        Ok(Mount {
            host,
            source,
            target,
            read_only,
        })
    }
}

/// `a/./b/../c` → `a/c` (no file-system access).
pub(super) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `list` or `{KEY: value}` environment → map.
pub(super) fn environment(service: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match service.get("environment") {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                out.insert(k.clone(), v);
            }
        }
        Some(Value::Array(a)) => {
            for item in a.iter().filter_map(Value::as_str) {
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                out.insert(k.to_string(), v.to_string());
            }
        }
        _ => {}
    }
    out
}

/// A `command` as a list of words.
pub(super) fn command_words(service: &Value) -> Vec<String> {
    match service.get("command") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// `--name=value` or `--name value` in a command.
pub(super) fn flag_value(words: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    words.iter().enumerate().find_map(|(i, w)| {
        if let Some(v) = w.strip_prefix(&prefix) {
            Some(v.to_string())
        } else if w == name {
            words.get(i + 1).cloned()
        } else {
            None
        }
    })
}

/// `host:port` of a URL or address (`http://h:p/x`, `h:p`).
pub(super) fn host_port(addr: &str) -> Option<(String, u16)> {
    let rest = addr.split_once("://").map_or(addr, |(_, r)| r);
    let hostport = rest.split('/').next()?;
    let (host, port) = hostport.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// Port part of an `endpoint:` (`0.0.0.0:4317`).
pub(super) fn endpoint_port(v: Option<&Value>) -> Option<u16> {
    host_port(v?.as_str()?).map(|(_, p)| p)
}

/// `(published, target)` of one `ports:` entry, short (`[IP:]HOST:CONTAINER[/proto]`) or long form.
fn port_pair(p: &Value) -> (Option<u16>, Option<u16>) {
    match p {
        Value::String(short) => {
            let parts: Vec<&str> = short.split('/').next().unwrap_or("").split(':').collect();
            let n = parts.len();
            let target = parts[n - 1].parse::<u16>().ok();
            let host = if n >= 2 {
                parts[n - 2].parse::<u16>().ok()
            } else {
                None
            };
            (host, target)
        }
        Value::Object(long) => {
            let num = |k: &str| match long.get(k) {
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                Some(Value::String(s)) => s.parse().ok(),
                _ => None,
            };
            (num("published"), num("target"))
        }
        _ => (None, None),
    }
}

impl ComposeFile {
    pub(super) fn new(doc: &Value) -> Result<Self> {
        let services = doc
            .get("services")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{COMPOSE}: no `services` mapping"))?;
        let mut mounts = BTreeMap::new();
        for (name, s) in services {
            let list = s
                .get("volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| Mount::parse(name, v))
                .collect::<Result<Vec<_>>>()?;
            mounts.insert(name.clone(), list);
        }
        Ok(ComposeFile {
            doc: doc.clone(),
            mounts,
        })
    }

    pub(super) fn service(&self, name: &str) -> Result<&Value> {
        self.doc
            .get("services")
            .and_then(|s| s.get(name))
            .ok_or_else(|| anyhow!("no service `{name}`"))
    }

    pub(super) fn service_names(&self) -> Vec<String> {
        self.doc
            .get("services")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The mount of `service` whose host path is `host` (relative to the workspace root).
    pub(super) fn mount_of(&self, service: &str, host: &str) -> Option<&Mount> {
        self.mounts
            .get(service)?
            .iter()
            .find(|m| m.host.as_deref() == Some(Path::new(host)))
    }

    pub(super) fn services(&self) -> Result<String> {
        let have: BTreeSet<String> = self.service_names().into_iter().collect();
        let want: BTreeSet<String> = SERVICES.iter().map(|(s, _)| s.to_string()).collect();
        let missing: Vec<_> = want.difference(&have).cloned().collect();
        let extra: Vec<_> = have.difference(&want).cloned().collect();
        if !missing.is_empty() || !extra.is_empty() {
            bail!("missing {missing:?}, unexpected {extra:?}");
        }
        Ok(have.into_iter().collect::<Vec<_>>().join(", "))
    }

    /// Every `image:` and every `FROM` of the Dockerfiles they are built from.
    pub(super) fn pinned(&self) -> Result<String> {
        let mut checked = Vec::new();
        let mut problems = Vec::new();
        for name in self.service_names() {
            let s = self.service(&name)?;
            let mut images: Vec<String> = Vec::new();
            if let Some(build) = s.get("build") {
                if let Some(inline) = build.get("dockerfile_inline").and_then(Value::as_str) {
                    images.extend(dockerfile_froms(inline));
                } else {
                    let context = build.get("context").and_then(Value::as_str).unwrap_or(".");
                    let file = build
                        .get("dockerfile")
                        .and_then(Value::as_str)
                        .unwrap_or("Dockerfile");
                    let path = normalize(&Path::new("observability").join(context).join(file));
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("service {name}: reading {}", path.display()))?;
                    images.extend(dockerfile_froms(&text));
                }
                // The `image:` of a built service names the result; it must still not float.
                if let Some(img) = s.get("image").and_then(Value::as_str) {
                    if img.ends_with(":latest") || !img.contains(':') {
                        problems.push(format!(
                            "{name}: built image named `{img}` without a version"
                        ));
                    }
                }
            } else {
                match s.get("image").and_then(Value::as_str) {
                    Some(img) => images.push(img.to_string()),
                    None => problems.push(format!("{name}: neither image nor build")),
                }
            }
            for img in images {
                match pinned_image(&img) {
                    Ok(()) => checked.push(img),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
        }
        if problems.is_empty() {
            Ok(checked.join(", "))
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    pub(super) fn healthchecks(&self) -> Result<String> {
        let mut problems = Vec::new();
        for name in self.service_names() {
            let s = self.service(&name)?;
            let Some(hc) = s.get("healthcheck") else {
                problems.push(format!("{name}: none"));
                continue;
            };
            let test = match hc.get("test") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                Some(Value::String(t)) => vec![t.clone()],
                _ => Vec::new(),
            };
            if test.is_empty() || test[0] == "NONE" || hc.get("disable") == Some(&Value::Bool(true))
            {
                problems.push(format!("{name}: disabled or empty test"));
            }
            if hc.get("interval").is_none() || hc.get("retries").is_none() {
                problems.push(format!("{name}: no interval/retries"));
            }
        }
        if problems.is_empty() {
            Ok(String::new())
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    pub(super) fn ports(&self) -> Result<String> {
        let mut problems = Vec::new();
        let mut seen = BTreeMap::new();
        for (name, want) in SERVICES {
            let s = self.service(name)?;
            let mut published = BTreeSet::new();
            for p in s
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match port_pair(p) {
                    (Some(h), Some(t)) if h == t => {
                        if let Some(other) = seen.insert(h, name) {
                            problems.push(format!("host port {h} published by {other} and {name}"));
                        }
                        published.insert(h);
                    }
                    _ => problems.push(format!(
                        "{name}: port `{p}` is not HOST:CONTAINER with equal numbers"
                    )),
                }
            }
            let want: BTreeSet<u16> = want.iter().copied().collect();
            if published != want {
                problems.push(format!(
                    "{name}: publishes {published:?}, expected {want:?}"
                ));
            }
        }
        if problems.is_empty() {
            Ok(seen
                .keys()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "))
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    pub(super) fn volumes(&self) -> Result<String> {
        let declared: BTreeSet<String> = self
            .doc
            .get("volumes")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        let mut n = 0;
        for (name, list) in &self.mounts {
            for m in list {
                n += 1;
                match &m.host {
                    Some(host) => {
                        if !host.exists() {
                            problems.push(format!("{name}: {} does not exist", host.display()));
                        }
                        // Configuration and models are never written to by the containers.
                        if !m.read_only {
                            problems.push(format!("{name}: {} is not mounted read-only", m.source));
                        }
                    }
                    None => {
                        if !declared.contains(&m.source) {
                            problems.push(format!("{name}: volume `{}` not declared", m.source));
                        }
                    }
                }
            }
        }
        match self
            .mounts
            .get("llama-server")
            .and_then(|l| l.iter().find(|m| m.target == "/models"))
        {
            Some(m) if m.host.as_deref() == Some(Path::new("models")) && m.read_only => {}
            _ => problems.push("llama-server: ./models is not mounted read-only at /models".into()),
        }
        if problems.is_empty() {
            Ok(format!("{n} mounts"))
        } else {
            bail!("{}", problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_paths() {
        assert_eq!(
            host_port("http://otel-collector:4317"),
            Some(("otel-collector".into(), 4317))
        );
        assert_eq!(host_port("jaeger:4317"), Some(("jaeger".into(), 4317)));
        assert_eq!(
            normalize(Path::new("observability/../models")),
            PathBuf::from("models")
        );
    }
}
