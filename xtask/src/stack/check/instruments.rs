//! The instruments the server and engine record, and whether each reaches Prometheus under the
//! name the dashboards use.

use super::prometheus::prom_get;
use super::promql::Query;
use super::report::Report;
use anyhow::anyhow;
use serde_json::Value;
use std::collections::BTreeSet;

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

/// Instruments the server records → the names the dashboards use; prints the scraped names no
/// query uses.
pub(super) fn check_instruments(report: &mut Report, prom: &str, queries: &[Query]) {
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
    print_unused(&names, queries);
}

/// Prints the scraped series no query uses.
fn print_unused(names: &BTreeSet<String>, queries: &[Query]) {
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
}
