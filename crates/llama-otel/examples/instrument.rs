//! How another crate of the server instruments its code with `llama-otel`.
//!
//! ```text
//! cargo run --example instrument                  # otel off: the macros compile to nothing
//! cargo run --example instrument --features otel  # prints trace ids and Prometheus text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 \
//!     cargo run --example instrument --features otel   # also pushes OTLP to a collector
//! ```
//!
//! The instrumented crate depends on `llama-otel` only, and forwards a feature:
//! `[features] otel = ["llama-otel/otel"]`.

use std::time::{Duration, Instant};

use llama_otel::{
    counter_add, event, histogram_record, semconv, set_attr, span, time_histogram, updown_add,
    SpanGuard, TelemetryConfig,
};

/// What the HTTP layer hands the scheduler.
struct Request {
    traceparent: Option<&'static str>,
    model: String,
    prompt: Vec<u32>,
    max_tokens: usize,
}

/// A request in flight: its span lives as long as the request.
struct Active {
    span: SpanGuard,
    started: Instant,
    first_token: Option<Instant>,
    generated: usize,
    max_tokens: usize,
}

fn accept(req: Request) -> Active {
    let parent = llama_otel::extract_w3c(req.traceparent, None);
    let span = span!(format!("chat {}", req.model), parent: &parent, kind: Server,
        [semconv::GEN_AI_OPERATION_NAME] = semconv::OPERATION_CHAT,
        [semconv::GEN_AI_REQUEST_MODEL] = req.model.clone(),
        [semconv::GEN_AI_REQUEST_MAX_TOKENS] = req.max_tokens,
        [semconv::GEN_AI_USAGE_INPUT_TOKENS] = req.prompt.len());
    updown_add!("llama.requests.active", 1, unit: "{request}");
    let n_prompt = time_histogram!("llama.tokenize.duration", {
        let _tokenize = span!("tokenize", parent: &span);
        req.prompt.len()
    });
    histogram_record!(semconv::GEN_AI_CLIENT_TOKEN_USAGE, n_prompt as f64,
        unit: semconv::UNIT_TOKEN, buckets: &semconv::TOKEN_USAGE_BUCKETS,
        [semconv::GEN_AI_TOKEN_TYPE] = semconv::TOKEN_TYPE_INPUT);
    Active {
        span,
        started: Instant::now(),
        first_token: None,
        generated: 0,
        max_tokens: req.max_tokens,
    }
}

/// One decode step serving several requests: the batch span links to every request it
/// serves, and every request span links back to the batch.
fn decode_batch(batch: &mut [Active]) {
    let served: Vec<_> = batch.iter().map(|a| a.span.span_context()).collect();
    let step = span!("llama.decode_batch", kind: Consumer, links: &served,
        n_seqs = batch.len());
    std::thread::sleep(Duration::from_millis(2)); // the model runs here
    for active in batch.iter_mut() {
        active.span.add_link(&step.span_context());
        active.generated += 1;
        if active.first_token.is_none() {
            active.first_token = Some(Instant::now());
            event!(active.span, "first_token");
            histogram_record!(semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
                active.started.elapsed().as_secs_f64(), unit: semconv::UNIT_SECONDS,
                buckets: &semconv::TIME_TO_FIRST_TOKEN_BUCKETS,
                [semconv::GEN_AI_OPERATION_NAME] = semconv::OPERATION_CHAT);
        }
    }
    counter_add!("llama.tokens.generated", batch.len() as u64, unit: "{token}");
}

/// Finishes a request; returns the `traceresponse` header for the HTTP response.
fn finish(active: Active) -> Option<String> {
    let total = active.started.elapsed().as_secs_f64();
    if let (Some(first), n) = (active.first_token, active.generated) {
        if n > 1 {
            let per_token = (total - (first - active.started).as_secs_f64()) / (n - 1) as f64;
            histogram_record!(semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, per_token,
                unit: semconv::UNIT_SECONDS, buckets: &semconv::TIME_PER_OUTPUT_TOKEN_BUCKETS);
        }
    }
    histogram_record!(semconv::GEN_AI_SERVER_REQUEST_DURATION, total,
        unit: semconv::UNIT_SECONDS, buckets: &semconv::REQUEST_DURATION_BUCKETS,
        [semconv::GEN_AI_OPERATION_NAME] = semconv::OPERATION_CHAT);
    set_attr!(
        active.span,
        [semconv::GEN_AI_USAGE_OUTPUT_TOKENS] = active.generated,
        [semconv::GEN_AI_RESPONSE_FINISH_REASONS] = vec!["length"]
    );
    updown_add!("llama.requests.active", -1, unit: "{request}");
    active.span.traceresponse()
}

fn main() -> Result<(), llama_otel::Error> {
    let telemetry = llama_otel::init(TelemetryConfig {
        service_version: Some(env!("CARGO_PKG_VERSION").into()),
        resource_attributes: vec![("gen_ai.request.model".into(), "smollm2-135m".into())],
        prometheus: true,
        ..Default::default()
    })?;
    println!(
        "telemetry compiled in: {}, active: {}",
        llama_otel::ENABLED,
        telemetry.is_active()
    );

    let requests = [
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        None,
    ];
    let mut batch: Vec<Active> = requests
        .into_iter()
        .map(|tp| {
            accept(Request {
                traceparent: tp,
                model: "smollm2".into(),
                prompt: vec![1, 2, 3],
                max_tokens: 4,
            })
        })
        .collect();
    while batch.iter().any(|a| a.generated < a.max_tokens) {
        decode_batch(&mut batch);
    }
    for active in batch {
        println!("traceresponse: {:?}", finish(active));
    }
    print!("{}", llama_otel::prometheus_text());
    telemetry.shutdown()
}
