//! The observability stack in `observability/`: `stack-up`, `stack-down` and `stack-status` drive
//! Docker Compose; `check-observability` checks the stack's files without Docker — statically,
//! and by evaluating every dashboard and alert query in a real Prometheus that scrapes the real
//! server while requests run.

mod check;
mod compose;
mod files;
pub(crate) mod http;
pub(crate) mod process;

pub use check::check;
pub use compose::{down, status, up};

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
