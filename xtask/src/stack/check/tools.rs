//! The real tools: `promtool` (required), and where installed `docker compose config` and
//! `otelcol-contrib validate`, which know the compose schema and the collector's components
//! better than any list copied here.

use super::Report;
use crate::stack::files::{ALERTS, COLLECTOR, COMPOSE, PROM_CONFIG};
use crate::stack::process::which;
use crate::util;
use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};

/// Runs `cmd`; its last output line, or its whole output as the error.
fn run(mut cmd: Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", util::display(&cmd)))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = text.trim();
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            util::display(&cmd),
            text.replace('\n', " | ")
        );
    }
    Ok(text.lines().last().unwrap_or("").to_string())
}

fn promtool(args: &[&str]) -> Result<String> {
    let promtool =
        which("promtool").context("promtool not on PATH (Debian package `prometheus`)")?;
    let mut cmd = Command::new(promtool);
    cmd.args(args);
    run(cmd)
}

/// Checks every file a tool knows, recording a skip where the tool is not installed.
pub(super) fn check_with_tools(report: &mut Report) {
    report.record(
        "promtool check config",
        promtool(&["check", "config", PROM_CONFIG]),
    );
    report.record(
        "promtool check rules",
        promtool(&["check", "rules", ALERTS]),
    );

    let name = "docker compose config (the compose schema)";
    let docker = which("docker").filter(|d| {
        let version = Command::new(d)
            .args(["compose", "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        version.is_ok_and(|s| s.success())
    });
    match docker {
        Some(d) => {
            let mut cmd = Command::new(d);
            cmd.args(["compose", "-f", COMPOSE, "config", "--quiet"]);
            report.record(name, run(cmd));
        }
        None => report.skip(
            name,
            "`docker compose` (Docker's Compose v2 plugin) is not installed",
        ),
    }

    let name = "otelcol-contrib validate (the collector's components and config)";
    match which("otelcol-contrib") {
        Some(otelcol) => {
            let mut cmd = Command::new(&otelcol);
            cmd.arg("validate").arg(format!("--config={COLLECTOR}"));
            let version = Command::new(&otelcol).arg("--version").output();
            let version = version.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
            report.record(name, run(cmd).map(|_| version.unwrap_or_default()));
        }
        None => report.skip(
            name,
            "otelcol-contrib is not on PATH (a release binary of opentelemetry-collector-releases)",
        ),
    }
}
