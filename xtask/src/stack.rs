//! The observability stack in `observability/`: `stack-up`, `stack-down` and `stack-status` drive
//! Docker Compose; `check-observability` checks the stack's files without Docker — statically,
//! and by evaluating every dashboard and alert query in a real Prometheus that scrapes the real
//! server while requests run.

use crate::util::{self, Args, TempDir};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const USAGE_UP: &str = "stack-up [--no-build] [--timeout SECS]
      Starts observability/docker-compose.yaml (Jaeger, OpenTelemetry Collector, Prometheus,
      Grafana, llama-server built with `otel`) with `docker compose up -d --build`, waits until
      every service is healthy (--timeout, default 300 s after the build) and prints the URLs.
      The model is models/$LLAMA_MODEL (default SmolLM2-135M-Instruct.Q4_1.gguf).";

pub const USAGE_DOWN: &str = "stack-down [--volumes]
      Stops and removes the stack's containers; --volumes also deletes Prometheus' and Grafana's
      data.";

pub const USAGE_STATUS: &str = "stack-status
      Shows the stack's containers and their health, and the URLs; fails unless all are healthy.";

pub const USAGE_CHECK: &str = "check-observability [--static] [--model PATH] [--server PATH]
      Checks observability/ without Docker: the compose file (services, pinned images,
      healthchecks, ports, mounted files), the root Dockerfile, the collector config (components
      of the pinned contrib release, complete pipelines), `promtool check config/rules`, the
      dashboards; then builds llama-server with `otel` (or takes --server), runs it with the
      model (--model, default models/SmolLM2-135M-Instruct.Q4_1.gguf) and `--otel-ggml-ops`, runs
      Prometheus (2.x, on PATH) scraping it while requests run, and evaluates every dashboard,
      variable, alert and data-source query. --static stops before the server. Ends with the
      line `N passed, M failed`; exits non-zero when anything failed.";

/// Paths, relative to the workspace root.
const COMPOSE: &str = "observability/docker-compose.yaml";
const COLLECTOR: &str = "observability/otel-collector.yaml";
const PROM_CONFIG: &str = "observability/prometheus/prometheus.yml";
const ALERTS: &str = "observability/prometheus/alerts.yml";
const DATASOURCES: &str = "observability/grafana/provisioning/datasources/datasources.yaml";
const DASHBOARD_PROVIDERS: &str = "observability/grafana/provisioning/dashboards/dashboards.yaml";
const DASHBOARDS: &str = "observability/grafana/dashboards";
const DOCKERFILE: &str = "Dockerfile";
const DOCKERIGNORE: &str = ".dockerignore";
const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The stack's services and the host ports each publishes (each the same inside).
const SERVICES: [(&str, &[u16]); 5] = [
    ("jaeger", &[16686]),
    ("otel-collector", &[4317, 4318]),
    ("prometheus", &[9090]),
    ("grafana", &[3000]),
    ("llama-server", &[8080]),
];

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

// ------------------------------------------------------------------------------ compose

/// How to run Docker Compose: `docker compose` or a standalone `docker-compose`.
struct Compose {
    program: PathBuf,
    prefix: Vec<&'static str>,
    file: PathBuf,
}

/// `program` on PATH.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
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

pub fn up(mut args: Args) -> Result<()> {
    let no_build = args.flag("--no-build");
    let timeout = Duration::from_secs(args.parsed("--timeout", 300u64)?);
    args.finish()?;
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

pub fn down(mut args: Args) -> Result<()> {
    let volumes = args.flag("--volumes");
    args.finish()?;
    let compose = Compose::find()?;
    let mut cmd = vec!["down", "--remove-orphans"];
    if volumes {
        cmd.push("--volumes");
    }
    util::run(&mut compose.cmd(&cmd))
}

pub fn status(args: Args) -> Result<()> {
    args.finish()?;
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

// ------------------------------------------------------------------ check-observability

/// Counts and prints check results.
#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn record(&mut self, name: &str, result: Result<String>) {
        match result {
            Ok(detail) => {
                self.passed += 1;
                if detail.is_empty() {
                    println!("ok    {name}");
                } else {
                    println!("ok    {name}: {detail}");
                }
            }
            Err(e) => {
                self.failed += 1;
                println!("FAIL  {name}: {e:#}");
            }
        }
    }
}

pub fn check(args: Args) -> ExitCode {
    let mut report = Report::default();
    if let Err(e) = check_all(args, &mut report) {
        report.record("check-observability", Err(e));
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_all(mut args: Args, report: &mut Report) -> Result<()> {
    let static_only = args.flag("--static");
    let model = args.value("--model")?;
    let server = args.value("--server")?;
    args.finish()?;
    let root = util::workspace_root();
    std::env::set_current_dir(&root).context("entering the workspace root")?;

    // YAML, parsed by Python's yaml (the CI image has python3-yaml), handed over as JSON.
    let yaml = load_yaml(&[
        COMPOSE,
        COLLECTOR,
        PROM_CONFIG,
        ALERTS,
        DATASOURCES,
        DASHBOARD_PROVIDERS,
    ]);
    let doc = |path: &str| -> Result<&Value> {
        match &yaml {
            Err(e) => Err(anyhow!("{e:#}")),
            Ok(docs) => match docs.get(path) {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => Err(anyhow!("{path}: {e}")),
                None => Err(anyhow!("{path}: not parsed")),
            },
        }
    };
    report.record(
        "YAML files parse (no duplicate keys)",
        [
            COMPOSE,
            COLLECTOR,
            PROM_CONFIG,
            ALERTS,
            DATASOURCES,
            DASHBOARD_PROVIDERS,
        ]
        .iter()
        .map(|p| doc(p).map(|_| ()))
        .collect::<Result<Vec<_>>>()
        .map(|v| format!("{} files", v.len())),
    );

    let compose = doc(COMPOSE).and_then(ComposeFile::new);
    let with_compose = |f: &dyn Fn(&ComposeFile) -> Result<String>| match &compose {
        Ok(c) => f(c),
        Err(e) => Err(anyhow!("{e:#}")),
    };
    report.record(
        "compose: the five services",
        with_compose(&|c| c.services()),
    );
    report.record(
        "compose: images pinned to exact versions",
        with_compose(&|c| c.pinned()),
    );
    report.record(
        "compose: every service has a healthcheck",
        with_compose(&|c| c.healthchecks()),
    );
    report.record("compose: published ports", with_compose(&|c| c.ports()));
    report.record(
        "compose: mounted files exist, models read-only",
        with_compose(&|c| c.volumes()),
    );
    report.record(
        "compose: wiring between services",
        with_compose(&|c| {
            c.wiring(
                doc(COLLECTOR)?,
                doc(PROM_CONFIG)?,
                doc(DATASOURCES)?,
                doc(DASHBOARD_PROVIDERS)?,
            )
        }),
    );
    report.record(
        "Dockerfile: multi-stage, pinned, slim, non-root, otel",
        check_dockerfile(),
    );
    report.record(
        "collector: components exist in the pinned contrib release",
        with_compose(&|c| check_collector_components(doc(COLLECTOR)?, c)),
    );
    report.record(
        "collector: pipelines complete",
        doc(COLLECTOR).and_then(check_collector_pipelines),
    );
    report.record(
        "promtool check config",
        promtool(&["check", "config", PROM_CONFIG]),
    );
    report.record(
        "promtool check rules",
        promtool(&["check", "rules", ALERTS]),
    );
    report.record(
        "alert rules: the five alerts, labelled and annotated",
        doc(ALERTS).and_then(check_alert_rules),
    );
    report.record(
        "grafana data sources: Prometheus + Jaeger linked",
        doc(DATASOURCES).and_then(check_datasources),
    );

    let dashboards = load_dashboards();
    for d in &dashboards {
        report.record(
            &format!("dashboard {}", d.file),
            d.check.clone().map_err(|e| anyhow!(e)),
        );
    }
    report.record(
        "dashboards: \"LLM serving\" and a llama.cpp one",
        dashboard_titles(&dashboards),
    );
    if static_only {
        return Ok(());
    }

    // The live part: the real server, a real Prometheus, every query.
    let mut queries: Vec<Query> = dashboards.iter().flat_map(|d| d.queries.clone()).collect();
    let variables: Vec<Query> = dashboards
        .iter()
        .flat_map(|d| d.variables.clone())
        .collect();
    match doc(ALERTS) {
        Ok(alerts) => queries.extend(alert_queries(alerts)),
        Err(e) => report.record("alert queries", Err(e)),
    }
    match doc(DATASOURCES) {
        Ok(ds) => queries.extend(datasource_queries(ds)),
        Err(e) => report.record("data-source queries", Err(e)),
    }
    live(report, model, server, &queries, &variables)
}

// -------------------------------------------------------------------------------- YAML

/// Loads YAML with duplicate keys rejected, prints `{path: {"ok": doc} | {"err": msg}}`.
const YAML_TO_JSON: &str = r#"
import json, sys, yaml
class Strict(yaml.SafeLoader):
    pass
def mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)
Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
out = {}
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            out[path] = {"ok": yaml.load(f, Loader=Strict)}
    except Exception as e:
        out[path] = {"err": str(e).replace("\n", " ")}
json.dump(out, sys.stdout, default=str)
"#;

type YamlDocs = BTreeMap<String, std::result::Result<Value, String>>;

fn load_yaml(paths: &[&str]) -> Result<YamlDocs> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(YAML_TO_JSON)
        .args(paths)
        .stderr(Stdio::piped())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => bail!(
            "parsing YAML needs python3 with PyYAML (Debian: python3-yaml): {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => bail!("parsing YAML needs python3 with PyYAML (Debian: python3-yaml): {e}"),
    };
    let all: BTreeMap<String, Value> =
        serde_json::from_slice(&out.stdout).context("YAML → JSON")?;
    Ok(all
        .into_iter()
        .map(|(path, v)| {
            let r = match (v.get("ok"), v.get("err")) {
                (_, Some(e)) => Err(e.as_str().unwrap_or("?").to_string()),
                (Some(doc), None) => Ok(doc.clone()),
                (None, None) => Err("no result".into()),
            };
            (path, r)
        })
        .collect())
}

