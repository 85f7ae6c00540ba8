//! Images pinned to exact versions, in the compose file and in the `FROM`s of the Dockerfiles its
//! services are built from: a rule no tool checks.

use super::config::Build;
use super::wiring::normalize;
use super::{outcome, Stack};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// The tag is an exact version: `1.2.3` (optionally `v`-prefixed, with a `-variant`), Debian's
/// `12.8`-style point release, or a digest.
pub(super) fn pinned_image(image: &str) -> Result<()> {
    let name = &image[image.rfind('/').map_or(0, |i| i + 1)..];
    let (name, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    let version = tag.trim_start_matches('v').split('-').next().unwrap_or("");
    let parts: Vec<&str> = version.split('.').collect();
    let digits = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    let exact = parts.iter().all(digits) && parts.len() >= 3 - usize::from(name == "debian");
    if !exact && !image.contains("@sha256:") {
        bail!("{image}: `{tag}` is not an exact version");
    }
    Ok(())
}

/// `FROM` images of a Dockerfile, without references to its own stages.
fn dockerfile_froms(text: &str) -> Vec<String> {
    let (mut stages, mut images) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let [from, image, rest @ ..] = &words[..] else {
            continue;
        };
        if from.eq_ignore_ascii_case("FROM") && !stages.contains(&image.to_lowercase()) {
            images.push(image.to_string());
        }
        if let (true, [as_, stage, ..]) = (from.eq_ignore_ascii_case("FROM"), rest) {
            stages.extend(as_.eq_ignore_ascii_case("AS").then(|| stage.to_lowercase()));
        }
    }
    images
}

impl Stack {
    /// The Dockerfile a service is built from.
    pub(super) fn dockerfile(&self, build: &Build) -> Result<String> {
        if let Some(inline) = &build.dockerfile_inline {
            return Ok(inline.clone());
        }
        let dir = Path::new("observability").join(build.context.as_deref().unwrap_or("."));
        let path = normalize(&dir.join(build.dockerfile.as_deref().unwrap_or("Dockerfile")));
        let text = std::fs::read_to_string(self.root.join(&path));
        text.with_context(|| format!("reading {}", path.display()))
    }

    /// Every `image:`, and every `FROM` of the Dockerfiles the services are built from.
    pub(super) fn pinned(&self) -> Result<String> {
        let (mut p, mut images) = (Vec::new(), Vec::new());
        for (name, s) in &self.compose.services {
            let mut mine: Vec<String> = s.image.iter().cloned().collect();
            if let Some(build) = &s.build {
                mine.extend(dockerfile_froms(&self.dockerfile(build)?));
            }
            for image in mine {
                match pinned_image(&image) {
                    Ok(()) => images.push(image),
                    Err(e) => p.push(format!("{name}: {e}")),
                }
            }
        }
        outcome(p, || images.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_pinned() {
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
        assert_eq!(dockerfile_froms(text), ["rust:1.85.0", "debian:12.8-slim"]);
    }
}
