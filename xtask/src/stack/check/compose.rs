//! The compose file: its services' mounts (for the wiring), and images pinned to exact versions
//! (the `FROM`s of the Dockerfiles they are built from too), a rule no tool checks.

use super::config::Doc;
use super::outcome;
use anyhow::{bail, Context, Result};
use serde_norway::Value;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

/// One entry of a service's `volumes:`.
#[derive(Debug)]
pub(super) struct Mount {
    /// Bind mounts: the host path relative to the workspace root; named volumes: `None`.
    pub(super) host: Option<PathBuf>,
    pub(super) target: String,
    pub(super) read_only: bool,
}

/// A `volumes:` entry, short (`src:dst[:ro]`) or long form.
fn mount(v: &Value) -> Result<Mount> {
    let (source, target, read_only) = match v.as_str() {
        Some(short) => match short.split(':').collect::<Vec<_>>()[..] {
            [src, dst] => (src.to_string(), dst.to_string(), false),
            [src, dst, mode] => (src.into(), dst.into(), mode.split(',').any(|m| m == "ro")),
            _ => bail!("cannot read volume `{short}`"),
        },
        None => {
            let field = |k: &str| v.text(k).unwrap_or("").to_string();
            let ro = v.at("read_only").and_then(Value::as_bool) == Some(true);
            (field("source"), field("target"), ro)
        }
    };
    let host = (source.starts_with('.') || source.starts_with('/'))
        .then(|| normalize(&Path::new("observability").join(&source)));
    Ok(Mount {
        host,
        target,
        read_only,
    })
}

fn mounts(c: &Value, service: &str) -> Result<Vec<Mount>> {
    let list = c.items(&format!("services.{service}.volumes"));
    list.into_iter().map(mount).collect()
}

/// The mount of `service` whose host path is `host` (relative to the workspace root).
pub(super) fn mount_of(c: &Value, service: &str, host: &str) -> Option<Mount> {
    let list = mounts(c, service).ok()?;
    list.into_iter()
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

/// The tag is an exact version: `1.2.3` (optionally `v`-prefixed, with a `-variant`), Debian's
/// `12.8`-style point release, or a digest.
fn pinned_image(image: &str) -> Result<()> {
    let name = &image[image.rfind('/').map_or(0, |i| i + 1)..];
    let (name, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    let version = tag.trim_start_matches('v').split('-').next().unwrap_or("");
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let exact = numeric && parts.len() >= if name == "debian" { 2 } else { 3 };
    if !exact && !image.contains("@sha256:") {
        bail!("{image}: `{tag}` is not an exact version");
    }
    Ok(())
}

/// `FROM` images of a Dockerfile, without references to its own stages.
fn dockerfile_froms(text: &str) -> Vec<String> {
    let (mut stages, mut images) = (BTreeSet::new(), Vec::new());
    for line in text.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let [from, image, rest @ ..] = &words[..] else {
            continue;
        };
        if from.eq_ignore_ascii_case("FROM") {
            if !stages.contains(&image.to_lowercase()) {
                images.push(image.to_string());
            }
            if let [as_, stage, ..] = rest {
                stages.extend(as_.eq_ignore_ascii_case("AS").then(|| stage.to_lowercase()));
            }
        }
    }
    images
}

/// The Dockerfile a service is built from.
fn dockerfile(name: &str, build: &Value) -> Result<String> {
    if let Some(inline) = build.text("dockerfile_inline") {
        return Ok(inline.to_string());
    }
    let dir = Path::new("observability").join(build.text("context").unwrap_or("."));
    let path = normalize(&dir.join(build.text("dockerfile").unwrap_or("Dockerfile")));
    std::fs::read_to_string(&path).with_context(|| format!("{name}: reading {}", path.display()))
}

/// Every `image:`, and every `FROM` of the Dockerfiles the services are built from.
pub(super) fn pinned(c: &Value) -> Result<String> {
    let (mut p, mut images) = (Vec::new(), Vec::new());
    for (name, s) in c.entries("services") {
        let mut mine: Vec<String> = s.text("image").into_iter().map(String::from).collect();
        if let Some(build) = s.at("build") {
            mine.extend(dockerfile_froms(&dockerfile(name, build)?));
        }
        for img in mine {
            match pinned_image(&img) {
                Ok(()) => images.push(img),
                Err(e) => p.push(format!("{name}: {e}")),
            }
        }
    }
    outcome(p, || images.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_and_images() {
        let m = mount(&Value::String("../models:/models:ro".into())).unwrap();
        assert_eq!(
            (m.host.unwrap(), m.read_only),
            (PathBuf::from("models"), true)
        );
        for ok in [
            "prom/prometheus:v2.55.1",
            "debian:12.8-slim",
            "h:5/x/y:1.2.3",
            "b@sha256:a",
        ] {
            assert!(pinned_image(ok).is_ok(), "{ok}");
        }
        for bad in [
            "prom/prometheus",
            "p:latest",
            "grafana:11",
            "debian:bookworm",
            "x:${TAG}",
        ] {
            assert!(pinned_image(bad).is_err(), "{bad}");
        }
        let text = "FROM rust:1.85.0 AS build\nFROM --platform=x debian:12.8-slim\nFROM build\n";
        assert_eq!(
            dockerfile_froms(text),
            vec!["rust:1.85.0", "debian:12.8-slim"]
        );
    }
}