// ------------------------------------------------------------------------- compose file

/// A parsed compose file and the mounts of each service.
struct ComposeFile {
    doc: Value,
    /// Service → [(host path relative to the workspace root or volume name, target, read-only)].
    mounts: BTreeMap<String, Vec<Mount>>,
}

#[derive(Debug, Clone)]
struct Mount {
    /// Bind mounts: the host path relative to the workspace root; named volumes: `None`.
    host: Option<PathBuf>,
    source: String,
    target: String,
    read_only: bool,
}

/// `a/./b/../c` → `a/c` (no file-system access).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The image's tag is an exact version: `1.2.3` (optionally `v`-prefixed, with a `-variant`),
/// Debian's `12.8`-style point release, or a digest.
fn pinned_image(image: &str) -> Result<()> {
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
fn dockerfile_froms(text: &str) -> Vec<String> {
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

/// `list` or `{KEY: value}` environment → map.
fn environment(service: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match service.get("environment") {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                out.insert(k.clone(), v);
            }
        }
        Some(Value::Array(a)) => {
            for item in a.iter().filter_map(Value::as_str) {
                let (k, v) = item.split_once('=').unwrap_or((item, ""));
                out.insert(k.to_string(), v.to_string());
            }
        }
        _ => {}
    }
    out
}

/// A `command` as a list of words.
fn command_words(service: &Value) -> Vec<String> {
    match service.get("command") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from))
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        _ => Vec::new(),
    }
}

/// `--name=value` or `--name value` in a command.
fn flag_value(words: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    words.iter().enumerate().find_map(|(i, w)| {
        if let Some(v) = w.strip_prefix(&prefix) {
            Some(v.to_string())
        } else if w == name {
            words.get(i + 1).cloned()
        } else {
            None
        }
    })
}

