//! Engine telemetry seen through the SDK's in-memory exporters (feature `otel-testing`): the
//! model-load span tree, decode spans linked to their requests, and engine metrics.
#![cfg(feature = "otel-testing")]
#![allow(clippy::unwrap_used, clippy::needless_range_loop)] // test code: failures should panic

mod common;

use common::{tiny_model, TinySpec};
use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use llama_otel::span;
use llama_otel::testing::otel::trace::TraceId;
use llama_otel::testing::sdk::trace::SpanData;
use llama_otel::testing::{find_metric, init_for_tests};
use std::sync::Arc;

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name:?} in {:?}",
            spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
        )
    })
}

fn has_attr(span: &SpanData, key: &str) -> bool {
    span.attributes.iter().any(|kv| kv.key.as_str() == key)
}

fn load_and_decode(op_timing: bool) -> Context {
    let (_dir, path) = tiny_model(TinySpec::default(), 11);
    let model = Arc::new(Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap());
    let params = ContextParams {
        n_ctx: 32,
        n_ubatch: 8,
        n_threads: 2,
        flash_attn: true,
        ..ContextParams::default()
    };
    let mut ctx = Context::new(model, params).unwrap();
    ctx.set_op_timing(op_timing);
    let mut b = Batch::new();
    b.add_sequence(&[5, 6, 7], 0, 0, true);
    ctx.decode(&b).unwrap();
    ctx
}

#[test]
fn model_load_and_context_setup_form_one_span_tree() {
    let t = init_for_tests();
    drop(load_and_decode(false));
    let spans = t.finished_spans();
    let load = by_name(&spans, "llama.model.load");
    for key in [
        "llama.model.name",
        "llama.model.architecture",
        "llama.model.parameters",
        "llama.model.quantization",
        "llama.model.n_ctx_train",
        "llama.model.file_size",
        "llama.model.tensor_types",
        "llama.model.backend",
        "llama.model.path",
    ] {
        assert!(has_attr(load, key), "llama.model.load lacks {key}");
    }
    let load_id = load.span_context.span_id();
    for child in [
        "llama.gguf.parse",
        "llama.model.weights",
        "llama.vocab.load",
        "llama.context.init",
    ] {
        assert_eq!(
            by_name(&spans, child).parent_span_id,
            load_id,
            "{child} is not under llama.model.load"
        );
    }
    let init_id = by_name(&spans, "llama.context.init").span_context.span_id();
    for child in ["llama.kv_cache.alloc", "llama.graph.reserve"] {
        assert_eq!(
            by_name(&spans, child).parent_span_id,
            init_id,
            "{child} is not under llama.context.init"
        );
    }
    let metrics = t.collect_metrics();
    assert!(find_metric(&metrics, "llama.model.load.duration").is_some());
    assert!(find_metric(&metrics, "llama.model.size").is_some());
}

#[test]
fn decode_spans_link_to_the_requests_they_served_and_back() {
    let t = init_for_tests();
    let mut ctx = load_and_decode(false);
    let (req_a, req_b) = (span!("request a"), span!("request b"));
    let mut b = Batch::new();
    b.add(9, 3, 0, true);
    b.add(1, 0, 1, true);
    let stats = ctx
        .decode_linked(&b, &[req_a.span_context(), req_b.span_context()])
        .unwrap();
    req_a.add_link(&stats.span);
    drop((req_a, req_b));
    let spans = t.finished_spans();
    let decode = spans
        .iter()
        .filter(|s| s.name == "llama.decode")
        .find(|s| s.links.links.len() == 2)
        .expect("a decode span with two links");
    for key in [
        "llama.decode.n_tokens",
        "llama.decode.n_seqs",
        "llama.decode.n_ubatches",
        "llama.kv_cache.used_cells",
    ] {
        assert!(has_attr(decode, key), "llama.decode lacks {key}");
    }
    let a = by_name(&spans, "request a");
    assert!(decode
        .links
        .links
        .iter()
        .any(|l| l.span_context.span_id() == a.span_context.span_id()));
    assert_eq!(
        a.links.links[0].span_context.span_id(),
        decode.span_context.span_id(),
        "request links back"
    );
    assert_ne!(decode.span_context.trace_id(), TraceId::INVALID);
    let metrics = t.collect_metrics();
    assert!(find_metric(&metrics, "llama.decode.duration").is_some());
    assert!(find_metric(&metrics, "llama.decode.tokens").is_some());
}

#[test]
fn ggml_op_timing_is_recorded_only_when_enabled() {
    let t = init_for_tests();
    drop(load_and_decode(false));
    assert!(find_metric(&t.collect_metrics(), "llama.ggml.op.duration").is_none());
    drop(load_and_decode(true));
    let text = llama_otel::prometheus_text();
    assert!(
        text.contains("llama_ggml_op_duration"),
        "no op timing in:\n{text}"
    );
    assert!(text.contains("MUL_MAT"), "matmuls were not timed");
}
