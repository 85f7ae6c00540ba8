//! The real tools: `promtool` (required), and where installed `docker compose config` and
//! `otelcol-contrib validate`, which know the compose schema and the collector's components
//! better than any list copied here. Where one is missing the output says so and a static
//! check stands in.

use super::{outcome, Report, Stack};
use crate::stack::files::{ALERTS, COLLECTOR, COMPOSE, PROM_CONFIG};
use crate::stack::process::which;
use crate::util;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `program args` in `root`; its last output line, or its whole output as the error.
fn run(root: &Path, program: &str, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(which(program).with_context(|| format!("{program} not on PATH"))?);
    let out = cmd
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            util::display(&cmd),
            text.trim().replace('\n', " | ")
        );
    }
    Ok(text.trim().lines().last().unwrap_or("").to_string())
}

/// `promtool check config` and `check rules`: Debian's `prometheus` package has promtool, so it
/// is required, like Prometheus for the live part.
pub(super) fn promtool(root: &Path, report: &mut Report) {
    for (what, file) in [("config", PROM_CONFIG), ("rules", ALERTS)] {
        report.record(
            &format!("promtool check {what}"),
            run(root, "promtool", &["check", what, file]),
        );
    }
}

/// The compose file and the collector's config through their own tools where installed, else
/// (saying so) through the static stand-ins.
pub(super) fn optional(stack: &Stack, report: &mut Report) {
    let (compose, config) = (
        ["compose", "-f", COMPOSE, "config", "-q"],
        format!("--config={COLLECTOR}"),
    );
    let probe = ["docker", "compose", "version"];
    tool(
        stack,
        report,
        "docker compose config",
        &probe,
        &compose,
        Stack::services,
    );
    let probe = ["otelcol-contrib", "--version"];
    tool(
        stack,
        report,
        "otelcol-contrib validate",
        &probe,
        &["validate", &config],
        Stack::pipelines,
    );
}

/// `probe` (`program args`) says whether a tool is installed: then `program args` checks,
/// else the output says so and `stand_in` checks.
fn tool(
    s: &Stack,
    report: &mut Report,
    name: &str,
    probe: &[&str],
    args: &[&str],
    stand_in: StandIn,
) {
    match run(&s.root, probe[0], &probe[1..]) {
        Ok(version) => report.record(name, run(&s.root, probe[0], args).map(|_| version)),
        Err(_) => {
            report.skip(
                name,
                &format!("not installed (`{}` failed)", probe.join(" ")),
            );
            report.record(&format!("{name} (static stand-in)"), stand_in(s));
        }
    }
}

type StandIn = fn(&Stack) -> Result<String>;

impl Stack {
    /// Every service has an image or a build, and depends only on services.
    fn services(&self) -> Result<String> {
        let services = &self.compose.services;
        let mut p = Vec::new();
        for (name, s) in services {
            if s.image.is_none() && s.build.is_none() {
                p.push(format!("{name} has neither image nor build"));
            }
            let unknown = s
                .depends_on
                .names()
                .into_iter()
                .filter(|d| !services.contains_key(*d));
            p.extend(unknown.map(|d| format!("{name} depends on unknown service {d}")));
        }
        outcome(p, || format!("{} services", services.len()))
    }

    /// Every component a pipeline names is defined (connectors count as exporter and receiver),
    /// and so is every extension the service enables.
    fn pipelines(&self) -> Result<String> {
        let c = &self.collector;
        let defined = |kind: &str| match kind {
            "receivers" => vec![&c.receivers, &c.connectors],
            "processors" => vec![&c.processors],
            "exporters" => vec![&c.exporters, &c.connectors],
            _ => vec![],
        };
        let extensions = c
            .service
            .extensions
            .iter()
            .filter(|e| !c.extensions.contains_key(*e));
        let mut p: Vec<_> = extensions
            .map(|e| format!("extension {e} is not defined"))
            .collect();
        for (name, pipeline) in &c.service.pipelines {
            for (kind, ids) in pipeline {
                let defined = defined(kind);
                let undefined = ids
                    .iter()
                    .filter(|id| !defined.iter().any(|d| d.contains_key(*id)));
                p.extend(
                    undefined.map(|id| format!("pipeline {name}: {kind} {id} is not defined")),
                );
            }
        }
        let n = c.service.pipelines.len();
        outcome(p, || format!("{n} pipelines name only defined components"))
    }
}
