//! Micro-benchmark of the telemetry path itself: what one instrument call, one span and one
//! attribute cost, and what the decode loop's per-step instrumentation costs in total.
//!
//! ```text
//! cargo run --release -p llama-otel --features testing --example telemetry_micro -- MODE [ITERS]
//! ```
//!
//! MODE is `off` (otel compiled in, no SDK installed: every macro is one atomic load),
//! `no-exporter` (the SDK as the server installs it without an OTLP endpoint: Prometheus reader
//! and the in-process trace ring only) or `in-memory` (the test SDK: spans exported
//! synchronously into memory on end, metrics into an in-memory reader). Prints one JSON object:
//! `{"mode": ..., "iters": ..., "ops": [{"op", "ns_median", "ns_min"}]}`, the time per
//! operation over 5 batches of ITERS/5 (median and minimum of the batches: on a shared machine
//! the minimum is the least disturbed). `cargo xtask bench-otel --micro` runs all three modes
//! and turns `decode_step` into telemetry nanoseconds per generated token.

// Without `testing` only the stub `main` below is built.
#![cfg_attr(not(feature = "testing"), allow(dead_code, unused_imports))]

use std::hint::black_box;
use std::time::Instant;

use llama_otel::{
    counter_add, gauge_set, histogram_record, set_attr, span, SpanContext, SpanGuard,
};

/// Buckets of the decode histograms (same shape as llama-core's).
const BUCKETS: [f64; 8] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5];

/// Batches per operation; the reported figures are their median and minimum.
const BATCHES: usize = 5;

