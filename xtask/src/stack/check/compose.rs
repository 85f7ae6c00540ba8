//! The compose file's own rules (no tool has them): the five services and their ports, images
//! pinned to exact versions, a healthcheck everywhere, mounted files present and read-only.

use super::config::{Compose, Service};
use super::dockerfile::{dockerfile_froms, pinned_image};
use super::outcome;
use crate::stack::files::SERVICES;
use anyhow::{bail, Context, Result};
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// One entry of a service's `volumes:`.
#[derive(Debug)]
pub(super) struct Mount {
    /// Bind mounts: the host path relative to the workspace root; named volumes: `None`.
    pub(super) host: Option<PathBuf>,
    pub(super) source: String,
    pub(super) target: String,
    pub(super) read_only: bool,
}

impl Mount {
    /// Short (`src:dst[:ro]`) or long form.
    fn parse(v: &Value) -> Result<Self> {
        let (source, target, read_only) = if let Some(short) = v.as_str() {
            let parts: Vec<&str> = short.split(':').collect();
            let ro = parts
                .get(2)
                .is_some_and(|m| m.split(',').any(|m| m == "ro"));
            match parts[..] {
                [src, dst, ..] => (src.to_string(), dst.to_string(), ro),
                _ => bail!("cannot read volume `{short}`"),
            }
        } else {
            let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let ro = v.get("read_only").and_then(Value::as_bool) == Some(true);
            (field("source"), field("target"), ro)
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

/// The mounts of a service.
pub(super) fn mounts(s: &Service) -> Result<Vec<Mount>> {
    s.volumes.iter().map(Mount::parse).collect()
}

/// The mount of `service` whose host path is `host` (relative to the workspace root).
pub(super) fn mount_of(c: &Compose, service: &str, host: &str) -> Option<Mount> {
    let s = c.services.get(service)?;
    mounts(s)
        .ok()?
        .into_iter()
        .find(|m| m.host.as_deref() == Some(Path::new(host)))
}

/// `a/./b/../c` → `a/c` (no file-system access).
pub(super) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if out.pop() => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `(published, target)` of one `ports:` entry, short (`[IP:]HOST:CONTAINER[/proto]`) or long.
fn port_pair(p: &Value) -> (Option<u16>, Option<u16>) {
    if let Some(short) = p.as_str() {
        let parts: Vec<&str> = short.split('/').next().unwrap_or("").rsplit(':').collect();
        let num = |i: usize| parts.get(i).and_then(|p| p.parse().ok());
        return (num(1), num(0));
    }
    let num = |k: &str| {
        p.get(k)
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
    };
    let port = |k: &str| num(k).and_then(|n| u16::try_from(n).ok());
    (port("published"), port("target"))
}

/// Exactly the five services, each publishing its ports (the same number outside and inside).
pub(super) fn services_and_ports(c: &Compose) -> Result<String> {
    let have: BTreeSet<&str> = c.services.keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = SERVICES.iter().map(|(s, _)| *s).collect();
    if have != want {
        bail!("services {have:?}, expected {want:?}");
    }
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (name, want) in SERVICES {
        let mut published = BTreeSet::new();
        for p in &c.services[name].ports {
            match port_pair(p) {
                (Some(h), Some(t)) if h == t => {
                    if let Some(other) = seen.insert(h, name) {
                        problems.push(format!("host port {h} published by {other} and {name}"));
                    }
                    published.insert(h);
                }
                _ => problems.push(format!("{name}: port {p:?} is not HOST:CONTAINER, equal")),
            }
        }
        if published != want.iter().copied().collect() {
            problems.push(format!(
                "{name}: publishes {published:?}, expected {want:?}"
            ));
        }
    }
    outcome(problems, || format!("{} ports", seen.len()))
}

/// Every `image:`, and every `FROM` of the Dockerfiles the services are built from.
pub(super) fn pinned(c: &Compose) -> Result<String> {
    let mut problems = Vec::new();
    let mut images = Vec::new();
    for (name, s) in &c.services {
        let mut mine = Vec::new();
        match &s.build {
            Some(b) => {
                let text = match &b.dockerfile_inline {
                    Some(inline) => inline.clone(),
                    None => {
                        let file = b.dockerfile.as_deref().unwrap_or("Dockerfile");
                        let dir =
                            Path::new("observability").join(b.context.as_deref().unwrap_or("."));
                        let path = normalize(&dir.join(file));
                        std::fs::read_to_string(&path)
                            .with_context(|| format!("{name}: reading {}", path.display()))?
                    }
                };
                mine.extend(dockerfile_froms(&text));
                // The `image:` of a built service names the result; it must not float either.
                mine.extend(s.image.clone());
            }
            None => match &s.image {
                Some(img) => mine.push(img.clone()),
                None => problems.push(format!("{name}: neither image nor build")),
            },
        }
        for img in mine {
            match pinned_image(&img) {
                Ok(()) => images.push(img),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }
    outcome(problems, || images.join(", "))
}

/// Every service has an enabled healthcheck with an interval and retries.
pub(super) fn healthchecks(c: &Compose) -> Result<String> {
    let mut problems = Vec::new();
    for (name, s) in &c.services {
        match &s.healthcheck {
            None => problems.push(format!("{name}: none")),
            Some(h) => {
                let test = h.test.words();
                if h.disable || test.first().is_none_or(|t| t == "NONE") {
                    problems.push(format!("{name}: disabled or empty test"));
                }
                if h.interval.is_none() || h.retries.is_none() {
                    problems.push(format!("{name}: no interval/retries"));
                }
            }
        }
    }
    outcome(problems, String::new)
}

/// Bind-mounted files exist and are read-only (configuration and models are never written);
/// named volumes are declared; the models folder is at /models.
pub(super) fn volumes(c: &Compose) -> Result<String> {
    let mut problems = Vec::new();
    let mut n = 0;
    for (name, s) in &c.services {
        for m in mounts(s).with_context(|| format!("service {name}"))? {
            n += 1;
            match &m.host {
                Some(host) if !host.exists() => {
                    problems.push(format!("{name}: {} does not exist", host.display()))
                }
                Some(_) if !m.read_only => {
                    problems.push(format!("{name}: {} is not mounted read-only", m.source))
                }
                None if !c.volumes.contains_key(&m.source) => {
                    problems.push(format!("{name}: volume `{}` not declared", m.source))
                }
                _ => {}
            }
        }
    }
    match mount_of(c, "llama-server", "models") {
        Some(m) if m.target == "/models" && m.read_only => {}
        _ => problems.push("llama-server: ./models is not mounted read-only at /models".into()),
    }
    outcome(problems, || format!("{n} mounts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_paths() {
        let short = Value::String("127.0.0.1:4317:4317/tcp".into());
        assert_eq!(port_pair(&short), (Some(4317), Some(4317)));
        assert_eq!(port_pair(&Value::String("8080".into())), (None, Some(8080)));
        let long: Value = serde_norway::from_str("{published: \"80\", target: 8080}").unwrap();
        assert_eq!(port_pair(&long), (Some(80), Some(8080)));
        assert_eq!(
            normalize(Path::new("observability/../models")),
            PathBuf::from("models")
        );
        let m = Mount::parse(&Value::String("../models:/models:ro".into())).unwrap();
        assert_eq!(
            (m.host.unwrap(), m.read_only),
            (PathBuf::from("models"), true)
        );
    }
}
