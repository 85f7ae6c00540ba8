//! Model hyper-parameters read from GGUF metadata (`{arch}.*` keys), as llama.cpp defines them.

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// How RoPE frequencies are scaled beyond the training context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeScaling {
    None,
    Linear,
    Yarn,
}

/// Shape and numerics of a decoder-only transformer.
#[derive(Debug, Clone, PartialEq)]
pub struct HParams {
    pub arch: String,
    pub n_vocab: usize,
    pub n_ctx_train: usize,
    pub n_embd: usize,
    pub n_ff: usize,
    pub n_layer: usize,
    pub n_head: usize,
    pub n_head_kv: usize,
    /// Per-head key / value width (`n_embd / n_head` unless the file says otherwise).
    pub n_embd_head_k: usize,
    pub n_embd_head_v: usize,
    /// Rotated dimensions per head.
    pub n_rot: usize,
    pub rope_freq_base: f32,
    pub rope_freq_scale: f32,
    pub rope_scaling: RopeScaling,
    pub n_ctx_orig_yarn: usize,
    pub rms_eps: f32,
    /// Extra RoPE magnitude scale (`rope.scaling.attn_factor`, LongRoPE models), 1 when absent.
    pub rope_attn_factor: f32,
    /// Mixture of experts: experts per layer and experts used per token (0 for dense models).
    pub n_expert: usize,
    pub n_expert_used: usize,
    /// Hidden width of one expert (`expert_feed_forward_length`), 0 when absent.
    pub n_ff_exp: usize,
}

impl HParams {
    /// Reads the hyper-parameters of architecture `arch` (the `general.architecture` value).
    pub fn from_gguf(file: &GgufFile, arch: &str) -> Result<Self> {
        let md = file.metadata();
        let key = |k: &str| format!("{arch}.{k}");
        let req = |k: &str| -> Result<usize> {
            md.get_usize(&key(k))?
                .ok_or_else(|| Error::Model(format!("missing required key '{}'", key(k))))
        };
        let n_embd = req("embedding_length")?;
        let n_head = req("attention.head_count")?;
        if n_head == 0 || n_embd % n_head != 0 {
            return Err(Error::Model(format!(
                "embedding length {n_embd} not divisible by {n_head} heads"
            )));
        }
        let n_head_kv = md
            .get_usize(&key("attention.head_count_kv"))?
            .unwrap_or(n_head);
        if n_head_kv == 0 || n_head % n_head_kv != 0 {
            return Err(Error::Model(format!(
                "{n_head} heads not divisible by {n_head_kv} KV heads"
            )));
        }
        let head = n_embd / n_head;
        let n_embd_head_k = md.get_usize(&key("attention.key_length"))?.unwrap_or(head);
        let n_embd_head_v = md
            .get_usize(&key("attention.value_length"))?
            .unwrap_or(head);
        let n_rot = md
            .get_usize(&key("rope.dimension_count"))?
            .unwrap_or(n_embd_head_k);
        if n_rot > n_embd_head_k || n_rot % 2 != 0 {
            return Err(Error::Model(format!(
                "rope dimension {n_rot} invalid for head width {n_embd_head_k}"
            )));
        }
        let n_ctx_train = req("context_length")?;
        let (rope_scaling, rope_freq_scale) = rope_scaling(file, arch)?;
        let n_vocab = match md.get_usize(&key("vocab_size"))? {
            Some(n) => n,
            None => md
                .get_str_array("tokenizer.ggml.tokens")?
                .map(<[String]>::len)
                .unwrap_or(0),
        };
        Ok(HParams {
            arch: arch.to_string(),
            n_vocab,
            n_ctx_train,
            n_embd,
            n_ff: req("feed_forward_length")?,
            n_layer: req("block_count")?,
            n_head,
            n_head_kv,
            n_embd_head_k,
            n_embd_head_v,
            n_rot,
            rope_freq_base: md.get_f32(&key("rope.freq_base"))?.unwrap_or(10_000.0),
            rope_freq_scale,
            rope_scaling,
            n_ctx_orig_yarn: md
                .get_usize(&key("rope.scaling.original_context_length"))?
                .unwrap_or(n_ctx_train),
            rms_eps: md
                .get_f32(&key("attention.layer_norm_rms_epsilon"))?
                .unwrap_or(1e-5),
            rope_attn_factor: md.get_f32(&key("rope.scaling.attn_factor"))?.unwrap_or(1.0),
            n_expert: md.get_usize(&key("expert_count"))?.unwrap_or(0),
            n_expert_used: md.get_usize(&key("expert_used_count"))?.unwrap_or(0),
            n_ff_exp: md
                .get_usize(&key("expert_feed_forward_length"))?
                .unwrap_or(0),
        })
    }

    /// K/V width across all KV heads.
    pub fn n_embd_k_gqa(&self) -> usize {
        self.n_embd_head_k * self.n_head_kv
    }

    pub fn n_embd_v_gqa(&self) -> usize {
        self.n_embd_head_v * self.n_head_kv
    }
}

fn rope_scaling(file: &GgufFile, arch: &str) -> Result<(RopeScaling, f32)> {
    let md = file.metadata();
    let kind = md
        .get_str(&format!("{arch}.rope.scaling.type"))?
        .unwrap_or("none");
    let factor = match md.get_f32(&format!("{arch}.rope.scaling.factor"))? {
        Some(f) => f,
        // Older files store the linear scale directly.
        None => md
            .get_f32(&format!("{arch}.rope.scale_linear"))?
            .unwrap_or(1.0),
    };
    let scale = if factor > 0.0 { 1.0 / factor } else { 1.0 };
    Ok(match kind {
        "none" => (RopeScaling::None, if factor != 1.0 { scale } else { 1.0 }),
        "linear" => (RopeScaling::Linear, scale),
        "yarn" => (RopeScaling::Yarn, scale),
        other => {
            return Err(Error::Model(format!(
                "unsupported rope scaling type '{other}'"
            )))
        }
    })
}
