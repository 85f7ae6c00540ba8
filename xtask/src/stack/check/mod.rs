//! `check-observability`: checks the stack's files without Docker. The real tools where they
//! are installed, the rules and cross-file wiring no tool knows, then every dashboard, alert and
//! data-source query evaluated in a real Prometheus that scrapes the real server under load.

mod compose;
mod config;
mod evaluate;
mod gpu;
mod grafana;
mod kube;
mod kube_rules;
mod live;
mod pipelines;
mod promql;
mod replicas;
mod tools;
mod wiring;

use crate::stack::files::{
    ALERTS, COLLECTOR, COMPOSE, DASHBOARD_PROVIDERS, DATASOURCES, JAEGER, KUBERNETES, LOKI,
    PROM_CONFIG,
};
use crate::util;
use anyhow::{bail, Result};
use config::load;
use promql::Query;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Checks observability/ without Docker, ending with `N passed, M failed`.
///
/// Checks the compose file (`docker compose config` where installed), the collector config
/// (`otelcol-contrib validate` where installed), Prometheus' config and rules (promtool), the
/// wiring between all of them and the dashboards; then builds llama-server with `otel` (or
/// takes --server), runs it with the model and `--otel-ggml-ops`, runs Prometheus (on PATH)
/// scraping it while requests run, and evaluates every dashboard, variable, alert and
/// data-source query. Exits non-zero when anything failed.
#[derive(Debug, clap::Args)]
pub struct CheckOpts {
    /// Stop before the server: the static checks only
    #[arg(long = "static")]
    static_only: bool,
    /// GGUF model [default: $LLAMA_TEST_MODEL or models/SmolLM2-135M-Instruct.Q4_1.gguf]
    #[arg(long, value_name = "PATH")]
    model: Option<String>,
    /// llama-server binary built with `otel` [default: build it]
    #[arg(long, value_name = "PATH")]
    server: Option<String>,
}

/// Counts and prints check results.
#[derive(Default)]
pub(super) struct Report {
    passed: usize,
    /// `name: error` of each failed check.
    failed: Vec<String>,
    skipped: Vec<String>,
}

impl Report {
    /// Prints `ok    NAME: detail` or `FAIL  NAME: error` and counts it.
    fn record(&mut self, name: &str, result: Result<String>) {
        match result {
            Ok(d) if d.is_empty() => println!("ok    {name}"),
            Ok(d) => println!("ok    {name}: {d}"),
            Err(e) => {
                println!("FAIL  {name}: {e:#}");
                self.failed.push(format!("{name}: {e:#}"));
                return;
            }
        }
        self.passed += 1;
    }

    /// A check that could not run here, and why.
    fn skip(&mut self, name: &str, why: &str) {
        println!("skip  {name}: {why}");
        self.skipped.push(name.to_string());
    }
}

/// `Ok(detail)` when nothing was found wrong, else every problem in one error.
fn outcome(problems: Vec<String>, detail: impl FnOnce() -> String) -> Result<String> {
    if problems.is_empty() {
        Ok(detail())
    } else {
        bail!("{}", problems.join("; "))
    }
}

/// The stack's YAML files, parsed into their types, and where they are.
pub(super) struct Stack {
    root: PathBuf,
    compose: config::Compose,
    collector: config::Collector,
    /// Jaeger v2's config has the collector's layout.
    jaeger: config::Collector,
    loki: config::Loki,
    prom: config::Prometheus,
    rules: config::Rules,
    datasources: config::DataSources,
    providers: config::Providers,
}

impl Stack {
    fn load(root: &Path) -> Result<Self> {
        Ok(Stack {
            root: root.to_path_buf(),
            compose: load(root, COMPOSE)?,
            collector: load(root, COLLECTOR)?,
            jaeger: load(root, JAEGER)?,
            loki: load(root, LOKI)?,
            prom: load(root, PROM_CONFIG)?,
            rules: load(root, ALERTS)?,
            datasources: load(root, DATASOURCES)?,
            providers: load(root, DASHBOARD_PROVIDERS)?,
        })
    }
}