/// `host:port` of a URL or address (`http://h:p/x`, `h:p`).
fn host_port(addr: &str) -> Option<(String, u16)> {
    let rest = addr.split_once("://").map_or(addr, |(_, r)| r);
    let hostport = rest.split('/').next()?;
    let (host, port) = hostport.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// Port part of an `endpoint:` (`0.0.0.0:4317`).
fn endpoint_port(v: Option<&Value>) -> Option<u16> {
    host_port(v?.as_str()?).map(|(_, p)| p)
}

impl ComposeFile {
    fn new(doc: &Value) -> Result<Self> {
        let services = doc
            .get("services")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{COMPOSE}: no `services` mapping"))?;
        let mut mounts = BTreeMap::new();
        for (name, s) in services {
            let mut list = Vec::new();
            for v in s
                .get("volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (source, target, read_only) = match v {
                    Value::String(short) => {
                        let parts: Vec<&str> = short.split(':').collect();
                        match parts.as_slice() {
                            [src, dst] => (src.to_string(), dst.to_string(), false),
                            [src, dst, mode] => (
                                src.to_string(),
                                dst.to_string(),
                                mode.split(',').any(|m| m == "ro"),
                            ),
                            _ => bail!("service {name}: cannot read volume `{short}`"),
                        }
                    }
                    Value::Object(long) => {
                        let field = |k: &str| {
                            long.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string()
                        };
                        (
                            field("source"),
                            field("target"),
                            long.get("read_only") == Some(&Value::Bool(true)),
                        )
                    }
                    other => bail!("service {name}: cannot read volume {other}"),
                };
                let host = (source.starts_with('.') || source.starts_with('/'))
                    .then(|| normalize(&Path::new("observability").join(&source)));
                list.push(Mount {
                    host,
                    source,
                    target,
                    read_only,
                });
            }
            mounts.insert(name.clone(), list);
        }
        Ok(ComposeFile {
            doc: doc.clone(),
            mounts,
        })
    }

    fn service(&self, name: &str) -> Result<&Value> {
        self.doc
            .get("services")
            .and_then(|s| s.get(name))
            .ok_or_else(|| anyhow!("no service `{name}`"))
    }

    fn service_names(&self) -> Vec<String> {
        self.doc
            .get("services")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The mount of `service` whose host path is `host` (relative to the workspace root).
    fn mount_of(&self, service: &str, host: &str) -> Option<&Mount> {
        self.mounts
            .get(service)?
            .iter()
            .find(|m| m.host.as_deref() == Some(Path::new(host)))
    }

    fn services(&self) -> Result<String> {
        let have: BTreeSet<String> = self.service_names().into_iter().collect();
        let want: BTreeSet<String> = SERVICES.iter().map(|(s, _)| s.to_string()).collect();
        let missing: Vec<_> = want.difference(&have).cloned().collect();
        let extra: Vec<_> = have.difference(&want).cloned().collect();
        if !missing.is_empty() || !extra.is_empty() {
            bail!("missing {missing:?}, unexpected {extra:?}");
        }
        Ok(have.into_iter().collect::<Vec<_>>().join(", "))
    }

    /// Every `image:` and every `FROM` of the Dockerfiles they are built from.
    fn pinned(&self) -> Result<String> {
        let mut checked = Vec::new();
        let mut problems = Vec::new();
        for name in self.service_names() {
            let s = self.service(&name)?;
            let mut images: Vec<String> = Vec::new();
            if let Some(build) = s.get("build") {
                if let Some(inline) = build.get("dockerfile_inline").and_then(Value::as_str) {
                    images.extend(dockerfile_froms(inline));
                } else {
                    let context = build.get("context").and_then(Value::as_str).unwrap_or(".");
                    let file = build
                        .get("dockerfile")
                        .and_then(Value::as_str)
                        .unwrap_or("Dockerfile");
                    let path = normalize(&Path::new("observability").join(context).join(file));
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("service {name}: reading {}", path.display()))?;
                    images.extend(dockerfile_froms(&text));
                }
                // The `image:` of a built service names the result; it must still not float.
                if let Some(img) = s.get("image").and_then(Value::as_str) {
                    if img.ends_with(":latest") || !img.contains(':') {
                        problems.push(format!(
                            "{name}: built image named `{img}` without a version"
                        ));
                    }
                }
            } else {
                match s.get("image").and_then(Value::as_str) {
                    Some(img) => images.push(img.to_string()),
                    None => problems.push(format!("{name}: neither image nor build")),
                }
            }
            for img in images {
                match pinned_image(&img) {
                    Ok(()) => checked.push(img),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
        }
        if problems.is_empty() {
            Ok(checked.join(", "))
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    fn healthchecks(&self) -> Result<String> {
        let mut problems = Vec::new();
        for name in self.service_names() {
            let s = self.service(&name)?;
            let Some(hc) = s.get("healthcheck") else {
                problems.push(format!("{name}: none"));
                continue;
            };
            let test = match hc.get("test") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                Some(Value::String(t)) => vec![t.clone()],
                _ => Vec::new(),
            };
            if test.is_empty() || test[0] == "NONE" || hc.get("disable") == Some(&Value::Bool(true))
            {
                problems.push(format!("{name}: disabled or empty test"));
            }
            if hc.get("interval").is_none() || hc.get("retries").is_none() {
                problems.push(format!("{name}: no interval/retries"));
            }
        }
        if problems.is_empty() {
            Ok(String::new())
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    fn ports(&self) -> Result<String> {
        let mut problems = Vec::new();
        let mut seen = BTreeMap::new();
        for (name, want) in SERVICES {
            let s = self.service(name)?;
            let mut published = BTreeSet::new();
            for p in s
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (host, target) = match p {
                    Value::String(short) => {
                        let parts: Vec<&str> =
                            short.split('/').next().unwrap_or("").split(':').collect();
                        let n = parts.len();
                        let target = parts[n - 1].parse::<u16>().ok();
                        let host = if n >= 2 {
                            parts[n - 2].parse::<u16>().ok()
                        } else {
                            None
                        };
                        (host, target)
                    }
                    Value::Object(long) => {
                        let num = |k: &str| match long.get(k) {
                            Some(Value::Number(n)) => {
                                n.as_u64().and_then(|n| u16::try_from(n).ok())
                            }
                            Some(Value::String(s)) => s.parse().ok(),
                            _ => None,
                        };
                        (num("published"), num("target"))
                    }
                    _ => (None, None),
                };
                match (host, target) {
                    (Some(h), Some(t)) if h == t => {
                        if let Some(other) = seen.insert(h, name) {
                            problems.push(format!("host port {h} published by {other} and {name}"));
                        }
                        published.insert(h);
                    }
                    _ => problems.push(format!(
                        "{name}: port `{p}` is not HOST:CONTAINER with equal numbers"
                    )),
                }
            }
            let want: BTreeSet<u16> = want.iter().copied().collect();
            if published != want {
                problems.push(format!(
                    "{name}: publishes {published:?}, expected {want:?}"
                ));
            }
        }
        if problems.is_empty() {
            Ok(seen
                .keys()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", "))
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    fn volumes(&self) -> Result<String> {
        let declared: BTreeSet<String> = self
            .doc
            .get("volumes")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mut problems = Vec::new();
        let mut n = 0;
        for (name, list) in &self.mounts {
            for m in list {
                n += 1;
                match &m.host {
                    Some(host) => {
                        if !host.exists() {
                            problems.push(format!("{name}: {} does not exist", host.display()));
                        }
                        // Configuration and models are never written to by the containers.
                        if !m.read_only {
                            problems.push(format!("{name}: {} is not mounted read-only", m.source));
                        }
                    }
                    None => {
                        if !declared.contains(&m.source) {
                            problems.push(format!("{name}: volume `{}` not declared", m.source));
                        }
                    }
                }
            }
        }
        match self
            .mounts
            .get("llama-server")
            .and_then(|l| l.iter().find(|m| m.target == "/models"))
        {
            Some(m) if m.host.as_deref() == Some(Path::new("models")) && m.read_only => {}
            _ => problems.push("llama-server: ./models is not mounted read-only at /models".into()),
        }
        if problems.is_empty() {
            Ok(format!("{n} mounts"))
        } else {
            bail!("{}", problems.join("; "))
        }
    }

    /// Who talks to whom: the names and ports in one file match the others.
    fn wiring(
        &self,
        collector: &Value,
        prom: &Value,
        datasources: &Value,
        providers: &Value,
    ) -> Result<String> {
        let mut problems = Vec::new();
        let services: BTreeSet<String> = self.service_names().into_iter().collect();
        for name in &services {
            let s = self.service(name)?;
            let deps: Vec<String> = match s.get("depends_on") {
                Some(Value::Object(m)) => m.keys().cloned().collect(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
                _ => Vec::new(),
            };
            for d in deps.iter().filter(|d| !services.contains(*d)) {
                problems.push(format!("{name} depends on unknown service {d}"));
            }
        }

        // llama-server → collector over OTLP.
        let server = self.service("llama-server")?;
        let env = environment(server);
        let grpc_port = collector
            .pointer("/receivers/otlp/protocols/grpc/endpoint")
            .map(Some)
            .and_then(endpoint_port);
        let http_port = collector
            .pointer("/receivers/otlp/protocols/http/endpoint")
            .map(Some)
            .and_then(endpoint_port);
        match env
            .get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .and_then(|e| host_port(e))
        {
            Some((host, port)) => {
                let protocol = env
                    .get("OTEL_EXPORTER_OTLP_PROTOCOL")
                    .map_or("grpc", String::as_str);
                let want = if protocol == "grpc" {
                    grpc_port
                } else {
                    http_port
                };
                if host != "otel-collector" || Some(port) != want {
                    problems.push(format!(
                        "llama-server exports to {host}:{port}, the collector's OTLP {protocol} receiver is otel-collector:{want:?}"
                    ));
                }
            }
            None => problems.push("llama-server: no OTEL_EXPORTER_OTLP_ENDPOINT".into()),
        }
        let words = command_words(server);
        let server_port: Option<u16> = flag_value(&words, "--port").and_then(|p| p.parse().ok());
        match flag_value(&words, "--model").or_else(|| flag_value(&words, "-m")) {
            Some(m) if m.starts_with("/models/") => {}
            other => problems.push(format!(
                "llama-server: --model {other:?} is not under /models"
            )),
        }
        if flag_value(&words, "--host").as_deref() != Some("0.0.0.0") {
            problems.push(
                "llama-server: --host is not 0.0.0.0 (unreachable from other containers)".into(),
            );
        }
        let features = server
            .pointer("/build/args/FEATURES")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !features
            .split(',')
            .any(|f| f == "otel" || f == "llama-server/otel")
        {
            problems.push(format!(
                "llama-server: build FEATURES `{features}` lacks otel"
            ));
        }

        // collector → jaeger; its config file is the one mounted.
        let col = self.service("otel-collector")?;
        let col_words = command_words(col);
        match (
            flag_value(&col_words, "--config"),
            self.mount_of("otel-collector", COLLECTOR),
        ) {
            (Some(c), Some(m)) if c == m.target => {}
            (c, m) => problems.push(format!(
                "otel-collector: --config {c:?} is not where {COLLECTOR} is mounted ({:?})",
                m.map(|m| &m.target)
            )),
        }
        for (id, exp) in collector
            .get("exporters")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if id.split('/').next() == Some("otlp") {
                match exp
                    .get("endpoint")
                    .and_then(Value::as_str)
                    .and_then(host_port)
                {
                    Some((h, 4317)) if services.contains(&h) => {}
                    other => problems.push(format!(
                        "collector exporter {id}: endpoint {other:?} is no service's OTLP port"
                    )),
                }
            }
        }
        let exporter_port = collector
            .pointer("/exporters/prometheus/endpoint")
            .map(Some)
            .and_then(endpoint_port);

        // prometheus: its config and rules are the mounted ones; scrape targets exist.
        let p = self.service("prometheus")?;
        let p_words = command_words(p);
        match (
            flag_value(&p_words, "--config.file"),
            self.mount_of("prometheus", PROM_CONFIG),
        ) {
            (Some(c), Some(m)) if c == m.target => {
                let dir = Path::new(&c)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                for rule in prom
                    .get("rule_files")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let rule = rule.as_str().unwrap_or("");
                    let inside = normalize(&dir.join(rule));
                    let host = normalize(
                        &Path::new(PROM_CONFIG)
                            .parent()
                            .unwrap_or(Path::new(""))
                            .join(rule),
                    );
                    match self.mount_of("prometheus", &host.to_string_lossy()) {
                        Some(m) if Path::new(&m.target) == inside => {}
                        _ => problems.push(format!(
                            "prometheus: rule file {rule} is not mounted at {}",
                            inside.display()
                        )),
                    }
                }
            }
            (c, _) => problems.push(format!(
                "prometheus: --config.file {c:?} is not where {PROM_CONFIG} is mounted"
            )),
        }
        if !p_words
            .iter()
            .any(|w| w == "--enable-feature=exemplar-storage")
        {
            problems.push("prometheus: no --enable-feature=exemplar-storage".into());
        }
        let mut targets = Vec::new();
        for sc in prom
            .get("scrape_configs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for t in sc
                .pointer("/static_configs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for target in t
                    .get("targets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let target = target.as_str().unwrap_or("");
                    match host_port(target) {
                        Some((h, port)) if h == "localhost" && port == 9090 => {}
                        Some((h, port)) if h == "llama-server" && Some(port) == server_port => {
                            targets.push(target.to_string())
                        }
                        Some((h, port)) if h == "otel-collector" && Some(port) == exporter_port => {
                            targets.push(target.to_string())
                        }
                        _ => problems
                            .push(format!("prometheus scrapes {target}: no such service port")),
                    }
                }
            }
        }
        if targets.len() < 2 {
            problems.push(format!(
                "prometheus scrapes {targets:?}: expected llama-server and otel-collector"
            ));
        }

        // grafana: provisioning and dashboards are the mounted folders; data sources reach services.
        match self.mount_of("grafana", "observability/grafana/provisioning") {
            Some(m) if m.target == "/etc/grafana/provisioning" => {}
            _ => problems
                .push("grafana: provisioning/ is not mounted at /etc/grafana/provisioning".into()),
        }
        let dash_target = self
            .mount_of("grafana", DASHBOARDS)
            .map(|m| m.target.clone());
        for prov in providers
            .get("providers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let path = prov.pointer("/options/path").and_then(Value::as_str);
            if path.map(String::from) != dash_target {
                problems.push(format!("grafana: dashboard provider path {path:?} is not where {DASHBOARDS} is mounted"));
            }
        }
        let genv = environment(self.service("grafana")?);
        if let (Some(home), Some(t)) = (
            genv.get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"),
            &dash_target,
        ) {
            let rel = home
                .strip_prefix(t.as_str())
                .unwrap_or(home)
                .trim_start_matches('/');
            if !Path::new(DASHBOARDS).join(rel).is_file() {
                problems.push(format!(
                    "grafana: home dashboard {home} is not a mounted file"
                ));
            }
        }
        for ds in datasources
            .get("datasources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let url = ds.get("url").and_then(Value::as_str).unwrap_or("");
            match host_port(url) {
                Some((h, port))
                    if services.contains(&h)
                        && SERVICES
                            .iter()
                            .any(|(s, ports)| *s == h && ports.contains(&port)) => {}
                _ => problems.push(format!(
                    "grafana data source url {url} is no service's port"
                )),
            }
        }
        if problems.is_empty() {
            Ok(format!("scrapes {}", targets.join(", ")))
        } else {
            bail!("{}", problems.join("; "))
        }
    }
}

fn check_dockerfile() -> Result<String> {
    let text = std::fs::read_to_string(DOCKERFILE).context("reading Dockerfile")?;
    let mut problems = Vec::new();
    let froms = dockerfile_froms(&text);
    let stages = text
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        })
        .count();
    if stages < 2 {
        problems.push("not multi-stage".to_string());
    }
    for img in &froms {
        if let Err(e) = pinned_image(img) {
            problems.push(e.to_string());
        }
    }
    // The last stage: its base image and its USER.
    let last_stage: Vec<&str> = text
        .lines()
        .rev()
        .take_while(|l| {
            !l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        })
        .collect();
    let last_from = text
        .lines()
        .rev()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("FROM"))
        })
        .unwrap_or("");
    if !(last_from.contains("slim") || last_from.contains("distroless")) {
        problems.push(format!("runtime stage `{last_from}` is not a slim image"));
    }
    let user = last_stage
        .iter()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("USER"))
        })
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("");
    let uid = user.split(':').next().unwrap_or("");
    if uid.is_empty() || uid == "root" || uid == "0" {
        problems.push("the runtime stage does not switch to a non-root USER".into());
    }
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
    if problems.is_empty() {
        Ok(format!("{} → user {user}", froms.join(" → ")))
    } else {
        bail!("{}", problems.join("; "))
    }
}

