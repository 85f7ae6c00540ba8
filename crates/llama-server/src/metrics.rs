//! `/metrics`: llama.cpp's `llamacpp:*` series (same names, HELP and TYPE), the request
//! rejection counter, then llama-otel's metrics, as Prometheus text or OpenMetrics.

use llama_otel::names::REJECTION_REASONS;
use llama_otel::MetricsFormat;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters kept by the scheduler (llama.cpp's `server_metrics`). The "bucket" values cover the
/// time since the last scrape, as llama.cpp's throughput gauges do.
#[derive(Debug, Clone, Default)]
pub struct EngineCounters {
    prompt_tokens_total: u64,
    prompt_tokens_cached_total: u64,
    prompt_seconds_total: f64,
    tokens_predicted_total: u64,
    tokens_predicted_seconds_total: f64,
    n_decode_total: u64,
    n_busy_slots_total: u64,
    n_tokens_max: usize,
    bucket_prompt_tokens: u64,
    bucket_prompt_seconds: f64,
    bucket_predicted_tokens: u64,
    bucket_predicted_seconds: f64,
    n_draft_tokens: u64,
    n_draft_accepted: u64,
    n_draft_verif_steps: u64,
}

impl EngineCounters {
    /// A prompt finished processing: `n` tokens (cached ones excluded) in `secs`, `cached`
    /// taken from the slot's cache.
    pub fn on_prompt_done(&mut self, n: usize, cached: usize, secs: f64) {
        self.prompt_tokens_total += n as u64;
        self.prompt_tokens_cached_total += cached as u64;
        self.prompt_seconds_total += secs;
        self.bucket_prompt_tokens += n as u64;
        self.bucket_prompt_seconds += secs;
    }

    /// A request finished generating `n` tokens in `secs`.
    pub fn on_generation_done(&mut self, n: usize, secs: f64) {
        self.tokens_predicted_total += n as u64;
        self.tokens_predicted_seconds_total += secs;
        self.bucket_predicted_tokens += n as u64;
        self.bucket_predicted_seconds += secs;
    }

    /// One decode call while `busy` slots were serving requests, the longest slot sequence
    /// (prompt + generation) then being `longest` tokens.
    pub fn on_decode(&mut self, longest: usize, busy: usize) {
        self.n_decode_total += 1;
        self.n_busy_slots_total += busy as u64;
        self.n_tokens_max = self.n_tokens_max.max(longest);
    }

    /// A speculative verification: `drafted` draft tokens, `accepted` of them accepted.
    pub fn on_draft(&mut self, drafted: usize, accepted: usize) {
        self.n_draft_tokens += drafted as u64;
        self.n_draft_accepted += accepted as u64;
        self.n_draft_verif_steps += 1;
    }

    /// A snapshot for one scrape; starts a new throughput bucket.
    pub fn snapshot(&mut self, gauges: Gauges) -> MetricsSnapshot {
        let snap = MetricsSnapshot {
            counters: self.clone(),
            gauges,
        };
        self.bucket_prompt_tokens = 0;
        self.bucket_prompt_seconds = 0.0;
        self.bucket_predicted_tokens = 0;
        self.bucket_predicted_seconds = 0.0;
        snap
    }
}

/// Levels at the time of a scrape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub requests_processing: usize,
    pub requests_deferred: usize,
    pub kv_used: usize,
    pub n_ctx: usize,
}

/// What the scheduler reports for one scrape.
#[derive(Debug, Clone, Default)]
pub struct MetricsSnapshot {
    counters: EngineCounters,
    gauges: Gauges,
}

fn per_second(tokens: u64, secs: f64) -> f64 {
    if tokens == 0 || secs <= 0.0 {
        0.0
    } else {
        tokens as f64 / secs
    }
}

