//! `stack-up`, `stack-down` and `stack-status`: the stack under Docker Compose.

use super::files::{COMPOSE, DEFAULT_MODEL};
use super::process::which;
use crate::util;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `stack-up` prints.
const URLS: [(&str, &str, &str); 5] = [
    (
        "Grafana",
        "http://localhost:3000",
        "dashboards \"LLM serving\" and \"llama.cpp server\"",
    ),
    (
        "Jaeger",
        "http://localhost:16686",
        "traces of service llama-server",
    ),
    ("Prometheus", "http://localhost:9090", "alerts at /alerts"),
    (
        "llama-server",
        "http://localhost:8080",
        "OpenAI API under /v1, /metrics",
    ),
    (
        "OTLP in",
        "localhost:4317 (gRPC), localhost:4318 (HTTP)",
        "the collector",
    ),
];

/// How to run Docker Compose: `docker compose` or a standalone `docker-compose`.
struct Compose {
    program: PathBuf,
    prefix: Vec<&'static str>,
    file: PathBuf,
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Compose {
    /// Finds Compose and a reachable Docker daemon; one clear line when something is missing.
    fn find() -> Result<Self> {
        let file = util::workspace_root().join(COMPOSE);
        let docker = which("docker");
        let compose = if let Some(d) = docker
            .as_ref()
            .filter(|d| succeeds(Command::new(d).args(["compose", "version"])))
        {
            Compose {
                program: d.clone(),
                prefix: vec!["compose"],
                file,
            }
        } else if let Some(dc) =
            which("docker-compose").filter(|p| succeeds(Command::new(p).arg("version")))
        {
            Compose {
                program: dc,
                prefix: Vec::new(),
                file,
            }
        } else if docker.is_none() {
            bail!(
                "Docker is not installed: no `docker` on PATH (the stack needs Docker Engine with \
                 the Compose v2 plugin)"
            );
        } else {
            bail!(
                "Docker Compose is not installed: `docker compose version` failed and there is no \
                 `docker-compose` on PATH (install the Docker Compose v2 plugin)"
            );
        };
        if let Some(d) = &docker {
            if !succeeds(Command::new(d).arg("info")) {
                bail!(
                    "the Docker daemon is not reachable (`docker info` failed): start Docker first"
                );
            }
        }
        Ok(compose)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix).arg("-f").arg(&self.file).args(args);
        cmd.current_dir(util::workspace_root());
        cmd
    }

    /// Service name → (state, health) of its container(s).
    fn states(&self) -> Result<BTreeMap<String, (String, String)>> {
        let text = util::output(&mut self.cmd(&["ps", "--all", "--format", "json"]))?;
        let mut out = BTreeMap::new();
        for c in parse_ps(&text)? {
            let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            out.insert(field("Service"), (field("State"), field("Health")));
        }
        Ok(out)
    }

    fn services(&self) -> Result<Vec<String>> {
        let text = util::output(&mut self.cmd(&["config", "--services"]))?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }
}

/// `docker compose ps --format json`: a JSON array (Compose < 2.21) or one object a line.
fn parse_ps(text: &str) -> Result<Vec<Value>> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(Vec::new());
    }
    if t.starts_with('[') {
        return serde_json::from_str(t).context("parsing `docker compose ps` output");
    }
    t.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("parsing `docker compose ps` output"))
        .collect()
}

fn print_urls() {
    for (what, url, note) in URLS {
        println!("  {what:<13} {url:<46} {note}");
    }
}

/// Starts the observability stack under Docker Compose and waits until it is healthy.
///
/// Starts observability/docker-compose.yaml (Jaeger, OpenTelemetry Collector, Prometheus,
/// Grafana, llama-server built with `otel`) with `docker compose up -d --build`, waits until
/// every service is healthy and prints the URLs. The model is models/$LLAMA_MODEL (default
/// SmolLM2-135M-Instruct.Q4_1.gguf).
#[derive(Debug, clap::Args)]
pub struct UpOpts {
    /// Do not rebuild the images
    #[arg(long)]
    no_build: bool,
    /// Seconds to wait for every service to be healthy, after the build
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
}

