//! Tiny random-weight GGUF models for the architectures without a real model in the test set
//! (qwen3, qwen3moe, phi3, llama with a Llama 3 vocabulary). Each is written deterministically
//! (fixed seeds, xorshift weights) with the tokenizer of one of llama.cpp's vocabulary-only test
//! files, so the tests and `cargo xtask tiny-models` produce byte-identical files that llama.cpp
//! loads too (see `testdata/tiny/`).

pub mod encode;
mod layers;

use crate::error::{Error, Result};
use crate::gguf::{GgufFile, GgufValue, GgufWriter};
use encode::{add_norm, add_weight, Rng};
use std::path::{Path, PathBuf};

/// Shape shared by every tiny model: 2 layers of 4 query heads over 2 KV heads of width 16.
pub const N_EMBD: usize = 64;
/// Repeating layers.
pub const N_LAYER: usize = 2;
/// Query heads.
pub const N_HEAD: usize = 4;
/// Key/value heads (grouped-query attention).
pub const N_HEAD_KV: usize = 2;
/// Feed-forward width of the dense models.
pub const N_FF: usize = 128;
/// qwen3moe: experts per layer, experts per token, width of one expert.
pub const N_EXPERT: usize = 4;
/// qwen3moe: experts chosen per token.
pub const N_EXPERT_USED: usize = 2;
/// qwen3moe: feed-forward width of one expert.
pub const N_FF_EXP: usize = 32;
/// Output projections are drawn this much wider than the other weights, so that the next-token
/// distribution over a 150k vocabulary has clear winners (few near-ties in greedy decoding).
const OUTPUT_SCALE: f32 = 4.0;

/// One tiny model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TinyModel {
    Qwen3,
    Qwen3Moe,
    Phi3,
    Llama3,
}

impl TinyModel {
    /// Every tiny model, in the order the references list them.
    pub const ALL: [TinyModel; 4] = [
        TinyModel::Qwen3,
        TinyModel::Qwen3Moe,
        TinyModel::Phi3,
        TinyModel::Llama3,
    ];

    /// Short name, also the file stem (`tiny-{name}.gguf`) and the reference JSON's stem.
    pub fn name(self) -> &'static str {
        match self {
            TinyModel::Qwen3 => "qwen3",
            TinyModel::Qwen3Moe => "qwen3moe",
            TinyModel::Phi3 => "phi3",
            TinyModel::Llama3 => "llama3",
        }
    }

    /// The `general.architecture` value.
    pub fn arch(self) -> &'static str {
        match self {
            TinyModel::Llama3 => "llama",
            other => other.name(),
        }
    }

    /// The llama.cpp vocabulary file whose tokenizer the model uses.
    pub fn vocab_file(self) -> &'static str {
        match self {
            TinyModel::Qwen3 | TinyModel::Qwen3Moe => "ggml-vocab-qwen2.gguf",
            TinyModel::Phi3 => "ggml-vocab-phi-3.gguf",
            TinyModel::Llama3 => "ggml-vocab-llama-bpe.gguf",
        }
    }

    /// `tiny-{name}.gguf`, as the tests and `cargo xtask tiny-models` write it.
    pub fn file_name(self) -> String {
        format!("tiny-{}.gguf", self.name())
    }

    fn seed(self) -> u64 {
        match self {
            TinyModel::Qwen3 => 31,
            TinyModel::Qwen3Moe => 32,
            TinyModel::Phi3 => 33,
            TinyModel::Llama3 => 34,
        }
    }

    /// Whether the output projection is the token embedding matrix.
    fn tied(self) -> bool {
        self == TinyModel::Qwen3
    }
}

/// Writes every tiny model into `out_dir`, reading vocabularies from `vocab_dir`; returns the paths.
pub fn write_all(vocab_dir: &Path, out_dir: &Path) -> Result<Vec<PathBuf>> {
    TinyModel::ALL
        .iter()
        .map(|&m| {
            let path = out_dir.join(m.file_name());
            write(m, vocab_dir, &path)?;
            Ok(path)
        })
        .collect()
}

