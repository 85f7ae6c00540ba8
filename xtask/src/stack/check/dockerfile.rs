//! Docker images: exact-version tags, the `FROM`s of a Dockerfile, and the root Dockerfile that
//! builds llama-server.

use crate::stack::files::{DOCKERFILE, DOCKERIGNORE};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;

/// The image's tag is an exact version: `1.2.3` (optionally `v`-prefixed, with a `-variant`),
/// Debian's `12.8`-style point release, or a digest.
pub(super) fn pinned_image(image: &str) -> Result<()> {
    if image.contains("@sha256:") {
        return Ok(());
    }
    if image.contains('$') {
        bail!("{image}: the tag comes from a variable");
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    let Some(colon) = image[name_start..].rfind(':') else {
        bail!("{image}: no tag (that means `latest`)");
    };
    let name = &image[name_start..name_start + colon];
    let tag = &image[name_start + colon + 1..];
    let version = tag.trim_start_matches('v').split('-').next().unwrap_or("");
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = !version.is_empty()
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let needed = if name == "debian" { 2 } else { 3 };
    if tag == "latest" || !numeric || parts.len() < needed {
        bail!("{image}: `{tag}` is not an exact version");
    }
    Ok(())
}

/// `FROM` images of a Dockerfile's text, without references to its own stages.
pub(super) fn dockerfile_froms(text: &str) -> Vec<String> {
    let mut stages = BTreeSet::new();
    let mut images = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        {
            let rest: Vec<&str> = words[1..]
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            if let Some(image) = rest.first() {
                if !stages.contains(&image.to_lowercase()) {
                    images.push((*image).to_string());
                }
            }
            if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("AS") {
                stages.insert(rest[2].to_lowercase());
            }
        }
    }
    images
}

/// Whether `line` is the instruction `word` (`FROM`, `USER`, any case).
fn is_instruction(line: &str, word: &str) -> bool {
    line.split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
}

/// The root Dockerfile: multi-stage, pinned, a slim non-root runtime stage, built with otel.
pub(super) fn check_dockerfile() -> Result<String> {
    let text = std::fs::read_to_string(DOCKERFILE).context("reading Dockerfile")?;
    let mut problems = Vec::new();
    let froms = dockerfile_froms(&text);
    let stages = text.lines().filter(|l| is_instruction(l, "FROM")).count();
    if stages < 2 {
        problems.push("not multi-stage".to_string());
    }
    for img in &froms {
        if let Err(e) = pinned_image(img) {
            problems.push(e.to_string());
        }
    }
    let user = runtime_stage(&text, &mut problems);
    build_and_ignore(&text, &mut problems);
    if problems.is_empty() {
        Ok(format!("{} → user {user}", froms.join(" → ")))
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// The last stage: its base image is slim and its USER not root; returns the USER.
fn runtime_stage<'a>(text: &'a str, problems: &mut Vec<String>) -> &'a str {
    let last_stage: Vec<&str> = text
        .lines()
        .rev()
        .take_while(|l| !is_instruction(l, "FROM"))
        .collect();
    let last_from = text
        .lines()
        .rev()
        .find(|l| is_instruction(l, "FROM"))
        .unwrap_or("");
    if !(last_from.contains("slim") || last_from.contains("distroless")) {
        problems.push(format!("runtime stage `{last_from}` is not a slim image"));
    }
    let user = last_stage
        .iter()
        .find(|l| is_instruction(l, "USER"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    let uid = user.split(':').next().unwrap_or("");
    if uid.is_empty() || uid == "root" || uid == "0" {
        problems.push("the runtime stage does not switch to a non-root USER".into());
    }
    user
}

/// The build: release, with `$FEATURES` defaulting to otel; `.dockerignore` keeps the build
/// context small.
fn build_and_ignore(text: &str, problems: &mut Vec<String>) {
    let default_features = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ARG FEATURES="))
        .unwrap_or("");
    if !default_features
        .split(',')
        .any(|f| f == "otel" || f == "llama-server/otel")
    {
        problems.push(format!("ARG FEATURES=`{default_features}` lacks otel"));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_images() {
        for ok in [
            "prom/prometheus:v2.55.1",
            "grafana/grafana:11.4.0",
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
            "rust:1.85-bookworm",
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