// ---------------------------------------------------------------------------- collector

/// The contrib release `CONTRIB_*` lists are taken from; the compose file must pin this one.
const CONTRIB_VERSION: &str = "0.116.0";

/// Component types of otelcol-contrib 0.116.0 (its manifest, `distributions/otelcol-contrib/
/// manifest.yaml` in opentelemetry-collector-releases), the commonly used part. `logging` is not
/// here: the exporter was removed in 0.111.0 (use `debug`).
const CONTRIB_RECEIVERS: &[&str] = &[
    "otlp",
    "prometheus",
    "prometheus_simple",
    "hostmetrics",
    "filelog",
    "jaeger",
    "zipkin",
    "kafka",
    "kafkametrics",
    "k8s_cluster",
    "k8s_events",
    "k8sobjects",
    "kubeletstats",
    "docker_stats",
    "statsd",
    "carbon",
    "collectd",
    "fluentforward",
    "journald",
    "syslog",
    "tcplog",
    "udplog",
    "otlpjsonfile",
    "receiver_creator",
    "sqlquery",
    "postgresql",
    "mysql",
    "redis",
    "mongodb",
    "nginx",
    "apache",
    "elasticsearch",
    "jmx",
    "haproxy",
    "httpcheck",
    "influxdb",
    "memcached",
    "rabbitmq",
    "sqlserver",
    "opencensus",
    "skywalking",
    "signalfx",
    "splunk_hec",
    "awsxray",
    "googlecloudpubsub",
    "azureeventhub",
    "datadog",
    "loki",
    "zookeeper",
    "nsxt",
    "podman_stats",
];
const CONTRIB_PROCESSORS: &[&str] = &[
    "memory_limiter",
    "batch",
    "attributes",
    "resource",
    "resourcedetection",
    "filter",
    "transform",
    "k8sattributes",
    "tail_sampling",
    "probabilistic_sampler",
    "span",
    "groupbyattrs",
    "groupbytrace",
    "metricstransform",
    "cumulativetodelta",
    "deltatorate",
    "redaction",
    "routing",
    "metricsgeneration",
    "interval",
    "logdedup",
    "remotetap",
    "schema",
    "sumologic",
];
const CONTRIB_EXPORTERS: &[&str] = &[
    "otlp",
    "otlphttp",
    "debug",
    "nop",
    "prometheus",
    "prometheusremotewrite",
    "file",
    "kafka",
    "loadbalancing",
    "loki",
    "elasticsearch",
    "opensearch",
    "clickhouse",
    "zipkin",
    "datadog",
    "splunk_hec",
    "signalfx",
    "awsxray",
    "awsemf",
    "googlecloud",
    "googlemanagedprometheus",
    "azuremonitor",
    "influxdb",
    "sapm",
    "carbon",
    "kinetica",
    "opencensus",
    "otelarrow",
];
const CONTRIB_CONNECTORS: &[&str] = &[
    "spanmetrics",
    "servicegraph",
    "count",
    "forward",
    "routing",
    "failover",
    "roundrobin",
    "exceptions",
    "sum",
    "grafanacloud",
    "datadog",
    "otlpjson",
    "signaltometrics",
];
const CONTRIB_EXTENSIONS: &[&str] = &[
    "health_check",
    "healthcheckv2",
    "pprof",
    "zpages",
    "file_storage",
    "basicauth",
    "bearertokenauth",
    "oauth2client",
    "oidc",
    "headers_setter",
    "memory_limiter",
    "k8s_observer",
    "docker_observer",
    "host_observer",
    "sigv4auth",
    "jaegerremotesampling",
];

/// Sections of a collector config and the known component types of each.
const SECTIONS: [(&str, &[&str]); 5] = [
    ("receivers", CONTRIB_RECEIVERS),
    ("processors", CONTRIB_PROCESSORS),
    ("exporters", CONTRIB_EXPORTERS),
    ("connectors", CONTRIB_CONNECTORS),
    ("extensions", CONTRIB_EXTENSIONS),
];

