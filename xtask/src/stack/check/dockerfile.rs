//! Docker images pinned to exact versions, and the root Dockerfile that builds llama-server:
//! multi-stage, a slim non-root runtime, built with otel, a small build context.

use super::outcome;
use crate::stack::files::{DOCKERFILE, DOCKERIGNORE};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;

/// The tag is an exact version: `1.2.3` (optionally `v`-prefixed, with a `-variant`), Debian's
/// `12.8`-style point release, or a digest.
pub(super) fn pinned_image(image: &str) -> Result<()> {
    if image.contains("@sha256:") {
        return Ok(());
    }
    if image.contains('$') {
        bail!("{image}: the tag comes from a variable");
    }
    let name = &image[image.rfind('/').map_or(0, |i| i + 1)..];
    let Some((name, tag)) = name.rsplit_once(':') else {
        bail!("{image}: no tag (that means `latest`)");
    };
    let version = tag.trim_start_matches('v').split('-').next().unwrap_or("");
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric || parts.len() < if name == "debian" { 2 } else { 3 } {
        bail!("{image}: `{tag}` is not an exact version");
    }
    Ok(())
}

/// The words of `line` if it is the instruction `word` (any case).
fn instruction<'a>(line: &'a str, word: &str) -> Option<Vec<&'a str>> {
    let mut words = line.split_whitespace();
    words.next().filter(|w| w.eq_ignore_ascii_case(word))?;
    Some(words.filter(|w| !w.starts_with("--")).collect())
}

/// `FROM` images of a Dockerfile, without references to its own stages.
pub(super) fn dockerfile_froms(text: &str) -> Vec<String> {
    let mut stages = BTreeSet::new();
    let mut images = Vec::new();
    for from in text.lines().filter_map(|l| instruction(l, "FROM")) {
        if let Some(image) = from.first().filter(|i| !stages.contains(&i.to_lowercase())) {
            images.push(image.to_string());
        }
        if let [_, as_, stage, ..] = from[..] {
            if as_.eq_ignore_ascii_case("AS") {
                stages.insert(stage.to_lowercase());
            }
        }
    }
    images
}

/// The root Dockerfile.
pub(super) fn check_dockerfile() -> Result<String> {
    let text = std::fs::read_to_string(DOCKERFILE).context("reading Dockerfile")?;
    let mut problems = Vec::new();
    let froms = dockerfile_froms(&text);
    problems.extend(
        froms
            .iter()
            .filter_map(|i| pinned_image(i).err().map(|e| e.to_string())),
    );
    let stages: Vec<&str> = text.split_inclusive('\n').collect();
    let last_from = stages
        .iter()
        .rposition(|l| instruction(l, "FROM").is_some());
    let runtime = &stages[last_from.unwrap_or(0)..];
    if text
        .lines()
        .filter(|l| instruction(l, "FROM").is_some())
        .count()
        < 2
    {
        problems.push("not multi-stage".to_string());
    }
    if !runtime
        .first()
        .is_some_and(|l| l.contains("slim") || l.contains("distroless"))
    {
        problems.push(format!(
            "runtime stage {:?} is not a slim image",
            runtime.first()
        ));
    }
    let user = runtime
        .iter()
        .find_map(|l| instruction(l, "USER")?.first().copied());
    let uid = user.unwrap_or("").split(':').next().unwrap_or("");
    if matches!(uid, "" | "root" | "0") {
        problems.push("the runtime stage does not switch to a non-root USER".into());
    }
    let features = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ARG FEATURES="));
    if !features
        .unwrap_or("")
        .split(',')
        .any(|f| f == "otel" || f == "llama-server/otel")
    {
        problems.push(format!("ARG FEATURES={features:?} lacks otel"));
    }
    if !text.contains("cargo build --release") || !text.contains("--features \"$FEATURES\"") {
        problems.push("no `cargo build --release ... --features \"$FEATURES\"`".into());
    }
    let ignore = std::fs::read_to_string(DOCKERIGNORE).unwrap_or_default();
    for must in ["target", "models", ".git"] {
        if !ignore.lines().any(|l| l.trim().trim_matches('/') == must) {
            problems.push(format!(".dockerignore does not exclude {must}"));
        }
    }
    outcome(problems, || {
        format!("{} → user {}", froms.join(" → "), user.unwrap_or(""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_images() {
        for ok in [
            "prom/prometheus:v2.55.1",
            "rust:1.85.0-bookworm",
            "debian:12.8-slim",
            "localhost:5000/x/y:1.2.3",
            "busybox@sha256:abc",
        ] {
            assert!(pinned_image(ok).is_ok(), "{ok}");
        }
        for bad in [
            "prom/prometheus",
            "prom/prometheus:latest",
            "grafana/grafana:11",
            "debian:bookworm-slim",
            "localhost:5000/x",
            "x:${TAG}",
        ] {
            assert!(pinned_image(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dockerfile_froms_skip_stages() {
        let text = "FROM rust:1.85.0 AS build\nRUN x\nFROM --platform=linux/amd64 debian:12.8-slim\nCOPY --from=build a b\nFROM build\n";
        assert_eq!(
            dockerfile_froms(text),
            vec!["rust:1.85.0", "debian:12.8-slim"]
        );
    }
}
