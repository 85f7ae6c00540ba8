//! Engine behaviour on tiny random-weight llama models written by the tests themselves.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)] // test code: failures should panic

mod common;

use common::{tiny_model, TinySpec};
use llama_core::{Batch, Context, ContextParams, Error, Model, ModelParams};
use std::sync::Arc;

fn load(path: &std::path::Path) -> Arc<Model> {
    Arc::new(Model::load(path, &ModelParams::default(), &mut |_, _| {}).expect("tiny model loads"))
}

fn context(model: &Arc<Model>, n_ctx: usize, flash_attn: bool) -> Context {
    let params = ContextParams {
        n_ctx,
        n_ubatch: 16,
        n_threads: 2,
        flash_attn,
        ..ContextParams::default()
    };
    Context::new(model.clone(), params).expect("context")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

const PROMPT: [u32; 7] = [3, 17, 42, 5, 77, 9, 60];

/// Logits after each prompt token, decoded as one batch.
fn prompt_logits(ctx: &mut Context, seq: u32) -> Vec<Vec<f32>> {
    let mut b = Batch::new();
    for (i, &t) in PROMPT.iter().enumerate() {
        b.add(t, i as i32, seq, true);
    }
    ctx.decode(&b).unwrap();
    let rows: Vec<Vec<f32>> = (0..PROMPT.len())
        .map(|i| ctx.logits(i).unwrap().to_vec())
        .collect();
    // Guards every comparison below against trivially equal (e.g. all-zero) outputs.
    for w in rows.windows(2) {
        assert!(
            max_diff(&w[0], &w[1]) > 0.1,
            "logits barely change between positions"
        );
    }
    rows
}

#[test]
fn model_metadata_and_parameter_count_are_read_from_the_file() {
    let spec = TinySpec::default();
    let (_dir, path) = tiny_model(spec, 1);
    let model = load(&path);
    let hp = model.hparams();
    assert_eq!(
        (hp.n_layer, hp.n_embd, hp.n_head, hp.n_head_kv),
        (2, 64, 4, 2)
    );
    assert_eq!(model.info().architecture, "llama");
    let per_layer = 64 * 64 * 2 + 64 * 32 * 2 + 64 * 128 * 3 + 64 * 2;
    assert_eq!(
        model.info().n_params as usize,
        96 * 64 * 2 + 64 + 2 * per_layer
    );
}

#[test]
fn batched_prompt_matches_token_by_token_decoding() {
    let (_dir, path) = tiny_model(TinySpec::default(), 2);
    let model = load(&path);
    let mut a = context(&model, 64, true);
    let batched = prompt_logits(&mut a, 0);
    let mut b = context(&model, 64, true);
    for (i, &t) in PROMPT.iter().enumerate() {
        let mut batch = Batch::new();
        batch.add(t, i as i32, 0, true);
        b.decode(&batch).unwrap();
        let d = max_diff(b.logits(0).unwrap(), &batched[i]);
        assert!(d < 2e-2, "token {i}: logits differ by {d}");
    }
}

#[test]
fn prompts_longer_than_a_micro_batch_are_split_and_give_the_same_logits() {
    let (_dir, path) = tiny_model(TinySpec::default(), 3);
    let model = load(&path);
    let tokens: Vec<u32> = (0..40).map(|i| (i * 7 % 96) as u32).collect();
    let mut small = Context::new(
        model.clone(),
        ContextParams {
            n_ctx: 64,
            n_ubatch: 8,
            n_threads: 2,
            flash_attn: true,
            ..ContextParams::default()
        },
    )
    .unwrap();
    let mut big = Context::new(
        model.clone(),
        ContextParams {
            n_ctx: 64,
            n_ubatch: 64,
            n_threads: 2,
            flash_attn: true,
            ..ContextParams::default()
        },
    )
    .unwrap();
    let mut b = Batch::new();
    b.add_sequence(&tokens, 0, 0, true);
    let s1 = small.decode(&b).unwrap();
    let s2 = big.decode(&b).unwrap();
    assert_eq!((s1.n_ubatches, s2.n_ubatches), (5, 1));
    let d = max_diff(small.logits(39).unwrap(), big.logits(39).unwrap());
    assert!(d < 2e-2, "split prompt changed the logits by {d}");
    assert!(
        small.logits(38).is_none(),
        "only the last token asked for logits"
    );
}

#[test]
fn sequences_in_one_batch_do_not_see_each_other() {
    let (_dir, path) = tiny_model(TinySpec::default(), 4);
    let model = load(&path);
    let mut alone = context(&model, 64, true);
    let want = prompt_logits(&mut alone, 0);
    let mut mixed = context(&model, 64, true);
    let other = [90u32, 1, 2, 3, 4];
    let mut b = Batch::new();
    for i in 0..PROMPT.len() {
        b.add(PROMPT[i], i as i32, 1, true);
        if let Some(&t) = other.get(i) {
            b.add(t, i as i32, 0, false);
        }
    }
    mixed.decode(&b).unwrap();
    let mut k = 0;
    for i in 0..PROMPT.len() {
        let d = max_diff(mixed.logits(k).unwrap(), &want[i]);
        assert!(d < 2e-2, "token {i} of seq 1 changed by {d} next to seq 0");
        k += if i < other.len() { 2 } else { 1 };
    }
}

#[test]
fn flash_attention_and_plain_attention_agree() {
    let (_dir, path) = tiny_model(
        TinySpec {
            q8: false,
            ..TinySpec::default()
        },
        5,
    );
    let model = load(&path);
    let fa = prompt_logits(&mut context(&model, 64, true), 0);
    let plain = prompt_logits(&mut context(&model, 64, false), 0);
    for i in 0..PROMPT.len() {
        let d = max_diff(&fa[i], &plain[i]);
        assert!(d < 2e-2, "token {i}: FA and plain attention differ by {d}");
    }
}

#[test]
fn a_copied_prefix_continues_like_a_fresh_decode() {
    let (_dir, path) = tiny_model(
        TinySpec {
            tied: true,
            ..TinySpec::default()
        },
        6,
    );
    let model = load(&path);
    let want = prompt_logits(&mut context(&model, 64, true), 0);
    let mut ctx = context(&model, 64, true);
    let mut b = Batch::new();
    b.add_sequence(&PROMPT[..4], 0, 0, false);
    ctx.decode(&b).unwrap();
    ctx.seq_cp(0, 3, None, None).unwrap();
    ctx.seq_rm(Some(0), None, None).unwrap();
    assert_eq!(ctx.seq_len(3), 4);
    assert_eq!(
        ctx.kv_used(),
        4,
        "the copy shares cells instead of duplicating them"
    );
    b.clear();
    b.add_sequence(&PROMPT[4..], 4, 3, true);
    ctx.decode(&b).unwrap();
    let d = max_diff(ctx.logits(2).unwrap(), &want[6]);
    assert!(
        d < 2e-2,
        "continuing a copied prefix changed the logits by {d}"
    );
}

#[test]
fn a_full_cache_is_an_error_that_leaves_the_cache_untouched() {
    let (_dir, path) = tiny_model(TinySpec::default(), 7);
    let model = load(&path);
    let mut ctx = context(&model, 8, true);
    let mut b = Batch::new();
    b.add_sequence(&PROMPT[..6], 0, 0, true);
    ctx.decode(&b).unwrap();
    b.clear();
    b.add_sequence(&PROMPT[..3], 6, 0, true);
    match ctx.decode(&b) {
        Err(Error::KvCacheFull {
            needed: 3,
            free: 2,
            size: 8,
        }) => {}
        other => panic!("expected a full-cache error, got {other:?}"),
    }
    assert_eq!(ctx.kv_used(), 6);
    assert_eq!(ctx.seq_pos_max(0), Some(5));
}

#[test]
fn out_of_range_tokens_and_sequences_are_rejected() {
    let (_dir, path) = tiny_model(TinySpec::default(), 8);
    let model = load(&path);
    let mut ctx = context(&model, 16, true);
    let mut b = Batch::new();
    b.add(96, 0, 0, true);
    assert!(matches!(ctx.decode(&b), Err(Error::Batch(m)) if m.contains("token id 96")));
    b.clear();
    b.add(1, 0, 64, true);
    assert!(ctx.decode(&b).is_err());
    assert!(ctx.decode(&Batch::new()).is_err());
    assert_eq!(ctx.kv_used(), 0);
}

#[test]
fn a_missing_or_misshapen_tensor_names_the_tensor() {
    use llama_core::gguf::GgufWriter;
    let (dir, path) = tiny_model(TinySpec::default(), 9);
    // Rewrite the file without blk.1.ffn_up.weight.
    let src = llama_core::gguf::GgufFile::open(&path).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in src.metadata().iter() {
        w.add(k, v.clone()).unwrap();
    }
    for t in src
        .tensors()
        .iter()
        .filter(|t| t.name() != "blk.1.ffn_up.weight")
    {
        w.add_tensor(
            t.name(),
            t.dims(),
            t.ggml_type(),
            src.tensor_data(t).to_vec(),
        )
        .unwrap();
    }
    let broken = dir.path().join("broken.gguf");
    w.write_file(&broken).unwrap();
    let err = Model::load(&broken, &ModelParams::default(), &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("blk.1.ffn_up.weight"), "{err}");
}

#[test]
fn load_progress_reaches_the_total() {
    let (_dir, path) = tiny_model(TinySpec::default(), 10);
    let mut last = (0, 1);
    Model::load(&path, &ModelParams::default(), &mut |d, t| last = (d, t)).unwrap();
    assert_eq!(last.0, last.1);
    assert!(last.1 > 0);
}

#[test]
fn contexts_on_one_model_compute_at_the_same_time_without_interfering() {
    // Large enough that one decode takes a while: both threads are inside ggml together.
    let spec = TinySpec {
        n_embd: 256,
        n_ff: 1024,
        n_layer: 4,
        ..TinySpec::default()
    };
    let (_dir, path) = tiny_model(spec, 11);
    let model = load(&path);
    let want = prompt_logits(&mut context(&model, 64, true), 0);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let model = model.clone();
            std::thread::spawn(move || {
                let mut ctx = context(&model, 64, true);
                (0..20)
                    .map(|_| {
                        ctx.clear();
                        prompt_logits(&mut ctx, 0)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for run in runs {
        for logits in run.join().unwrap() {
            assert_eq!(
                logits, want,
                "a context's logits changed while another computed"
            );
        }
    }
}
