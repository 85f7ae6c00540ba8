//! The memory report (`Context::memory`) against independent figures: weight tensor bytes
//! against the GGUF's tensor data sizes, what is really allocated against those bytes, KV bytes
//! against n_ctx × per-token size from the file's own metadata (Gemma 3: window-sized
//! sliding-window layers), output rows, compute buffers and the CPU device.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use llama_core::memory::{KvLayers, MemoryKind, MemoryReport};
use llama_core::{Context, ContextParams, Model, ModelParams};
use std::sync::Arc;

fn load(name: &str, no_repack: bool) -> Option<Arc<Model>> {
    let path = common::model_file(name)?;
    let params = ModelParams {
        no_repack,
        ..ModelParams::default()
    };
    Some(Arc::new(
        Model::load(&path, &params, &mut |_, _| {}).unwrap(),
    ))
}

fn meta(model: &Model, key: &str) -> Option<usize> {
    model.gguf().metadata().get_usize(key).unwrap()
}

/// Sum of the data sizes of every tensor of the GGUF (its tensor data section, without the
/// alignment padding between tensors).
fn gguf_tensor_bytes(model: &Model) -> u64 {
    model.gguf().tensors().iter().map(|t| t.n_bytes()).sum()
}

/// Weights: the tensors placed equal the file's tensor data; what each buffer really takes
/// differs only by ggml's per-tensor alignment padding (repacked copies), and the mapped
/// buffer counts exactly the bytes of the tensors it serves.
fn check_weights(model: &Model) {
    let buffers = model.weight_buffers();
    let placed: usize = buffers.iter().map(|b| b.tensor_bytes).sum();
    assert_eq!(placed as u64, gguf_tensor_bytes(model), "{buffers:?}");
    let n: usize = buffers.iter().map(|b| b.n_tensors).sum();
    assert_eq!(n, model.gguf().tensors().len());
    for b in buffers {
        assert!(b.allocated >= b.tensor_bytes, "{b:?}");
        // ggml pads every tensor of an allocated buffer to the buffer type's alignment
        // (CPU: 64 bytes); nothing else may be in a weight buffer.
        assert!(
            b.allocated - b.tensor_bytes < 64 * b.n_tensors.max(1),
            "{b:?}"
        );
        if b.buffer_type == "CPU_Mapped" {
            assert_eq!(b.allocated, b.tensor_bytes, "{b:?}");
        }
    }
    let report = model.memory();
    let allocated: usize = buffers.iter().map(|b| b.allocated).sum();
    assert_eq!(report.total(MemoryKind::Weights), allocated as u64);
    eprintln!("weights: {buffers:?}");
}

/// Per-token bytes of K and V over `layers`, from the file's metadata: `n_head_kv × key_length`
/// (`value_length`) F16 elements per layer, the head size defaulting to n_embd / n_head.
fn per_token(model: &Model, layers: usize) -> (u64, u64) {
    let arch = model.info().architecture.clone();
    let key = |k: &str| meta(model, &format!("{arch}.{k}"));
    let n_head = key("attention.head_count").unwrap();
    let n_head_kv = key("attention.head_count_kv").unwrap_or(n_head);
    let head = key("embedding_length").unwrap() / n_head;
    let k = key("attention.key_length").unwrap_or(head);
    let v = key("attention.value_length").unwrap_or(head);
    let f16 = 2u64;
    let l = layers as u64;
    (
        l * (n_head_kv * k) as u64 * f16,
        l * (n_head_kv * v) as u64 * f16,
    )
}

fn kv(report: &MemoryReport, kind: MemoryKind, layers: KvLayers) -> u64 {
    let uses = report.uses.iter().filter(|u| u.kind == kind);
    uses.filter(|u| u.layers == Some(layers))
        .map(|u| u.bytes)
        .sum()
}

