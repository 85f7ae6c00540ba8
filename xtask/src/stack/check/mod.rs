//! `check-observability`: checks the stack's files without Docker — statically, then live, by
//! evaluating every dashboard, alert and data-source query in a real Prometheus that scrapes the
//! real server while requests run.

mod alerts;
mod collector;
mod compose_file;
mod dashboards;
mod datasources;
mod dockerfile;
mod instruments;
mod live_server;
mod load;
mod prometheus;
mod promql;
mod report;
mod run;
mod wiring;
mod yaml;

pub use run::check;