/// llama.cpp's series (`server_task_result_metrics::to_metrics` at the vendored commit): name,
/// Prometheus type, HELP text, in llama.cpp's order (counters, then gauges; the same order
/// as `MetricsSnapshot::values`), then our two KV-cache gauges (llama.cpp dropped them).
const SERIES: [(&str, &str, &str); 17] = [
    ("prompt_tokens_total", "counter", "Number of prompt tokens processed, excluding cached tokens"),
    ("prompt_tokens_cached_total", "counter", "Number of prompt tokens reused from the cache"),
    ("prompt_seconds_total", "counter", "Total time spent processing prompts"),
    ("tokens_predicted_total", "counter", "Number of generation tokens processed"),
    ("tokens_predicted_seconds_total", "counter", "Total time spent generating tokens"),
    (
        "n_decode_total",
        "counter",
        "Total number of llama_decode() calls, excluding speculative decoding and multimodal decoding",
    ),
    ("n_tokens_max", "counter", "Largest observed sequence length (prompt + generation)"),
    ("spec_decode_num_draft_tokens_total", "counter", "Speculative: Total draft tokens generated"),
    (
        "spec_decode_num_accepted_tokens_total",
        "counter",
        "Speculative: Total draft tokens accepted by the target model",
    ),
    (
        "spec_decode_num_drafts_total",
        "counter",
        "Speculative: Total speculative decoding verification steps",
    ),
    ("prompt_tokens_seconds", "gauge", "Average prompt throughput in tokens/s"),
    ("predicted_tokens_seconds", "gauge", "Average generation throughput in tokens/s"),
    ("requests_processing", "gauge", "Number of requests processing"),
    ("requests_deferred", "gauge", "Number of requests deferred"),
    ("n_busy_slots_per_decode", "gauge", "Average number of busy slots per llama_decode() call"),
    ("kv_cache_usage_ratio", "gauge", "KV-cache usage. 1 means 100 percent usage."),
    ("kv_cache_tokens", "gauge", "KV-cache tokens."),
];

impl MetricsSnapshot {
    fn values(&self) -> [f64; SERIES.len()] {
        let c = &self.counters;
        let g = &self.gauges;
        [
            c.prompt_tokens_total as f64,
            c.prompt_tokens_cached_total as f64,
            c.prompt_seconds_total,
            c.tokens_predicted_total as f64,
            c.tokens_predicted_seconds_total,
            c.n_decode_total as f64,
            c.n_tokens_max as f64,
            c.n_draft_tokens as f64,
            c.n_draft_accepted as f64,
            c.n_draft_verif_steps as f64,
            per_second(c.bucket_prompt_tokens, c.bucket_prompt_seconds),
            per_second(c.bucket_predicted_tokens, c.bucket_predicted_seconds),
            g.requests_processing as f64,
            g.requests_deferred as f64,
            c.n_busy_slots_total as f64 / (c.n_decode_total.max(1)) as f64,
            g.kv_used as f64 / g.n_ctx.max(1) as f64,
            g.kv_used as f64,
        ]
    }

    /// The `llamacpp:*` series in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for ((name, kind, help), value) in SERIES.iter().zip(self.values()) {
            let _ = writeln!(out, "# HELP llamacpp:{name} {help}\n# TYPE llamacpp:{name} {kind}\nllamacpp:{name} {value}");
        }
        out
    }
}

/// The whole `/metrics` body in `format`: the `llamacpp:*` series, the rejections, then
/// llama-otel's metrics (with exemplars, and `# EOF` at the end, in OpenMetrics).
pub fn exposition(snapshot: &MetricsSnapshot, format: MetricsFormat) -> String {
    let mut text = snapshot.render();
    text.push_str(&render_rejections());
    if format == MetricsFormat::OpenMetrics {
        text = llama_otel::openmetrics_from_text(&text);
    }
    text.push_str(&llama_otel::metrics_text(format));
    if format == MetricsFormat::OpenMetrics {
        text.push_str(llama_otel::OPENMETRICS_EOF);
    }
    text
}

static REJECTED: [AtomicU64; REJECTION_REASONS.len()] =
    [const { AtomicU64::new(0) }; REJECTION_REASONS.len()];

