//! The real tools: `promtool` (required), and where installed `docker compose config` and
//! `otelcol-contrib validate`, which know the compose schema and the collector's components
//! better than any list copied here.

use super::Report;
use crate::stack::files::{ALERTS, COLLECTOR, COMPOSE, PROM_CONFIG};
use crate::stack::process::which;
use crate::util;
use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};

/// Runs `program args`; its last output line, or its whole output as the error.
fn run(program: &str, args: &[&str]) -> Result<String> {
    let mut cmd = Command::new(which(program).with_context(|| format!("{program} not on PATH"))?);
    let out = cmd.args(args).stdin(Stdio::null()).output()?;
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

/// Checks every file a tool knows, recording a skip where an optional tool is not installed.
pub(super) fn check_with_tools(report: &mut Report) {
    // Debian's `prometheus` package has promtool: required, like Prometheus for the live part.
    report.record(
        "promtool check config",
        run("promtool", &["check", "config", PROM_CONFIG]),
    );
    report.record(
        "promtool check rules",
        run("promtool", &["check", "rules", ALERTS]),
    );
    let config = format!("--config={COLLECTOR}");
    let optional = [
        (
            "docker compose config",
            "docker",
            vec!["compose", "-f", COMPOSE, "config", "--quiet"],
        ),
        (
            "otelcol-contrib validate",
            "otelcol-contrib",
            vec!["validate", &config],
        ),
    ];
    for (name, program, args) in optional {
        // `docker compose version`, `otelcol-contrib --version`: is it (and the plugin) there?
        let probe = if program == "docker" {
            vec!["compose", "version"]
        } else {
            vec!["--version"]
        };
        match run(program, &probe) {
            Ok(version) => report.record(name, run(program, &args).map(|_| version)),
            Err(_) => report.skip(
                name,
                &format!("not installed (`{program} {}` failed)", probe.join(" ")),
            ),
        }
    }
}