/// Writes tiny model `m` to `path`, with the tokenizer of `vocab_dir/{m.vocab_file()}`.
pub fn write(m: TinyModel, vocab_dir: &Path, path: &Path) -> Result<()> {
    let vocab = GgufFile::open(vocab_dir.join(m.vocab_file()))?;
    let n_vocab = vocab
        .metadata()
        .get_str_array("tokenizer.ggml.tokens")?
        .map(<[String]>::len)
        .ok_or_else(|| Error::Model(format!("{}: no tokenizer.ggml.tokens", m.vocab_file())))?;
    let mut w = GgufWriter::new();
    w.add_string("general.architecture", m.arch())?;
    w.add_string("general.name", format!("tiny-{}", m.name()))?;
    add_hparams(&mut w, m)?;
    for (key, value) in vocab.metadata().iter() {
        if key.starts_with("tokenizer.") {
            w.add(key, value.clone())?;
        }
    }
    let mut rng = Rng::new(m.seed());
    add_io_tensors(&mut w, &mut rng, m, n_vocab)?;
    for il in 0..N_LAYER {
        layers::add_layer(&mut w, &mut rng, m, il)?;
    }
    w.write_file(path)
}

fn add_hparams(w: &mut GgufWriter, m: TinyModel) -> Result<()> {
    let a = m.arch();
    let u32_kv =
        |w: &mut GgufWriter, k: &str, v: usize| w.add(format!("{a}.{k}"), GgufValue::U32(v as u32));
    let f32_kv = |w: &mut GgufWriter, k: &str, v: f32| w.add(format!("{a}.{k}"), GgufValue::F32(v));
    u32_kv(w, "block_count", N_LAYER)?;
    u32_kv(w, "embedding_length", N_EMBD)?;
    u32_kv(w, "feed_forward_length", N_FF)?;
    u32_kv(w, "attention.head_count", N_HEAD)?;
    u32_kv(w, "attention.head_count_kv", N_HEAD_KV)?;
    match m {
        TinyModel::Qwen3 | TinyModel::Qwen3Moe => {
            u32_kv(w, "context_length", 4096)?;
            f32_kv(w, "rope.freq_base", 1_000_000.0)?;
            f32_kv(w, "attention.layer_norm_rms_epsilon", 1e-6)?;
        }
        TinyModel::Phi3 => {
            // LongRoPE as in Phi-3-mini-128k: the short factors apply up to 4096 positions.
            u32_kv(w, "context_length", 131_072)?;
            u32_kv(w, "rope.scaling.original_context_length", 4096)?;
            f32_kv(w, "rope.scaling.attn_factor", 1.190_238)?;
            u32_kv(w, "rope.dimension_count", N_EMBD / N_HEAD)?;
            f32_kv(w, "rope.freq_base", 10_000.0)?;
            f32_kv(w, "attention.layer_norm_rms_epsilon", 1e-5)?;
        }
        TinyModel::Llama3 => {
            u32_kv(w, "context_length", 8192)?;
            u32_kv(w, "rope.dimension_count", N_EMBD / N_HEAD)?;
            f32_kv(w, "rope.freq_base", 500_000.0)?;
            f32_kv(w, "attention.layer_norm_rms_epsilon", 1e-5)?;
        }
    }
    if m == TinyModel::Qwen3Moe {
        u32_kv(w, "expert_count", N_EXPERT)?;
        u32_kv(w, "expert_used_count", N_EXPERT_USED)?;
        u32_kv(w, "expert_feed_forward_length", N_FF_EXP)?;
    }
    Ok(())
}

/// Embeddings, final norm, output projection and model-wide RoPE factors.
fn add_io_tensors(w: &mut GgufWriter, rng: &mut Rng, m: TinyModel, n_vocab: usize) -> Result<()> {
    let embd_scale = if m.tied() { OUTPUT_SCALE } else { 1.0 };
    add_weight(w, rng, "token_embd.weight", &[N_EMBD, n_vocab], embd_scale)?;
    add_norm(w, rng, "output_norm.weight", N_EMBD)?;
    if !m.tied() {
        add_weight(w, rng, "output.weight", &[N_EMBD, n_vocab], OUTPUT_SCALE)?;
    }
    let half_rot = N_EMBD / N_HEAD / 2;
    match m {
        TinyModel::Phi3 => {
            let short = rng.around_one(half_rot, 0.5);
            w.add_f32_tensor("rope_factors_short.weight", &[half_rot as u64], &short)?;
            let long: Vec<f32> = rng
                .around_one(half_rot, 0.5)
                .iter()
                .map(|v| v * 8.0)
                .collect();
            w.add_f32_tensor("rope_factors_long.weight", &[half_rot as u64], &long)?;
        }
        TinyModel::Llama3 => {
            // Llama 3.1-style frequency factors: 1 for high frequencies, growing for low ones.
            let f: Vec<f32> = (0..half_rot).map(|i| 1.0 + (i * i) as f32 / 8.0).collect();
            w.add_f32_tensor("rope_freqs.weight", &[half_rot as u64], &f)?;
        }
        TinyModel::Qwen3 | TinyModel::Qwen3Moe => {}
    }
    Ok(())
}