/// Stops and removes the stack's containers.
#[derive(Debug, clap::Args)]
pub struct DownOpts {
    /// Also delete Prometheus' and Grafana's data
    #[arg(long)]
    volumes: bool,
}

/// Shows the stack's containers, their health and the URLs; fails unless all are healthy.
#[derive(Debug, clap::Args)]
pub struct StatusOpts {}

pub fn up(opts: UpOpts) -> Result<()> {
    let (no_build, timeout) = (opts.no_build, Duration::from_secs(opts.timeout));
    let compose = Compose::find()?;
    let model = std::env::var("LLAMA_MODEL").unwrap_or_else(|_| DEFAULT_MODEL.into());
    let model_path = util::workspace_root().join("models").join(&model);
    if !model_path.is_file() {
        bail!(
            "models/{model} not found: run `cargo xtask fetch-model` (or set LLAMA_MODEL to a GGUF \
             file in models/)"
        );
    }
    let mut up = vec!["up", "--detach", "--remove-orphans"];
    if !no_build {
        up.push("--build");
    }
    util::run(&mut compose.cmd(&up))?;
    wait_healthy(&compose, timeout)?;
    println!("stack is up and healthy:");
    print_urls();
    println!("stop it with `cargo xtask stack-down`");
    Ok(())
}

/// Polls the containers until every service is running and healthy.
fn wait_healthy(compose: &Compose, timeout: Duration) -> Result<()> {
    let services = compose.services()?;
    let start = Instant::now();
    let mut last_note = Instant::now();
    loop {
        let states = compose.states()?;
        let mut waiting = Vec::new();
        let mut waiting_names = Vec::new();
        for s in &services {
            let (state, health) = states.get(s).cloned().unwrap_or_default();
            if matches!(state.as_str(), "exited" | "dead") || health == "unhealthy" {
                let _ = util::run(&mut compose.cmd(&["logs", "--tail", "30", s]));
                bail!("service {s} is {state} {health} (its last log lines are above)");
            }
            if state != "running" || !(health.is_empty() || health == "healthy") {
                waiting.push(format!(
                    "{s} ({})",
                    if health.is_empty() { &state } else { &health }
                ));
                waiting_names.push(s.as_str());
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            for s in &waiting_names {
                let _ = util::run(&mut compose.cmd(&["logs", "--tail", "20", s]));
            }
            bail!(
                "not healthy after {} (their last log lines are above): {}",
                util::duration(timeout),
                waiting.join(", ")
            );
        }
        if last_note.elapsed() > Duration::from_secs(10) {
            println!("waiting for {}", waiting.join(", "));
            last_note = Instant::now();
        }
        std::thread::sleep(Duration::from_secs(2));
    }
}

pub fn down(opts: DownOpts) -> Result<()> {
    let volumes = opts.volumes;
    let compose = Compose::find()?;
    let mut cmd = vec!["down", "--remove-orphans"];
    if volumes {
        cmd.push("--volumes");
    }
    util::run(&mut compose.cmd(&cmd))
}

pub fn status() -> Result<()> {
    let compose = Compose::find()?;
    util::run(&mut compose.cmd(&["ps", "--all"]))?;
    let states = compose.states()?;
    let services = compose.services()?;
    let unhealthy: Vec<_> = services
        .iter()
        .filter(|s| {
            states.get(*s).is_none_or(|(state, health)| {
                state != "running" || !(health.is_empty() || health == "healthy")
            })
        })
        .cloned()
        .collect();
    print_urls();
    if unhealthy.is_empty() {
        println!("all {} services healthy", services.len());
        Ok(())
    } else {
        bail!("not running and healthy: {}", unhealthy.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_ps_formats() {
        assert_eq!(
            parse_ps("[{\"Service\":\"a\"}]").map(|v| v.len()).ok(),
            Some(1)
        );
        assert_eq!(
            parse_ps("{\"Service\":\"a\"}\n{\"Service\":\"b\"}\n")
                .map(|v| v.len())
                .ok(),
            Some(2)
        );
        assert_eq!(parse_ps("").map(|v| v.len()).ok(), Some(0));
    }
}