fn component_ids(config: &Value, section: &str) -> BTreeSet<String> {
    config
        .get(section)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

fn check_collector_components(config: &Value, compose: &ComposeFile) -> Result<String> {
    let mut problems = Vec::new();
    // The list above belongs to one release: the one the compose file runs.
    let service = compose.service("otel-collector")?;
    let mut images: Vec<String> = service
        .get("image")
        .and_then(Value::as_str)
        .map(String::from)
        .into_iter()
        .collect();
    if let Some(inline) = service
        .pointer("/build/dockerfile_inline")
        .and_then(Value::as_str)
    {
        images = dockerfile_froms(inline);
    }
    let contrib = images
        .iter()
        .find(|i| i.contains("opentelemetry-collector-contrib"));
    match contrib {
        Some(img) if img.ends_with(&format!(":{CONTRIB_VERSION}")) => {}
        other => problems.push(format!(
            "the component list is otelcol-contrib {CONTRIB_VERSION}'s, the compose file runs {other:?}"
        )),
    }
    let mut n = 0;
    for (section, known) in SECTIONS {
        for id in component_ids(config, section) {
            n += 1;
            let kind = id.split('/').next().unwrap_or("");
            if !known.contains(&kind) {
                problems.push(format!(
                    "{section}: `{kind}` ({id}) is not in otelcol-contrib {CONTRIB_VERSION}"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(format!("{n} components, contrib {CONTRIB_VERSION}"))
    } else {
        bail!("{}", problems.join("; "))
    }
}

fn check_collector_pipelines(config: &Value) -> Result<String> {
    let mut problems = Vec::new();
    let receivers = component_ids(config, "receivers");
    let processors = component_ids(config, "processors");
    let exporters = component_ids(config, "exporters");
    let connectors = component_ids(config, "connectors");
    let extensions = component_ids(config, "extensions");
    let list = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let pipelines = config
        .pointer("/service/pipelines")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("no service.pipelines"))?;
    let mut used = BTreeSet::new();
    let (mut connector_in, mut connector_out) = (BTreeSet::new(), BTreeSet::new());
    for (name, p) in pipelines {
        let signal = name.split('/').next().unwrap_or("");
        if !["traces", "metrics", "logs"].contains(&signal) {
            problems.push(format!("pipeline {name}: unknown signal"));
        }
        let (r, pr, e) = (
            list(p.get("receivers")),
            list(p.get("processors")),
            list(p.get("exporters")),
        );
        if r.is_empty() || e.is_empty() {
            problems.push(format!("pipeline {name}: needs receivers and exporters"));
        }
        for id in &r {
            if connectors.contains(id) {
                connector_in.insert(id.clone());
            } else if !receivers.contains(id) {
                problems.push(format!("pipeline {name}: receiver {id} is not defined"));
            }
        }
        for id in &pr {
            if !processors.contains(id) {
                problems.push(format!("pipeline {name}: processor {id} is not defined"));
            }
        }
        for id in &e {
            if connectors.contains(id) {
                connector_out.insert(id.clone());
            } else if !exporters.contains(id) {
                problems.push(format!("pipeline {name}: exporter {id} is not defined"));
            }
        }
        // memory_limiter first (refuse data before anything else holds it), batch last.
        let kinds: Vec<&str> = pr
            .iter()
            .map(|p| p.split('/').next().unwrap_or(""))
            .collect();
        if kinds.first() != Some(&"memory_limiter") || kinds.last() != Some(&"batch") {
            problems.push(format!("pipeline {name}: processors {pr:?} should start with memory_limiter and end with batch"));
        }
        used.extend(r.into_iter().chain(pr).chain(e));
    }
    for c in &connectors {
        if !connector_in.contains(c) || !connector_out.contains(c) {
            problems.push(format!(
                "connector {c} must be an exporter of one pipeline and a receiver of another"
            ));
        }
    }
    for id in receivers
        .iter()
        .chain(&processors)
        .chain(&exporters)
        .chain(&connectors)
    {
        if !used.contains(id) {
            problems.push(format!("{id} is defined but in no pipeline"));
        }
    }
    let enabled: BTreeSet<String> = list(config.pointer("/service/extensions"))
        .into_iter()
        .collect();
    if enabled != extensions {
        problems.push(format!(
            "extensions defined {extensions:?} but enabled {enabled:?}"
        ));
    }
    if problems.is_empty() {
        Ok(pipelines.keys().cloned().collect::<Vec<_>>().join(", "))
    } else {
        bail!("{}", problems.join("; "))
    }
}

// ---------------------------------------------------------------- prometheus and grafana

fn promtool(args: &[&str]) -> Result<String> {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .context("promtool not found (Debian package `prometheus`)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{}", text.trim().replace('\n', " | "));
    }
    Ok(text
        .lines()
        .filter(|l| l.contains("SUCCESS"))
        .collect::<Vec<_>>()
        .join(" | "))
}

/// The alerts the stack must have (by name) and the metric each is about.
const REQUIRED_ALERTS: [(&str, &str); 5] = [
    (
        "LlamaTimeToFirstTokenHigh",
        "gen_ai_server_time_to_first_token_seconds_bucket",
    ),
    ("LlamaQueueSaturated", "llamacpp:requests_rejected_total"),
    ("LlamaErrorRatioHigh", "llama_requests_total"),
    ("LlamaKvCacheNearlyFull", "llama_kv_cache_usage_ratio"),
    ("PrometheusTargetDown", "up"),
];

fn alert_rules(alerts: &Value) -> Vec<&Value> {
    alerts
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|g| {
            g.get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .collect()
}

fn check_alert_rules(alerts: &Value) -> Result<String> {
    let mut problems = Vec::new();
    let rules = alert_rules(alerts);
    for (name, metric) in REQUIRED_ALERTS {
        match rules
            .iter()
            .find(|r| r.get("alert").and_then(Value::as_str) == Some(name))
        {
            None => problems.push(format!("no alert {name}")),
            Some(r) => {
                if !r
                    .get("expr")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .contains(metric)
                {
                    problems.push(format!("{name} does not use {metric}"));
                }
            }
        }
    }
    for r in &rules {
        let Some(name) = r.get("alert").and_then(Value::as_str) else {
            continue;
        };
        if r.get("for").is_none() {
            problems.push(format!("{name}: no `for`"));
        }
        if r.pointer("/labels/severity").is_none() {
            problems.push(format!("{name}: no severity label"));
        }
        if r.pointer("/annotations/summary").is_none()
            || r.pointer("/annotations/description").is_none()
        {
            problems.push(format!("{name}: needs summary and description annotations"));
        }
    }
    if problems.is_empty() {
        Ok(format!("{} rules", rules.len()))
    } else {
        bail!("{}", problems.join("; "))
    }
}

fn check_datasources(ds: &Value) -> Result<String> {
    let list: Vec<&Value> = ds
        .get("datasources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let by_type = |t: &str| {
        list.iter()
            .find(|d| d.get("type").and_then(Value::as_str) == Some(t))
            .copied()
    };
    let prom = by_type("prometheus").ok_or_else(|| anyhow!("no prometheus data source"))?;
    let jaeger = by_type("jaeger").ok_or_else(|| anyhow!("no jaeger data source"))?;
    let uid = |d: &Value| {
        d.get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut problems = Vec::new();
    if uid(prom).is_empty() || uid(jaeger).is_empty() {
        problems.push("data sources need fixed uids".to_string());
    }
    let t2m = jaeger
        .pointer("/jsonData/tracesToMetrics/datasourceUid")
        .and_then(Value::as_str);
    if t2m != Some(uid(prom).as_str()) {
        problems.push(format!(
            "Jaeger tracesToMetrics points at {t2m:?}, not the Prometheus uid"
        ));
    }
    if jaeger
        .pointer("/jsonData/tracesToMetrics/queries")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        problems.push("Jaeger tracesToMetrics has no queries".into());
    }
    let ex = prom
        .pointer("/jsonData/exemplarTraceIdDestinations/0/datasourceUid")
        .and_then(Value::as_str);
    if ex != Some(uid(jaeger).as_str()) {
        problems.push(format!(
            "Prometheus exemplar links point at {ex:?}, not the Jaeger uid"
        ));
    }
    if problems.is_empty() {
        Ok(format!("{} ↔ {}", uid(prom), uid(jaeger)))
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// A PromQL expression to evaluate, with where it comes from.
#[derive(Debug, Clone)]
struct Query {
    source: String,
    expr: String,
}

/// One dashboard file: its static check and its queries.
struct Dashboard {
    file: String,
    title: String,
    check: std::result::Result<String, String>,
    queries: Vec<Query>,
    variables: Vec<Query>,
}

fn load_dashboards() -> Vec<Dashboard> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(DASHBOARDS)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    if files.is_empty() {
        return vec![Dashboard {
            file: DASHBOARDS.into(),
            title: String::new(),
            check: Err("no dashboards".into()),
            queries: Vec::new(),
            variables: Vec::new(),
        }];
    }
    files.iter().map(|p| load_dashboard(p)).collect()
}

/// Whether a panel or target data source is the `datasource` variable.
fn is_datasource_variable(ds: Option<&Value>) -> bool {
    let uid = match ds {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => o.get("uid").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    matches!(uid, "$datasource" | "${datasource}")
}

fn load_dashboard(path: &Path) -> Dashboard {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut d = Dashboard {
        file: file.clone(),
        title: String::new(),
        check: Ok(String::new()),
        queries: Vec::new(),
        variables: Vec::new(),
    };
    let parsed: Result<Value> = std::fs::read_to_string(path)
        .map_err(anyhow::Error::from)
        .and_then(|t| serde_json::from_str(&t).map_err(anyhow::Error::from));
    let json = match parsed {
        Ok(j) => j,
        Err(e) => {
            d.check = Err(format!("not valid JSON: {e}"));
            return d;
        }
    };
    let mut problems = Vec::new();
    d.title = json
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if d.title.is_empty()
        || json
            .get("uid")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        problems.push("needs a title and a uid".to_string());
    }
    let vars: Vec<&Value> = json
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let ds_var = vars.iter().any(|v| {
        v.get("type").and_then(Value::as_str) == Some("datasource")
            && v.get("name").and_then(Value::as_str) == Some("datasource")
            && v.get("query").and_then(Value::as_str) == Some("prometheus")
    });
    if !ds_var {
        problems.push("no `datasource` variable of type prometheus".into());
    }
    for v in &vars {
        let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
        if v.get("type").and_then(Value::as_str) != Some("query") {
            continue;
        }
        if !is_datasource_variable(v.get("datasource")) {
            problems.push(format!("variable {name}: data source is not $datasource"));
        }
        let q = match v.get("query") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        if q.is_empty() {
            problems.push(format!("variable {name}: no query"));
        } else {
            d.variables.push(Query {
                source: format!("{file}: variable ${name}"),
                expr: q,
            });
        }
    }
    // Panels, including those nested in rows.
    let mut panels: Vec<&Value> = Vec::new();
    for p in json
        .get("panels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        panels.push(p);
        panels.extend(
            p.get("panels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    let mut ids = BTreeSet::new();
    let mut n_panels = 0;
    for p in panels {
        let kind = p.get("type").and_then(Value::as_str).unwrap_or("");
        let title = p.get("title").and_then(Value::as_str).unwrap_or("?");
        if let Some(id) = p.get("id").and_then(Value::as_u64) {
            if !ids.insert(id) {
                problems.push(format!("panel id {id} used twice"));
            }
        }
        if kind == "row" || kind == "text" {
            continue;
        }
        n_panels += 1;
        if !is_datasource_variable(p.get("datasource")) {
            problems.push(format!("panel \"{title}\": data source is not $datasource"));
        }
        let targets: Vec<&Value> = p
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let mut any = false;
        for t in targets {
            let expr = t.get("expr").and_then(Value::as_str).unwrap_or("").trim();
            let ref_id = t.get("refId").and_then(Value::as_str).unwrap_or("?");
            if expr.is_empty() {
                problems.push(format!("panel \"{title}\" {ref_id}: empty query"));
                continue;
            }
            any = true;
            if !is_datasource_variable(t.get("datasource")) {
                problems.push(format!(
                    "panel \"{title}\" {ref_id}: data source is not $datasource"
                ));
            }
            d.queries.push(Query {
                source: format!("{file}: \"{title}\" {ref_id}"),
                expr: expr.to_string(),
            });
        }
        if !any {
            problems.push(format!("panel \"{title}\" has no query"));
        }
    }
    d.check = if problems.is_empty() {
        Ok(format!(
            "\"{}\", {n_panels} panels, {} queries, {} variables",
            d.title,
            d.queries.len(),
            vars.len()
        ))
    } else {
        Err(problems.join("; "))
    };
    d
}

fn dashboard_titles(dashboards: &[Dashboard]) -> Result<String> {
    let titles: Vec<&str> = dashboards.iter().map(|d| d.title.as_str()).collect();
    if !titles.contains(&"LLM serving") {
        bail!("no dashboard titled \"LLM serving\" (have {titles:?})");
    }
    let llamacpp = dashboards
        .iter()
        .find(|d| d.queries.iter().all(|q| q.expr.contains("llamacpp:")) && !d.queries.is_empty());
    match llamacpp {
        Some(d) => Ok(format!(
            "\"LLM serving\", \"{}\" (llamacpp:* only)",
            d.title
        )),
        None => bail!("no dashboard that only uses llamacpp:* series"),
    }
}

/// Grafana's variables → values Prometheus accepts: intervals get fixed values, every other
/// variable matches anything (the dashboards use them as `=~"$var"`).
fn substitute(expr: &str) -> String {
    let mut s = expr.to_string();
    for (var, value) in [
        ("${__rate_interval}", "1m"),
        ("$__rate_interval", "1m"),
        ("${__interval}", "15s"),
        ("$__interval", "15s"),
        ("${__range}", "5m"),
        ("$__range", "5m"),
    ] {
        s = s.replace(var, value);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
            out.push_str(".*");
        } else if chars
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
            out.push_str(".*");
        } else {
            out.push('$');
        }
    }
    out
}

/// `label_values(selector, label)` / `label_values(label)` → a query that returns one series per
/// value (`count by (label) (selector)`).
fn variable_query(q: &str) -> Option<String> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (selector, label) = match inner.rfind(',') {
        Some(i) if !inner[i..].contains('}') => (
            inner[..i].trim().to_string(),
            inner[i + 1..].trim().to_string(),
        ),
        _ => (
            format!("{{{}!=\"\"}}", inner.trim()),
            inner.trim().to_string(),
        ),
    };
    Some(format!("count by ({label}) ({selector})"))
}

/// Every top-level comparison of an alert expression as a `bool` comparison, so the expression
/// returns its series whether or not the alert would fire.
fn comparison_as_bool(expr: &str) -> String {
    let bytes = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 16);
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push_str(&expr[i..i + 2]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            out.push(c as char);
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' | b'`' => quote = Some(c),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
        let two = expr.get(i..i + 2).unwrap_or("");
        let op_len = if depth == 0 && matches!(two, ">=" | "<=" | "==" | "!=") {
            2
        } else if depth == 0 && (c == b'>' || c == b'<') {
            1
        } else {
            0
        };
        if op_len == 0 {
            out.push(c as char);
            i += 1;
            continue;
        }
        out.push_str(&expr[i..i + op_len]);
        i += op_len;
        if !expr[i..].trim_start().starts_with("bool") {
            out.push_str(" bool");
        }
    }
    out
}

fn alert_queries(alerts: &Value) -> Vec<Query> {
    alert_rules(alerts)
        .into_iter()
        .filter_map(|r| {
            let name = r.get("alert").or_else(|| r.get("record"))?.as_str()?;
            let expr = r.get("expr")?.as_str()?;
            Some(Query {
                source: format!("alert {name} (as bool)"),
                expr: comparison_as_bool(expr),
            })
        })
        .collect()
}

/// The trace-to-metrics queries of the Jaeger data source, with `$__tags` as Grafana fills it in
/// for a llama-server span.
fn datasource_queries(ds: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for d in ds
        .get("datasources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for q in d
            .pointer("/jsonData/tracesToMetrics/queries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = q.get("name").and_then(Value::as_str).unwrap_or("?");
            if let Some(expr) = q.get("query").and_then(Value::as_str) {
                let expr = expr
                    .replace("$$", "$")
                    .replace("$__tags", "job=\"llama-server\"");
                out.push(Query {
                    source: format!("trace-to-metrics query \"{name}\""),
                    expr,
                });
            }
        }
    }
    out
}

// ------------------------------------------------------------------------------- HTTP

struct HttpResponse {
    status: u16,
    body: String,
}

/// A tiny HTTP/1.1 client (xtask has no HTTP crate): one request, `Connection: close`.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
    timeout: Duration,
) -> Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("{method} {path}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("{method} {path}: no HTTP header"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{method} {path}: bad status line"))?;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok(HttpResponse {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A free loopback port (bound, read, released).
fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

// ------------------------------------------------------------------------------ live part

/// A child process, killed when dropped; its output goes to a log file.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Result<Self> {
        let file = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", util::display(cmd)))?;
        Ok(Proc { name, child, log })
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join(" | ")
    }

    /// Fails with the log's tail if the process has exited.
    fn alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}): {}", self.name, self.tail());
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_http(proc: &mut Proc, addr: &str, path: &str, timeout: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        proc.alive()?;
        if let Ok(r) = http(addr, "GET", path, "text/plain", "", Duration::from_secs(5)) {
            if r.status == 200 {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() > timeout {
            bail!(
                "{} not ready on {addr}{path} after {}: {}",
                proc.name,
                util::duration(timeout),
                proc.tail()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Requests of every kind the dashboards look at: chat (plain and streamed), legacy and
/// llama.cpp completions, streams the client abandons, unknown models, bad JSON. More workers
/// than slots, with a short queue, so requests queue and some are turned away (queue_full).
fn load_worker(addr: String, worker: usize, stop: Arc<AtomicBool>) {
    let timeout = Duration::from_secs(60);
    let mut i = worker;
    while !stop.load(Ordering::Relaxed) {
        let prompt = format!("Count from {} to {} in words.", i % 17, i % 17 + 5);
        let chat = |stream: bool, max: u32, model: &str| {
            json!({"model": model, "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max, "stream": stream, "temperature": 0.7, "seed": i})
            .to_string()
        };
        let json_type = "application/json";
        let _ = match i % 8 {
            0..=2 => http(
                &addr,
                "POST",
                "/v1/chat/completions",
                json_type,
                &chat(false, 12, "llama"),
                timeout,
            ),
            3 => http(
                &addr,
                "POST",
                "/v1/chat/completions",
                json_type,
                &chat(true, 16, "llama"),
                timeout,
            ),
            4 => http(
                &addr,
                "POST",
                "/completion",
                json_type,
                &json!({"prompt": prompt, "n_predict": 8}).to_string(),
                timeout,
            ),
            5 => abandon_stream(&addr, &chat(true, 64, "llama")),
            6 if i % 16 == 6 => http(
                &addr,
                "POST",
                "/v1/chat/completions",
                json_type,
                &chat(false, 4, "gpt-4"),
                timeout,
            ),
            6 => http(
                &addr,
                "POST",
                "/v1/chat/completions",
                json_type,
                "{\"messages\": [",
                timeout,
            ),
            _ => http(
                &addr,
                "POST",
                "/v1/completions",
                json_type,
                &json!({"prompt": prompt, "max_tokens": 8}).to_string(),
                timeout,
            ),
        };
        i += 1;
    }
}

/// Every 15 s, more simultaneous requests than slots plus queue hold: some are turned away
/// with `queue_full` (a server-side error for the error-ratio queries) and the rest queue.
fn burst_worker(addr: String, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::scope(|s| {
            for n in 0..6 {
                let addr = &addr;
                s.spawn(move || {
                    let body = json!({"messages": [{"role": "user", "content": format!("Say {n} words.")}],
                        "max_tokens": 24})
                    .to_string();
                    let _ = http(addr, "POST", "/v1/chat/completions", "application/json", &body, Duration::from_secs(60));
                });
            }
        });
        for _ in 0..15 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// Starts a streamed chat and hangs up after the first event (a client that goes away).
fn abandon_stream(addr: &str, body: &str) -> Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while !String::from_utf8_lossy(&seen).contains("data:") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(HttpResponse {
        status: 0,
        body: String::new(),
    })
}

/// POST /api/v1/query → the number of series (a scalar counts as one).
fn prom_query(prom: &str, expr: &str) -> Result<usize> {
    let r = http(
        prom,
        "POST",
        "/api/v1/query",
        "application/x-www-form-urlencoded",
        &format!("query={}", urlencode(expr)),
        Duration::from_secs(30),
    )?;
    let v: Value = serde_json::from_str(&r.body)
        .with_context(|| format!("Prometheus answered {}: {}", r.status, r.body))?;
    if v.get("status").and_then(Value::as_str) != Some("success") {
        bail!(
            "{}",
            v.get("error").and_then(Value::as_str).unwrap_or(&r.body)
        );
    }
    let result = v.pointer("/data/result");
    Ok(match result {
        Some(Value::Array(a)) => a.len(),
        Some(_) => 1,
        None => 0,
    })
}

fn prom_get(prom: &str, path: &str) -> Result<Value> {
    let r = http(prom, "GET", path, "text/plain", "", Duration::from_secs(30))?;
    serde_json::from_str(&r.body).with_context(|| format!("GET {path}: {}", r.status))
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

fn live(
    report: &mut Report,
    model: Option<String>,
    server: Option<String>,
    queries: &[Query],
    variables: &[Query],
) -> Result<()> {
    let root = util::workspace_root();
    let model = match model.or_else(|| std::env::var("LLAMA_TEST_MODEL").ok()) {
        Some(m) => root.join(m),
        None => root.join("models").join(DEFAULT_MODEL),
    };
    if !model.is_file() {
        bail!(
            "model {} not found: run `cargo xtask fetch-model` or pass --model",
            model.display()
        );
    }
    let server_bin = match server {
        Some(s) => root.join(s),
        None => {
            util::run(util::cargo().args([
                "build",
                "--release",
                "-p",
                "llama-server",
                "--features",
                "otel",
            ]))?;
            target_dir(&root).join("release").join("llama-server")
        }
    };
    report.record(
        "llama-server built with otel",
        if server_bin.is_file() {
            Ok(server_bin.display().to_string())
        } else {
            Err(anyhow!("{} missing", server_bin.display()))
        },
    );
    if !server_bin.is_file() {
        return Ok(());
    }
    let prometheus = which("prometheus")
        .ok_or_else(|| anyhow!("prometheus not on PATH (Debian package `prometheus`)"))?;
    let tmp = TempDir::new(Some(&target_dir(&root).join("tmp")), "observability")?;

    // The server, with ggml op timing on when this build has the flag.
    let help = Command::new(&server_bin)
        .arg("--help")
        .output()
        .context("llama-server --help")?;
    let ggml_flag = String::from_utf8_lossy(&help.stdout).contains("--otel-ggml-ops");
    report.record(
        "llama-server has --otel-ggml-ops",
        if ggml_flag {
            Ok(String::new())
        } else {
            Err(anyhow!(
                "not in --help: the ggml op time panel cannot be fed"
            ))
        },
    );
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(&server_bin);
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "-c",
        "2048",
        "--parallel",
        "2",
        "--queue-size",
        "2",
        "--alias",
        "llama",
    ])
    .arg("-m")
    .arg(&model);
    if ggml_flag {
        cmd.arg("--otel-ggml-ops");
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("OTEL_SERVICE_NAME", "llama-server");
    let mut server_proc = Proc::spawn("llama-server", &mut cmd, tmp.path().join("server.log"))?;
    let ready = wait_http(&mut server_proc, &addr, "/health", Duration::from_secs(180));
    report.record(
        "llama-server starts and loads the model",
        ready
            .as_ref()
            .map(|d| format!("{addr}, ready in {}", util::duration(*d)))
            .map_err(|e| anyhow!("{e:#}")),
    );
    ready?;

    // Prometheus, scraping it every second and evaluating the real alert rules.
    let prom_port = free_port()?;
    let prom_addr = format!("127.0.0.1:{prom_port}");
    let alerts = root.join(ALERTS);
    let config = format!(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\nrule_files:\n  - {alerts:?}\nscrape_configs:\n  - job_name: llama-server\n    static_configs:\n      - targets: [\"{addr}\"]\n",
    );
    std::fs::write(tmp.path().join("prometheus.yml"), config)?;
    let mut prom_cmd = Command::new(&prometheus);
    prom_cmd
        .arg(format!(
            "--config.file={}",
            tmp.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            tmp.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={prom_addr}"))
        .arg("--enable-feature=exemplar-storage");
    let mut prom_proc = Proc::spawn(
        "prometheus",
        &mut prom_cmd,
        tmp.path().join("prometheus.log"),
    )?;
    let ready = wait_http(
        &mut prom_proc,
        &prom_addr,
        "/-/ready",
        Duration::from_secs(60),
    );
    report.record(
        "Prometheus starts with the alert rules",
        ready
            .as_ref()
            .map(|_| prom_addr.clone())
            .map_err(|e| anyhow!("{e:#}")),
    );
    ready?;

    // Load while the queries run.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers: Vec<_> = (0..5)
        .map(|w| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || load_worker(addr, w, stop))
        })
        .collect();
    let (burst_addr, burst_stop) = (addr.clone(), stop.clone());
    workers.push(std::thread::spawn(move || {
        burst_worker(burst_addr, burst_stop)
    }));
    let result = evaluate(
        report,
        &prom_addr,
        &addr,
        &mut server_proc,
        queries,
        variables,
    );
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    drop(prom_proc);
    drop(server_proc);
    result
}

/// Waits until the scrapes have data, then evaluates everything, retrying empty results for a
/// while (rates need two scrapes of a series that has moved).
fn evaluate(
    report: &mut Report,
    prom: &str,
    server: &str,
    server_proc: &mut Proc,
    queries: &[Query],
    variables: &[Query],
) -> Result<()> {
    let start = Instant::now();
    let warm = Duration::from_secs(20);
    let deadline = Duration::from_secs(90);
    while start.elapsed() < warm {
        server_proc.alive()?;
        std::thread::sleep(Duration::from_secs(1));
    }
    // The target is scraped (a scrape can time out while the machine is busy: look at the last
    // minute, not only the last scrape).
    let up = prom_query(prom, "max_over_time(up{job=\"llama-server\"}[1m]) == 1");
    report.record(
        "Prometheus scrapes llama-server",
        up.and_then(|n| {
            if n == 1 {
                Ok(server.to_string())
            } else {
                Err(anyhow!("target not up"))
            }
        }),
    );

    let mut pending: Vec<(Query, String)> = queries
        .iter()
        .map(|q| {
            (
                Query {
                    source: q.source.clone(),
                    expr: substitute(&q.expr),
                },
                String::new(),
            )
        })
        .chain(variables.iter().filter_map(|v| {
            let q = variable_query(&substitute(&v.expr))?;
            Some((
                Query {
                    source: v.source.clone(),
                    expr: q,
                },
                String::new(),
            ))
        }))
        .collect();
    let unsupported: Vec<_> = variables
        .iter()
        .filter(|v| variable_query(&v.expr).is_none())
        .collect();
    for v in unsupported {
        report.record(
            &v.source,
            Err(anyhow!(
                "only label_values(...) variables are checked: {}",
                v.expr
            )),
        );
    }
    let total = pending.len();
    let mut passed = Vec::new();
    loop {
        server_proc.alive()?;
        let mut still = Vec::new();
        for (q, _) in pending {
            match prom_query(prom, &q.expr) {
                Ok(n) if n > 0 => passed.push((q, n)),
                Ok(_) => still.push((q, "no series".to_string())),
                // A parse error does not get better by waiting.
                Err(e) if e.to_string().contains("parse error") => {
                    report.record(
                        &format!("query {}", q.source),
                        Err(anyhow!("{e:#}: {}", q.expr)),
                    );
                }
                Err(e) => still.push((q, format!("{e:#}"))),
            }
        }
        pending = still;
        if pending.is_empty() || start.elapsed() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(3));
    }
    for (q, n) in &passed {
        report.record(&format!("query {}", q.source), Ok(format!("{n} series")));
    }
    for (q, why) in &pending {
        report.record(
            &format!("query {}", q.source),
            Err(anyhow!("{why}: {}", q.expr)),
        );
    }
    println!(
        "      ({} of {total} queries returned series)",
        passed.len()
    );

    // Every rule evaluated without error.
    let rules = prom_get(prom, "/api/v1/rules");
    report.record(
        "alert rules evaluate in Prometheus",
        rules.and_then(|v| {
            let groups = v
                .pointer("/data/groups")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let rules: Vec<Value> = groups
                .iter()
                .flat_map(|g| {
                    g.get("rules")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .collect();
            let bad: Vec<String> = rules
                .iter()
                .filter(|r| r.get("health").and_then(Value::as_str) != Some("ok"))
                .map(|r| {
                    format!(
                        "{} ({})",
                        r.get("name").and_then(Value::as_str).unwrap_or("?"),
                        r.get("lastError")
                            .and_then(Value::as_str)
                            .unwrap_or("not evaluated")
                    )
                })
                .collect();
            if rules.is_empty() {
                bail!("no rules loaded");
            }
            if bad.is_empty() {
                let firing = rules
                    .iter()
                    .filter(|r| r.get("state").and_then(Value::as_str) == Some("firing"))
                    .count();
                Ok(format!("{} rules healthy, {firing} firing", rules.len()))
            } else {
                bail!("{}", bad.join("; "))
            }
        }),
    );

    // Instruments the server records → the names the dashboards use.
    let names = prom_get(prom, "/api/v1/label/__name__/values");
    let names: BTreeSet<String> = names
        .ok()
        .and_then(|v| v.get("data").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    let mut missing = Vec::new();
    for (instrument, name) in INSTRUMENTS {
        if !names.contains(*name) {
            missing.push(format!("{instrument} ({name})"));
        }
    }
    report.record(
        "every instrument reaches Prometheus under the expected name",
        if missing.is_empty() {
            Ok(format!("{} instruments", INSTRUMENTS.len()))
        } else {
            Err(anyhow!("not scraped: {}", missing.join(", ")))
        },
    );
    let used: String = queries
        .iter()
        .map(|q| q.expr.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let unused: Vec<&String> = names
        .iter()
        .filter(|n| !n.starts_with("scrape_") && *n != "up" && !n.starts_with("ALERTS"))
        .filter(|n| {
            let base = n
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            !used.contains(base)
        })
        .collect();
    if !unused.is_empty() {
        println!(
            "      (scraped but on no dashboard: {})",
            unused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

/// Each instrument the server and engine record, and its name after the Prometheus exporter.
const INSTRUMENTS: &[(&str, &str)] = &[
    (
        "gen_ai.server.request.duration",
        "gen_ai_server_request_duration_seconds_bucket",
    ),
    (
        "gen_ai.server.time_to_first_token",
        "gen_ai_server_time_to_first_token_seconds_bucket",
    ),
    (
        "gen_ai.server.time_per_output_token",
        "gen_ai_server_time_per_output_token_seconds_bucket",
    ),
    (
        "llama.model.load.duration",
        "llama_model_load_duration_seconds_bucket",
    ),
    ("llama.model.size", "llama_model_size_bytes"),
    ("llama.tokens", "llama_tokens_total"),
    (
        "llama.decode.duration",
        "llama_decode_duration_seconds_bucket",
    ),
    ("llama.decode.tokens", "llama_decode_tokens_bucket"),
    (
        "llama.sampling.duration",
        "llama_sampling_duration_seconds_bucket",
    ),
    (
        "llama.queue.wait.duration",
        "llama_queue_wait_duration_seconds_bucket",
    ),
    ("llama.requests.queued", "llama_requests_queued"),
    ("llama.requests.active", "llama_requests_active"),
    ("llama.slots.busy", "llama_slots_busy"),
    ("llama.kv_cache.usage", "llama_kv_cache_usage_ratio"),
    ("llama.kv_cache.tokens", "llama_kv_cache_tokens"),
    (
        "llama.context.utilization",
        "llama_context_utilization_ratio_bucket",
    ),
    ("llama.requests", "llama_requests_total"),
    (
        "llama.ggml.op.duration",
        "llama_ggml_op_duration_seconds_bucket",
    ),
    (
        "llamacpp:prompt_tokens_total",
        "llamacpp:prompt_tokens_total",
    ),
    (
        "llamacpp:requests_rejected_total",
        "llamacpp:requests_rejected_total",
    ),
];

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

    #[test]
    fn grafana_variables_are_substituted() {
        assert_eq!(
            substitute("rate(x{instance=~\"$instance\", m=~\"${model:regex}\"}[$__rate_interval]) $__interval"),
            "rate(x{instance=~\".*\", m=~\".*\"}[1m]) 15s"
        );
        assert_eq!(substitute("a $ b"), "a $ b");
    }

    #[test]
    fn comparisons_become_bool() {
        assert_eq!(comparison_as_bool("up == 0"), "up == bool 0");
        assert_eq!(
            comparison_as_bool("sum(x{a!=\"b\"}) by (i) > 0.9"),
            "sum(x{a!=\"b\"}) by (i) > bool 0.9"
        );
        assert_eq!(comparison_as_bool("a >= bool 2"), "a >= bool 2");
        assert_eq!(
            comparison_as_bool("histogram_quantile(0.95, x) > 2 and y < 1"),
            "histogram_quantile(0.95, x) > bool 2 and y < bool 1"
        );
        assert_eq!(
            comparison_as_bool("x{l=\"a>b\"} > 1"),
            "x{l=\"a>b\"} > bool 1"
        );
    }

    #[test]
    fn label_values_become_count_by() {
        assert_eq!(
            variable_query("label_values(target_info{a=~\".*\"}, instance)").as_deref(),
            Some("count by (instance) (target_info{a=~\".*\"})")
        );
        assert_eq!(
            variable_query("label_values(job)").as_deref(),
            Some("count by (job) ({job!=\"\"})")
        );
        assert_eq!(variable_query("query_result(up)"), None);
    }

    #[test]
    fn addresses_and_paths() {
        assert_eq!(
            host_port("http://otel-collector:4317"),
            Some(("otel-collector".into(), 4317))
        );
        assert_eq!(host_port("jaeger:4317"), Some(("jaeger".into(), 4317)));
        assert_eq!(
            normalize(Path::new("observability/../models")),
            PathBuf::from("models")
        );
        assert_eq!(urlencode("a b{c=\"d\"}"), "a%20b%7Bc%3D%22d%22%7D");
        assert_eq!(dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
    }

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
