//! `check-observability`: checks the stack's files without Docker. The real tools where they
//! are installed, the rules and cross-file wiring no tool knows, then every dashboard, alert and
//! data-source query evaluated in a real Prometheus that scrapes the real server under load.

mod compose;
mod config;
mod evaluate;
mod grafana;
mod live;
mod promql;
mod tools;
mod wiring;

use crate::stack::files::{
    ALERTS, COLLECTOR, COMPOSE, DASHBOARD_PROVIDERS, DATASOURCES, PROM_CONFIG,
};
use crate::util;
use anyhow::{anyhow, bail, Result};
use config::Doc;
use std::process::ExitCode;
use wiring::Stack;

/// Checks observability/ without Docker, ending with `N passed, M failed`.
///
/// Checks the compose file (`docker compose config` where installed), the collector config
/// (`otelcol-contrib validate` where installed), Prometheus' config and rules (promtool), the
/// wiring between all of them and the dashboards; then builds llama-server with `otel` (or
/// takes --server), runs it with the model and `--otel-ggml-ops`, runs Prometheus (2.x, on PATH) scraping it while
/// requests run, and evaluates every dashboard, variable, alert and data-source query. Exits
/// non-zero when anything failed.
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
    failed: usize,
    skipped: Vec<String>,
}

impl Report {
    /// Prints `ok    NAME: detail` or `FAIL  NAME: error` and counts it.
    fn record(&mut self, name: &str, result: Result<String>) {
        match &result {
            Ok(d) if d.is_empty() => println!("ok    {name}"),
            Ok(d) => println!("ok    {name}: {d}"),
            Err(e) => println!("FAIL  {name}: {e:#}"),
        }
        match result {
            Ok(_) => self.passed += 1,
            Err(_) => self.failed += 1,
        }
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

pub fn check(opts: CheckOpts) -> ExitCode {
    let mut report = Report::default();
    if let Err(e) = check_all(&opts, &mut report) {
        report.record("check-observability", Err(e));
    }
    if !report.skipped.is_empty() {
        println!(
            "{} skipped (not installed here): {}",
            report.skipped.len(),
            report.skipped.join("; ")
        );
    }
    println!("{} passed, {} failed", report.passed, report.failed);
    if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_all(opts: &CheckOpts, report: &mut Report) -> Result<()> {
    std::env::set_current_dir(util::workspace_root())?;
    tools::check_with_tools(report);
    let stack = Stack {
        compose: config::load(COMPOSE)?,
        collector: config::load(COLLECTOR)?,
        prom: config::load(PROM_CONFIG)?,
        datasources: config::load(DATASOURCES)?,
        providers: config::load(DASHBOARD_PROVIDERS)?,
    };
    let rules = config::load(ALERTS)?;
    report.record("YAML files parse (no duplicate keys)", Ok("6 files".into()));
    report.record(
        "images pinned to exact versions",
        compose::pinned(&stack.compose),
    );
    report.record("wiring between the services' files", stack.wiring());
    let dashboards = grafana::load_dashboards()?;
    for d in &dashboards {
        let check = d
            .check
            .as_ref()
            .map(String::clone)
            .map_err(|e| anyhow!("{e:#}"));
        report.record(&format!("dashboard {}", d.file), check);
    }
    if opts.static_only {
        return Ok(());
    }
    let mut queries: Vec<_> = dashboards.iter().flat_map(|d| d.queries.clone()).collect();
    queries.extend(grafana::datasource_queries(&stack.datasources));
    // Every rule, its comparisons made `bool` so that it returns series either way.
    let rules = rules
        .items("groups")
        .into_iter()
        .flat_map(|g| g.items("rules"));
    for rule in rules {
        let name = rule.text("alert").or(rule.text("record")).unwrap_or("?");
        let expr = promql::comparison_as_bool(rule.text("expr").unwrap_or(""));
        queries.push(promql::Query::new(format!("alert {name} (as bool)"), &expr));
    }
    let variables: Vec<_> = dashboards
        .iter()
        .flat_map(|d| d.variables.clone())
        .collect();
    live::live(report, opts, &queries, &variables)
}