/// Counts a request answered with an error (`reason`: one of `llama_otel::names::REJECTION_REASONS`).
pub fn record_rejection(reason: &str) {
    if let Some(i) = REJECTION_REASONS.iter().position(|&r| r == reason) {
        REJECTED[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// `llamacpp:requests_rejected_total{reason="..."}` for every reason.
pub fn render_rejections() -> String {
    let mut out = String::from(
        "# HELP llamacpp:requests_rejected_total Requests answered with an error, by reason.\n\
         # TYPE llamacpp:requests_rejected_total counter\n",
    );
    for (reason, count) in REJECTION_REASONS.iter().zip(&REJECTED) {
        let _ = writeln!(
            out,
            "llamacpp:requests_rejected_total{{reason=\"{reason}\"}} {}",
            count.load(Ordering::Relaxed)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_have_llama_cpp_names_and_types() {
        let mut c = EngineCounters::default();
        c.on_prompt_done(100, 7, 0.5);
        c.on_decode(100, 1);
        c.on_decode(2, 2);
        let text = c
            .snapshot(Gauges {
                kv_used: 50,
                n_ctx: 200,
                ..Gauges::default()
            })
            .render();
        assert!(text.contains(
            "# TYPE llamacpp:prompt_tokens_total counter\nllamacpp:prompt_tokens_total 100\n"
        ));
        assert!(text.contains("llamacpp:prompt_tokens_seconds 200\n"));
        assert!(text.contains("llamacpp:n_busy_slots_per_decode 1.5\n"));
        assert!(text.contains("llamacpp:kv_cache_usage_ratio 0.25\n"));
        assert!(text.contains("# TYPE llamacpp:requests_deferred gauge\n"));
        assert!(text.contains("llamacpp:prompt_tokens_cached_total 7\n"));
        assert!(text.contains("# TYPE llamacpp:n_busy_slots_per_decode gauge\n"));
        assert!(text.contains("llamacpp:spec_decode_num_drafts_total 0\n"));
        assert!(text.contains("llamacpp:n_tokens_max 100\n"));
        let again = c.snapshot(Gauges::default()).render();
        assert!(
            again.contains("llamacpp:prompt_tokens_seconds 0\n"),
            "bucket resets per scrape"
        );
        assert!(again.contains("llamacpp:prompt_tokens_total 100\n"));
    }

    #[test]
    fn openmetrics_keeps_series_names_and_ends_with_eof() {
        let mut c = EngineCounters::default();
        c.on_prompt_done(100, 0, 0.5);
        let snapshot = c.snapshot(Gauges::default());
        let plain = exposition(&snapshot, MetricsFormat::Prometheus);
        let om = exposition(&snapshot, MetricsFormat::OpenMetrics);
        assert!(!plain.contains("# EOF"));
        assert!(
            om.ends_with("\n# EOF\n") && om.matches("# EOF").count() == 1,
            "{om}"
        );
        assert!(
            om.starts_with("# TYPE llamacpp:prompt_tokens counter\n"),
            "{om}"
        );
        assert!(
            om.contains("# TYPE llamacpp:n_tokens_max unknown\n"),
            "{om}"
        );
        assert!(
            om.contains("# TYPE llamacpp:requests_rejected counter\n"),
            "{om}"
        );
        // Every `llamacpp:*` sample line is in the OpenMetrics body as it is (the rejection
        // counts may move meanwhile: other tests record rejections).
        for sample in snapshot.render().lines().filter(|l| !l.starts_with('#')) {
            assert!(
                om.lines().any(|l| l == sample),
                "{sample} missing from\n{om}"
            );
        }
    }

    #[test]
    fn rejections_are_labelled() {
        record_rejection("queue_full");
        record_rejection("no_such_reason");
        let text = render_rejections();
        assert!(text.contains("llamacpp:requests_rejected_total{reason=\"queue_full\"} "));
        assert_eq!(
            text.lines().filter(|l| l.starts_with("llamacpp:")).count(),
            REJECTION_REASONS.len()
        );
    }
}
