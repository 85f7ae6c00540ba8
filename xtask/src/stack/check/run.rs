//! The sequence of `check-observability`: the static checks of every file, then the live part
//! with every query the stack evaluates.

use super::alerts::{alert_queries, check_alert_rules, promtool};
use super::collector::{check_collector_components, check_collector_pipelines};
use super::compose_file::ComposeFile;
use super::dashboards::{dashboard_titles, load_dashboards, Dashboard};
use super::datasources::{check_datasources, datasource_queries};
use super::dockerfile::check_dockerfile;
use super::live_server::live;
use super::promql::Query;
use super::report::Report;
use super::yaml::Docs;
use crate::stack::files::{
    ALERTS, COLLECTOR, COMPOSE, DASHBOARD_PROVIDERS, DATASOURCES, PROM_CONFIG,
};
use crate::util::{self, Args};
use anyhow::{anyhow, Context, Result};
use std::process::ExitCode;

/// The YAML files, parsed once.
const YAML_FILES: [&str; 6] = [
    COMPOSE,
    COLLECTOR,
    PROM_CONFIG,
    ALERTS,
    DATASOURCES,
    DASHBOARD_PROVIDERS,
];

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

    let docs = Docs::load(&YAML_FILES);
    report.record(
        "YAML files parse (no duplicate keys)",
        YAML_FILES
            .iter()
            .map(|p| docs.get(p).map(|_| ()))
            .collect::<Result<Vec<_>>>()
            .map(|v| format!("{} files", v.len())),
    );
    compose_checks(report, &docs);
    prometheus_checks(report, &docs);
    let dashboards = dashboard_checks(report);
    if static_only {
        return Ok(());
    }

    // The live part: the real server, a real Prometheus, every query.
    let (queries, variables) = all_queries(report, &docs, &dashboards);
    live(report, model, server, &queries, &variables)
}

/// The compose file, the Dockerfile it builds and the collector config it runs.
fn compose_checks(report: &mut Report, docs: &Docs) {
    let compose = docs.get(COMPOSE).and_then(ComposeFile::new);
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
                docs.get(COLLECTOR)?,
                docs.get(PROM_CONFIG)?,
                docs.get(DATASOURCES)?,
                docs.get(DASHBOARD_PROVIDERS)?,
            )
        }),
    );
    report.record(
        "Dockerfile: multi-stage, pinned, slim, non-root, otel",
        check_dockerfile(),
    );
    report.record(
        "collector: components exist in the pinned contrib release",
        with_compose(&|c| check_collector_components(docs.get(COLLECTOR)?, c)),
    );
    report.record(
        "collector: pipelines complete",
        docs.get(COLLECTOR).and_then(check_collector_pipelines),
    );
}

/// Prometheus' config and rules, and Grafana's data sources.
fn prometheus_checks(report: &mut Report, docs: &Docs) {
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
        docs.get(ALERTS).and_then(check_alert_rules),
    );
    report.record(
        "grafana data sources: Prometheus + Jaeger linked",
        docs.get(DATASOURCES).and_then(check_datasources),
    );
}

/// Each dashboard's static check; the dashboards, for their queries.
fn dashboard_checks(report: &mut Report) -> Vec<Dashboard> {
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
    dashboards
}

/// The queries (dashboard panels, alerts, trace-to-metrics links) and the dashboard variables.
fn all_queries(
    report: &mut Report,
    docs: &Docs,
    dashboards: &[Dashboard],
) -> (Vec<Query>, Vec<Query>) {
    let mut queries: Vec<Query> = dashboards.iter().flat_map(|d| d.queries.clone()).collect();
    let variables: Vec<Query> = dashboards
        .iter()
        .flat_map(|d| d.variables.clone())
        .collect();
    match docs.get(ALERTS) {
        Ok(alerts) => queries.extend(alert_queries(alerts)),
        Err(e) => report.record("alert queries", Err(e)),
    }
    match docs.get(DATASOURCES) {
        Ok(ds) => queries.extend(datasource_queries(ds)),
        Err(e) => report.record("data-source queries", Err(e)),
    }
    (queries, variables)
}
