//! The real tools: `promtool` (required), and where installed `docker compose config` and
//! `otelcol-contrib validate`, which know the compose schema and the collector's components
//! better than any list copied here. Where one is missing the output says so and a static
//! check stands in.

use super::{outcome, Report, Stack};
use crate::stack::files::{
    ALERTS, COLLECTOR, COMPOSE, HAPROXY, KUBERNETES, PROM_CONFIG, PROM_REPLICAS, REPLICAS,
};
use crate::stack::process::which;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `command` (words split at spaces) in `root`; its last output line, or its whole
/// output as the error.
fn run(root: &Path, command: &str) -> Result<String> {
    let mut words = command.split(' ');
    let program = words.next().unwrap_or_default();
    let program = which(program).with_context(|| format!("{program} not on PATH"))?;
    let mut cmd = Command::new(program);
    let out = cmd
        .args(words)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("`{command}` failed: {}", text.trim().replace('\n', " | "));
    }
    Ok(text.trim().lines().last().unwrap_or("").to_string())
}

/// A check's name: its command without options and paths.
fn name(command: &str) -> String {
    let words = command
        .split(' ')
        .filter(|w| !w.starts_with('-') && !w.contains('/'));
    words.collect::<Vec<_>>().join(" ")
}

/// `promtool check config` and `check rules`: Debian's `prometheus` package has promtool, so it
/// is required, like Prometheus for the live part.
pub(super) fn promtool(root: &Path, report: &mut Report) {
    let files = [
        ("config", PROM_CONFIG),
        ("config", PROM_REPLICAS),
        ("rules", ALERTS),
    ];
    for (what, file) in files {
        let command = format!("promtool check {what} {file}");
        report.record(&name(&command), run(root, &command));
    }
}

/// `kubernetes-validate --strict` (PyPI; the Kubernetes OpenAPI schemas, offline) over the
/// manifests where installed: the schema the typed check in kube.rs only covers in part.
pub(super) fn kubernetes_validate(root: &Path, report: &mut Report) {
    let probe = "kubernetes-validate --version";
    let name = "kubernetes-validate --strict";
    if run(root, probe).is_err() {
        return report.skip(name, "not installed (PyPI `kubernetes-validate`)");
    }
    let dir = root.join(KUBERNETES);
    let files = std::fs::read_dir(&dir).map(|d| {
        let mut f: Vec<String> = d
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".yaml"))
            .map(|n| format!("{KUBERNETES}/{n}"))
            .collect();
        f.sort();
        f
    });
    let result = files.map_err(Into::into).and_then(|f| {
        let command = format!("kubernetes-validate --strict --quiet {}", f.join(" "));
        run(root, &command).map(|_| format!("{} files", f.len()))
    });
    report.record(name, result);
}

/// `haproxy -c` (Debian package `haproxy`) over the replicas overlay's load balancer config.
pub(super) fn haproxy(root: &Path, report: &mut Report) {
    let name = "haproxy -c";
    if run(root, "haproxy -v").is_err() {
        return report.skip(name, "not installed (Debian package `haproxy`)");
    }
    let checked = run(root, &format!("haproxy -c -q -f {HAPROXY}"));
    report.record(name, checked.map(|_| HAPROXY.to_string()));
}

type StandIn = fn(&Stack) -> Result<String>;

/// The compose file and the collector's config through their own tools where installed (the
/// first command of each says whether), else (saying so) through the static stand-ins.
pub(super) fn optional(stack: &Stack, report: &mut Report) {
    let compose = format!("docker compose -f {COMPOSE} config -q");
    let collector = format!("otelcol-contrib validate --config={COLLECTOR}");
    let tools: [(&str, String, StandIn); 2] = [
        ("docker compose version", compose, Stack::services),
        ("otelcol-contrib --version", collector, Stack::pipelines),
    ];
    // The replicas overlay merged over the stack, as `up` would read it; where Docker is
    // missing, the `replicas overlay` check is the stand-in.
    let overlay = format!("docker compose -f {COMPOSE} -f {REPLICAS} --profile replicas config -q");
    if run(&stack.root, "docker compose version").is_ok() {
        let name = "docker compose config (replicas overlay)";
        report.record(name, run(&stack.root, &overlay));
    }
    for (probe, command, stand_in) in tools {
        let (name, root) = (name(&command), &stack.root);
        match run(root, probe) {
            Ok(version) => report.record(&name, run(root, &command).map(|_| version)),
            Err(_) => {
                report.skip(&name, &format!("not installed (`{probe}` failed)"));
                report.record(&format!("{name} (static stand-in)"), stand_in(stack));
            }
        }
    }
}

impl Stack {
    /// Every service has an image or a build, and depends only on services.
    fn services(&self) -> Result<String> {
        let services = &self.compose.services;
        let mut p = Vec::new();
        for (name, s) in services {
            if s.image.is_none() && s.build.is_none() {
                p.push(format!("{name} has neither image nor build"));
            }
            for dep in s.depends_on.names() {
                if !services.contains_key(dep) {
                    p.push(format!("{name} depends on unknown service {dep}"));
                }
            }
        }
        outcome(p, || format!("{} services", services.len()))
    }

    /// Every component a pipeline of the collector names is defined.
    fn pipelines(&self) -> Result<String> {
        let p = super::pipelines::undefined(&self.collector);
        let n = self.collector.service.pipelines.len();
        outcome(p, || format!("{n} pipelines name only defined components"))
    }
}
