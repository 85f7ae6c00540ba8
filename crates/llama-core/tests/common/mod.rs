//! Shared test fixtures: tiny random-weight llama models written as real GGUF files, and the
//! SmolLM2 model and llama.cpp reference outputs when present.

#![allow(dead_code, clippy::unwrap_used)]

pub mod reference;

use llama_core::gguf::{GgmlType, GgufWriter};
use llama_core::tiny::encode::{as_f16, as_q8_0, Rng};
use std::path::{Path, PathBuf};

/// Shape of a tiny llama model.
#[derive(Debug, Clone, Copy)]
pub struct TinySpec {
    pub n_vocab: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    pub tied: bool,
    /// Store the big matrices as Q8_0 (else F16).
    pub q8: bool,
}

impl Default for TinySpec {
    fn default() -> Self {
        TinySpec {
            n_vocab: 96,
            n_embd: 64,
            n_ff: 128,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 2,
            tied: false,
            q8: true,
        }
    }
}

fn add_matrix(w: &mut GgufWriter, rng: &mut Rng, name: &str, ne0: usize, ne1: usize, q8: bool) {
    let data = rng.vec(ne0 * ne1, 1.0 / (ne0 as f32).sqrt());
    let dims = [ne0 as u64, ne1 as u64];
    if q8 && ne0.is_multiple_of(32) {
        w.add_tensor(name, &dims, GgmlType::Q8_0, as_q8_0(&data))
            .unwrap();
    } else {
        w.add_tensor(name, &dims, GgmlType::F16, as_f16(&data))
            .unwrap();
    }
}

/// A SentencePiece vocabulary: `<unk> <s> </s>` then one printable ASCII character per token.
fn add_tiny_vocab(w: &mut GgufWriter, n_vocab: usize) {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    tokens.extend((0..n_vocab - 3).map(|i| char::from(b'!' + (i % 94) as u8).to_string()));
    let types: Vec<i32> = (0..n_vocab)
        .map(|i| {
            if i == 0 {
                2
            } else if i < 3 {
                3
            } else {
                1
            }
        })
        .collect();
    let scores: Vec<f32> = (0..n_vocab).map(|i| -(i as f32)).collect();
    w.add_string("tokenizer.ggml.model", "llama").unwrap();
    w.add_str_array("tokenizer.ggml.tokens", tokens).unwrap();
    w.add_i32_array("tokenizer.ggml.token_type", &types)
        .unwrap();
    w.add_f32_array("tokenizer.ggml.scores", &scores).unwrap();
    w.add_u32("tokenizer.ggml.bos_token_id", 1).unwrap();
    w.add_u32("tokenizer.ggml.eos_token_id", 2).unwrap();
}

/// Writes a tiny llama model with random weights (fixed seed) to `path`.
pub fn write_tiny_llama(path: &Path, spec: TinySpec, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut w = GgufWriter::new();
    w.add_string("general.architecture", "llama").unwrap();
    w.add_string("general.name", "tiny-test-llama").unwrap();
    w.add_u32("llama.block_count", spec.n_layer as u32).unwrap();
    w.add_u32("llama.context_length", 256).unwrap();
    w.add_u32("llama.embedding_length", spec.n_embd as u32)
        .unwrap();
    w.add_u32("llama.feed_forward_length", spec.n_ff as u32)
        .unwrap();
    w.add_u32("llama.attention.head_count", spec.n_head as u32)
        .unwrap();
    w.add_u32("llama.attention.head_count_kv", spec.n_head_kv as u32)
        .unwrap();
    w.add_f32("llama.rope.freq_base", 10000.0).unwrap();
    w.add_f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
        .unwrap();
    w.add_u32("llama.vocab_size", spec.n_vocab as u32).unwrap();
    add_tiny_vocab(&mut w, spec.n_vocab);
    let (e, head) = (spec.n_embd, spec.n_embd / spec.n_head);
    let kv = head * spec.n_head_kv;
    add_matrix(
        &mut w,
        &mut rng,
        "token_embd.weight",
        e,
        spec.n_vocab,
        spec.q8,
    );
    w.add_f32_tensor(
        "output_norm.weight",
        &[e as u64],
        &rng.vec(e, 0.2).iter().map(|v| 1.0 + v).collect::<Vec<_>>(),
    )
    .unwrap();
    if !spec.tied {
        add_matrix(&mut w, &mut rng, "output.weight", e, spec.n_vocab, spec.q8);
    }
    for il in 0..spec.n_layer {
        let n = |s: &str| format!("blk.{il}.{s}");
        let norm: Vec<f32> = rng.vec(e, 0.2).iter().map(|v| 1.0 + v).collect();
        w.add_f32_tensor(n("attn_norm.weight"), &[e as u64], &norm)
            .unwrap();
        add_matrix(&mut w, &mut rng, &n("attn_q.weight"), e, e, spec.q8);
        add_matrix(&mut w, &mut rng, &n("attn_k.weight"), e, kv, spec.q8);
        add_matrix(&mut w, &mut rng, &n("attn_v.weight"), e, kv, spec.q8);
        add_matrix(&mut w, &mut rng, &n("attn_output.weight"), e, e, spec.q8);
        w.add_f32_tensor(n("ffn_norm.weight"), &[e as u64], &norm)
            .unwrap();
        add_matrix(
            &mut w,
            &mut rng,
            &n("ffn_gate.weight"),
            e,
            spec.n_ff,
            spec.q8,
        );
        add_matrix(&mut w, &mut rng, &n("ffn_up.weight"), e, spec.n_ff, spec.q8);
        add_matrix(
            &mut w,
            &mut rng,
            &n("ffn_down.weight"),
            spec.n_ff,
            e,
            spec.q8,
        );
    }
    w.write_file(path).unwrap();
}

/// A temp dir holding a tiny model; keep the dir alive while the model is used.
pub fn tiny_model(spec: TinySpec, seed: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama(&path, spec, seed);
    (dir, path)
}

/// The SmolLM2 model: `LLAMA_TEST_MODEL`, else `models/` at the workspace root. In CI its absence
/// is a failure, elsewhere a skip with a printed reason.
pub fn smollm2() -> Option<PathBuf> {
    let path = std::env::var_os("LLAMA_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if path.exists() {
        return Some(path);
    }
    let msg = format!(
        "SmolLM2 model not found at {} (run `cargo xtask fetch-model`)",
        path.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("skipping: {msg}");
    None
}

/// llama.cpp's reference outputs (`testdata/reference/smollm2.json`).
pub fn reference() -> Option<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference/smollm2.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("reference JSON parses")),
        Err(e) => {
            let msg = format!("reference outputs not readable at {}: {e}", path.display());
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("skipping: {msg}");
            None
        }
    }
}

/// A model file under `models/` at the workspace root. In CI its absence is a failure,
/// elsewhere a skip with a printed reason.
pub fn model_file(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(name);
    if path.exists() {
        return Some(path);
    }
    let msg = format!("model not found at {}", path.display());
    assert!(std::env::var_os("CI").is_none(), "{msg}");
    eprintln!("skipping: {msg}");
    None
}

/// A file under `testdata/reference/` (llama.cpp's outputs, chat templates).
pub fn reference_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reference")
        .join(name)
}

/// llama.cpp's reference outputs `testdata/reference/{name}` as JSON (part of the repository:
/// unreadable is a failure).
pub fn reference_json(name: &str) -> serde_json::Value {
    let path = reference_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reference outputs not readable at {}: {e}", path.display()));
    serde_json::from_str(&text).expect("reference JSON parses")
}