pub fn check(opts: CheckOpts) -> ExitCode {
    let mut report = Report::default();
    if let Err(e) = check_all(&opts, &mut report) {
        report.record("check-observability", Err(e));
    }
    if !report.skipped.is_empty() {
        let (n, names) = (report.skipped.len(), report.skipped.join("; "));
        println!("{n} skipped (not installed here): {names}");
    }
    println!("{} passed, {} failed", report.passed, report.failed.len());
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_all(opts: &CheckOpts, report: &mut Report) -> Result<()> {
    let queries = check_files(&util::workspace_root(), report)?;
    if opts.static_only {
        return Ok(());
    }
    live::live(report, opts, &queries)
}

/// The static checks of the stack under `root`; returns every query to evaluate: the
/// dashboards', their variables' as series queries, the data sources', and the alerts' with
/// their comparisons made `bool` so that they return series either way.
fn check_files(root: &Path, report: &mut Report) -> Result<Vec<Query>> {
    tools::promtool(root, report);
    let stack = Stack::load(root)?;
    let parsed = Ok("8 files, no duplicate keys".into());
    report.record("YAML files parse into their types", parsed);
    tools::optional(&stack, report);
    report.record("images pinned to exact versions", stack.pinned());
    report.record("wiring between the services' files", stack.wiring());
    report.record(
        "gpu profile: CUDA image with an NVIDIA device",
        stack.gpu_profile(),
    );
    report.record("collector and Jaeger pipelines", stack.sampling());
    let overlay = replicas::Replicas::load(root)?;
    report.record("replicas overlay", stack.replicas(&overlay));
    let by_instance = replicas::dashboards_by_instance(root);
    report.record("dashboards break down by instance", by_instance);
    let manifests = kube::load_all(root, KUBERNETES)?;
    report.record("Kubernetes manifests", kube_rules::rules(&manifests));
    tools::kubernetes_validate(root, report);
    tools::haproxy(root, report);
    let mut queries = Vec::new();
    grafana::dashboards(root, report, &mut queries)?;
    queries.extend(grafana::datasource_queries(&stack.datasources));
    for rule in stack.rules.groups.iter().flat_map(|g| &g.rules) {
        let name = rule.alert.as_ref().or(rule.record.as_ref());
        let name = name.map_or("?", String::as_str);
        let expr = promql::comparison_as_bool(&rule.expr);
        queries.push(Query::new(format!("alert {name} (as bool)"), &expr));
    }
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::files::{HAPROXY, PROM_REPLICAS, REPLICAS};
    use crate::stack::process::which;

    /// The static check of a copy of the stack with `from` replaced by `to` in `file`: the
    /// failures, or the error that stopped it.
    fn failures(file: &str, from: &str, to: &str) -> String {
        let (root, tmp) = (
            util::workspace_root(),
            util::TempDir::new(None, "stack").unwrap(),
        );
        let mut cp = std::process::Command::new("cp");
        cp.arg("-r").args(
            ["observability", "Dockerfile", "Dockerfile.cuda", "deploy"].map(|p| root.join(p)),
        );
        util::run(cp.arg(tmp.path())).unwrap();
        let text = std::fs::read_to_string(tmp.path().join(file)).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(tmp.path().join(file), text.replacen(from, to, 1)).unwrap();
        let mut report = Report::default();
        match check_files(tmp.path(), &mut report) {
            Ok(_) => report.failed.join("\n"),
            Err(e) => format!("stopped: {e:#}"),
        }
    }

    /// promtool is part of the check: required under CI, a skip elsewhere.
    fn have_promtool() -> bool {
        let (have, why) = (
            which("promtool").is_some(),
            "promtool (Debian package `prometheus`)",
        );
        assert!(have || !util::in_ci(), "no {why}");
        if !have {
            eprintln!("skipped: no {why}");
        }
        have
    }

    #[test]
    fn the_real_files_pass() {
        if have_promtool() {
            assert_eq!(failures(COMPOSE, "", ""), "");
        }
    }

    /// Each break alone fails the check, with a message that says what is wrong:
    /// `file|text|replaced by|message`.
    #[test]
    fn broken_files_fail() {
        let mut cases = vec![
            "prom|scrape_configs:|scrape_configs: [|stopped: observability/prometheus/prom",
            "compose|name: llama-rs-observability|name: x\nname: y|duplicate entry",
            "compose|  jaeger:\n|  jaegr:\n|wiring between the services' files: no service jaeger",
            "prom|llama-server:8080|llama-server:8081|scrapes llama-server:8081: no such port",
            "compose|otel-collector:4317|otel-collector:4318|exports to `http://otel-collector:4318`",
            "compose|alerts.yml:/etc/prometheus/|alerts.yml:/etc/|`/etc/prometheus/alerts.yml` is",
            "ds|url: http://jaeger:16686|url: http://jaeger:1|url http://jaeger:1 is no service's port",
            "ds|datasourceUid: jaeger|datasourceUid: j|exemplars do not link to the Jaeger uid",
            "collector|exporters: [prometheus]|exporters: [prometheus/x]|prometheus/x",
            "compose|grafana/grafana:12.4.3|grafana/grafana:12|`12` is not an exact version",
            "compose|FROM jaegertracing/jaeger:2.21.0|FROM jaegertracing/jaeger:2|`2` is not an",
            "jaeger|exporters: [jaeger_storage_exporter]|exporters: [x]|jaeger: pipeline traces",
            "collector|endpoint: jaeger:4317|endpoint: jaeger:4318|not Jaeger's OTLP/gRPC",
            "collector|otlp_grpc/jaeger:|otlp/jaeger:|`otlp` is deprecated",
            "collector|http://loki:3100/otlp|http://loki:3100|not Loki's OTLP endpoint",
            "collector|threshold_ms: 2000|threshold_ms: 5000|tail_sampling keeps requests slower",
            "collector|processors: [memory_limiter]\n      exporters: [spanmetrics]|processors: [memory_limiter, tail_sampling]\n      exporters: [spanmetrics]|span metrics behind the tail sampler",
            "collector|exporters: [otlp_http/loki]|exporters: [debug]|no collector logs pipeline",
            "loki|allow_structured_metadata: true|allow_structured_metadata: false|trace ids are lost",
            "compose|/etc/loki/config.yaml:ro|/etc/loki/c.yaml:ro|loki: `/etc/loki/config.yaml`",
            "ds|datasourceUid: loki|datasourceUid: l|tracesToLogsV2 does not go to the Loki uid",
            "dash|\"panels\"|\"panels\" 1|dashboard llm-serving.json: not a Grafana dashboard",
            "dash|\"uid\": \"${datasource}\"|\"uid\": \"p\"|panel \"Requests / s\": needs queries",
            "dash|\"label_values(target_info, |\"query_result(|variable model: needs label_values",
            "replicas|service.instance.id=llama-server-3|service.instance.id=llama-server-2|`llama-server-2` is not distinct",
            "replicas|service.instance.id=llama-server-2|x=y|llama-server-2: no service.instance.id",
            "replicas|  haproxy:\n    profiles: [replicas]|  haproxy:\n|haproxy: a new service without profile",
            "replicas|--ctx-size=${LLAMA_CTX_SIZE:-4096}|--ctx-size=8|llama-server-2: command differs",
            "replicas|OTEL_LOGS_EXPORTER: otlp|OTEL_LOGS_EXPORTER: none|OTEL_LOGS_EXPORTER differs",
            "replicas|image: haproxy:3.2.4-alpine|image: haproxy:3|`3` is not an exact version",
            "replicas|./haproxy/haproxy.cfg:|./haproxy/h.cfg:|haproxy.cfg is mounted read-only by no",
            "haproxy|balance leastconn|balance roundrobin|not leastconn",
            "haproxy|    server llama-server-3 llama-server-3:8080 check inter 5s\n||servers {",
            "promrep|, \"llama-server-3:8080\"||job llama-server scrapes",
            "promrep|localhost:9090|localhost:9091|job prometheus differs",
            "k8s-server|      app.kubernetes.io/name: llama-server\n  template|      app: x\n  template|llama-server: selector does not match",
            "k8s-server|apiVersion: apps/v1|apiVersion: v1|Deployment needs apiVersion apps/v1",
            "k8s-server|kind: PersistentVolumeClaim|kind: PVC|unknown kind `PVC`",
            "k8s-server|containerPort: 8080|containerPort: \"x\"|llama-server.yaml document 1",
            "k8s-server|      targetPort: http|      targetPort: 8081|targetPort Number(8081) is no container",
            "k8s-server|              path: /health|              path: /healthz|not /health",
            "k8s-server|          readinessProbe:|          startupProbe:|llama-server/llama-server: no readiness probe",
            "k8s-server|              port: http\n|              port: metrics\n|probe on Name(\"metrics\"), no container",
            "k8s-server|prometheus.io/port: \"8080\"|prometheus.io/port: \"9090\"|prometheus.io/port Some(9090)",
            "k8s-server|claimName: llama-models|claimName: models|names no PersistentVolumeClaim models",
            "k8s-server|service.instance.id=$(POD_NAME)|service.instance.id=x|not the pod's name",
            "k8s-server|http://otel-collector:4317|http://otel-collector:4319|is no Service's port",
            "k8s-server|image: llama-rs/llama-server:0.1.0|image: llama-rs/llama-server:latest|`latest`",
            "k8s-server|          resources:|          resourcez:|no resource requests and limits",
            "k8s-hpa|    name: llama-server\n  minReplicas|    name: llama\n  minReplicas|scaleTargetRef apps/v1 Deployment llama is no",
            "k8s-hpa|    - type: Pods|    - type: Object|no `type: Pods` metric",
            "k8s-hpa|          name: llama_requests_queued|          name: llama_requests_active|not a queue-depth metric",
            "k8s-hpa|as: llama_requests_queued|as: llama_queued|no prometheus-adapter rule serves",
            "k8s-collector|name: otel-collector-config\n|name: otel-config\n|names no ConfigMap otel-collector-config",
        ];
        if have_promtool() {
            cases.push("alerts|) > 2|) >> 2|promtool check rules: `");
        }
        let have = which("haproxy").is_some();
        assert!(
            have || !util::in_ci(),
            "no haproxy (Debian package `haproxy`)"
        );
        if have {
            cases.push("haproxy|    timeout connect 5s|    timeout connect 5x|haproxy -c: `");
        } else {
            eprintln!("skipped a case: no haproxy (Debian package `haproxy`)");
        }
        // Only the real schema knows every field: a typo in one the typed check does not read.
        let validate = "kubernetes-validate (PyPI package `kubernetes-validate`)";
        let have = which("kubernetes-validate").is_some();
        assert!(have || !util::in_ci(), "no {validate}");
        if have {
            cases.push("k8s-collector|  replicas: 1|  replicaz: 1|kubernetes-validate --strict: `");
        } else {
            eprintln!("skipped a case: no {validate}");
        }
        for case in cases {
            let [file, from, to, want] = case.splitn(4, '|').collect::<Vec<_>>()[..] else {
                panic!("{case}");
            };
            let file = match file {
                "prom" => PROM_CONFIG,
                "compose" => COMPOSE,
                "ds" => DATASOURCES,
                "collector" => COLLECTOR,
                "jaeger" => JAEGER,
                "loki" => LOKI,
                "alerts" => ALERTS,
                "replicas" => REPLICAS,
                "haproxy" => HAPROXY,
                "promrep" => PROM_REPLICAS,
                "k8s-server" => "deploy/kubernetes/llama-server.yaml",
                "k8s-hpa" => "deploy/kubernetes/hpa.yaml",
                "k8s-collector" => "deploy/kubernetes/collector.yaml",
                _ => "observability/grafana/dashboards/llm-serving.json",
            };
            let (from, to) = (from.replace("\\n", "\n"), to.replace("\\n", "\n"));
            let failures = failures(file, &from, &to);
            assert!(failures.contains(want), "{case}: not in\n{failures}");
        }
    }
}