fn context(model: &Arc<Model>, n_ctx: usize, n_seq_max: usize) -> Context {
    let params = ContextParams {
        n_ctx,
        n_ubatch: 256,
        n_threads: 2,
        n_seq_max,
        ..ContextParams::default()
    };
    Context::new(model.clone(), params).unwrap()
}

fn check_common(model: &Model, report: &MemoryReport, n_seq_max: usize) {
    let n_vocab = model.hparams().n_vocab as u64;
    assert_eq!(
        report.total(MemoryKind::Output),
        n_seq_max as u64 * n_vocab * 4
    );
    assert!(report.total(MemoryKind::Compute) > 0, "{report:?}");
    let cpu = report.devices.iter().find(|d| d.name == "CPU").unwrap();
    assert!(cpu.total > 0 && cpu.free <= cpu.total, "{cpu:?}");
    for kind in MemoryKind::ALL {
        assert!(report.uses.iter().any(|u| u.kind == kind), "{kind:?}");
    }
    eprintln!("{}", report.lines().join("\n"));
}

#[test]
fn smollm2_kv_and_weights() {
    let Some(model) = load("SmolLM2-135M-Instruct.Q4_1.gguf", false) else {
        return;
    };
    check_weights(&model);
    let ctx = context(&model, 1024, 2);
    let report = ctx.memory();
    let n_layer = meta(&model, "llama.block_count").unwrap();
    let (k, v) = per_token(&model, n_layer);
    assert_eq!(kv(&report, MemoryKind::KvK, KvLayers::Full), 1024 * k);
    assert_eq!(kv(&report, MemoryKind::KvV, KvLayers::Full), 1024 * v);
    assert_eq!(kv(&report, MemoryKind::KvK, KvLayers::Swa), 0);
    check_common(&model, &report, 2);
}

#[test]
fn smollm2_without_repack_maps_every_weight() {
    let Some(model) = load("SmolLM2-135M-Instruct.Q4_1.gguf", true) else {
        return;
    };
    check_weights(&model);
    let types: Vec<&str> = model
        .weight_buffers()
        .iter()
        .map(|b| b.buffer_type.as_str())
        .collect();
    assert_eq!(types, ["CPU_Mapped"]);
}

/// Gemma 3: every sixth layer attends globally (llama.cpp's `set_swa_pattern(6)`); the others
/// keep `pad256(min(n_ctx, n_swa · n_seq_max + n_ubatch))` cells.
#[test]
fn gemma3_iswa_kv_and_weights() {
    let Some(model) = load("gemma-3-270m-q4_k_m.gguf", false) else {
        return;
    };
    check_weights(&model);
    let (n_ctx, n_seq_max, n_ubatch) = (4096u64, 2u64, 256u64);
    let ctx = context(&model, n_ctx as usize, n_seq_max as usize);
    let report = ctx.memory();
    let n_layer = meta(&model, "gemma3.block_count").unwrap();
    let n_swa = meta(&model, "gemma3.attention.sliding_window").unwrap() as u64;
    let n_global = (0..n_layer).filter(|il| (il + 1) % 6 == 0).count();
    let (gk, gv) = per_token(&model, n_global);
    let (lk, lv) = per_token(&model, n_layer - n_global);
    let swa_cells = (n_swa * n_seq_max + n_ubatch).min(n_ctx).div_ceil(256) * 256;
    assert_eq!(kv(&report, MemoryKind::KvK, KvLayers::Full), n_ctx * gk);
    assert_eq!(kv(&report, MemoryKind::KvV, KvLayers::Full), n_ctx * gv);
    assert_eq!(kv(&report, MemoryKind::KvK, KvLayers::Swa), swa_cells * lk);
    assert_eq!(kv(&report, MemoryKind::KvV, KvLayers::Swa), swa_cells * lv);
    assert_eq!(
        report.total(MemoryKind::KvK) + report.total(MemoryKind::KvV),
        ctx.kv_bytes() as u64
    );
    check_common(&model, &report, n_seq_max as usize);
}