/// Times `f` over `iters` calls split in batches: (median, min) ns per call.
fn time_op(iters: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let per = (iters / BATCHES).max(1);
    // Warm-up: the first call of a site creates its instrument.
    for i in 0..per.min(1000) {
        f(i);
    }
    let mut ns: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for i in 0..per {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / per as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    (ns[BATCHES / 2], ns[0])
}

/// The instrumentation of one `Context::decode_linked` call (llama-core/src/context.rs): the
/// `llama.decode` span with 3 start and 3 later attributes, its end, the duration histogram
/// with the span as exemplar and the tokens histogram; then the scheduler's
/// (llama-server/src/telemetry.rs `decode_step`) three gauges.
fn decode_step(i: usize, links: &[SpanContext]) {
    let span = span!("llama.decode", links: links,
        "llama.decode.n_tokens" = black_box(1usize), "llama.decode.n_seqs" = black_box(1usize),
        "llama.decode.n_outputs" = black_box(1usize));
    set_attr!(
        span,
        "llama.decode.n_ubatches" = black_box(1usize),
        "llama.decode.graphs_built" = black_box(0usize),
        "llama.kv_cache.used_cells" = black_box(i % 4096)
    );
    histogram_record!("bench.decode.duration", black_box(0.004), unit: "s",
        description: "bench", buckets: &BUCKETS, exemplar: &span);
    histogram_record!("bench.decode.tokens", black_box(1.0), unit: "{token}",
        description: "bench", buckets: &BUCKETS);
    black_box(&span);
    drop(span);
    gauge_set!("bench.slots.busy", black_box(1.0), unit: "{slot}", description: "bench");
    gauge_set!("bench.kv.usage", black_box(0.1), unit: "1", description: "bench");
    gauge_set!("bench.kv.tokens", black_box(100.0), unit: "{token}", description: "bench");
}

/// The per sampled token instrumentation of the scheduler (llama-server/src/telemetry.rs
/// `clock` + `sampling_time`): a clock read while active, a histogram record with the
/// request's span as exemplar.
fn sample_token(request: &SpanGuard) {
    let t0 = llama_otel::is_active().then(Instant::now);
    black_box(1u32);
    if let Some(t0) = t0 {
        histogram_record!("bench.sampling.duration", t0.elapsed().as_secs_f64(), unit: "s",
            description: "bench", buckets: &BUCKETS, exemplar: request);
    }
}

/// Every measured operation: its name and the time per call.
fn run_ops(iters: usize) -> Vec<(&'static str, (f64, f64))> {
    let model = String::from("SmolLM2-135M-Instruct");
    let root = span!("bench.request");
    let mut ops = Vec::new();
    ops.push((
        "baseline_black_box",
        time_op(iters, |i| {
            black_box(i);
        }),
    ));
    ops.push((
        "counter_add_2_attrs",
        time_op(iters, |i| {
            counter_add!("bench.counter2", black_box(1), unit: "{token}",
            "bench.kind" = "output", "bench.slot" = i % 4);
        }),
    ));
    ops.push((
        "counter_add_4_attrs",
        time_op(iters, |i| {
            counter_add!("bench.counter4", black_box(1), unit: "{token}",
            "bench.kind" = "output", "bench.slot" = i % 4,
            "bench.model" = model.clone(), "bench.port" = 8080i64);
        }),
    ));
    ops.push((
        "histogram_0_attrs",
        time_op(iters, |_| {
            histogram_record!("bench.hist0", black_box(0.004), unit: "s", buckets: &BUCKETS);
        }),
    ));
    ops.push((
        "histogram_3_attrs",
        time_op(iters, |i| {
            histogram_record!("bench.hist3", black_box(0.004), unit: "s", buckets: &BUCKETS,
            "bench.kind" = "output", "bench.slot" = i % 4, "bench.model" = model.clone());
        }),
    ));
    ops.push((
        "histogram_3_attrs_exemplar",
        time_op(iters, |i| {
            histogram_record!("bench.hist3x", black_box(0.004), unit: "s", buckets: &BUCKETS,
            exemplar: &root,
            "bench.kind" = "output", "bench.slot" = i % 4, "bench.model" = model.clone());
        }),
    ));
    ops.push((
        "attrs_alloc_4",
        time_op(iters, |i| {
            black_box(vec![
                llama_otel::__private::kv("bench.kind", "output"),
                llama_otel::__private::kv("bench.slot", i % 4),
                llama_otel::__private::kv("bench.model", model.clone()),
                llama_otel::__private::kv("bench.port", 8080i64),
            ]);
        }),
    ));
    ops.push((
        "span_start_end",
        time_op(iters, |_| {
            let s = span!("bench.span");
            black_box(&s);
        }),
    ));
    ops.push((
        "span_3_attrs_set_2_end",
        time_op(iters, |i| {
            let s = span!(
                "bench.span3",
                "bench.a" = i,
                "bench.b" = "x",
                "bench.c" = model.clone()
            );
            set_attr!(s, "bench.d" = i % 7, "bench.e" = true);
            black_box(&s);
        }),
    ));
    let links = [root.span_context()];
    ops.push(("decode_step", time_op(iters, |i| decode_step(i, &[]))));
    ops.push(("sample_token", time_op(iters, |_| sample_token(&root))));
    ops.push((
        "decode_step_1_link",
        time_op(iters, |i| decode_step(i, &links)),
    ));
    ops
}

#[cfg(feature = "testing")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "no-exporter".to_owned());
    let iters: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200_000);
    // Held for the whole run: dropping a guard uninstalls its SDK.
    let mut _guard = None;
    let mut _test = None;
    match mode.as_str() {
        "off" => {}
        "no-exporter" => {
            let config = llama_otel::TelemetryConfig {
                otlp: Some(false),
                prometheus: true,
                ..Default::default()
            };
            _guard = Some(llama_otel::init(config)?);
        }
        "in-memory" => _test = Some(llama_otel::testing::init_for_tests()),
        other => return Err(format!("unknown mode {other} (off, no-exporter, in-memory)").into()),
    }
    let ops: Vec<_> = run_ops(iters)
        .into_iter()
        .map(
            |(op, (median, min))| serde_json::json!({"op": op, "ns_median": median, "ns_min": min}),
        )
        .collect();
    println!(
        "{}",
        serde_json::json!({"mode": mode, "active": llama_otel::is_active(), "iters": iters, "ops": ops})
    );
    Ok(())
}

#[cfg(not(feature = "testing"))]
fn main() {
    eprintln!("telemetry_micro: build with --features testing (it needs the in-memory SDK)");
    std::process::exit(2);
}
