//! Model hyper-parameters read from GGUF metadata (`{arch}.*` keys), as llama.cpp defines them.

use crate::error::{Error, Result};
use crate::gguf::{GgufArray, GgufFile, GgufValue};

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
    /// LayerNorm epsilon (`attention.layer_norm_epsilon`; BERT-family encoders).
    pub norm_eps: f32,
    /// Whether a token attends only to earlier ones (`attention.causal`; false for encoders).
    pub causal_attn: bool,
    /// The model's pooling for embeddings (`pooling_type`: llama.cpp's `llama_pooling_type`,
    /// 0 none, 1 mean, 2 cls, 3 last, 4 rank), if the file says.
    pub pooling_type: Option<u32>,
    /// Sliding-window attention span in positions (0: none). A token at position `p` in a
    /// sliding-window layer sees cached positions `p' > p - n_swa` (llama.cpp's
    /// `LLAMA_SWA_TYPE_STANDARD`).
    pub n_swa: usize,
    /// Per layer: whether it attends through the sliding window (empty when `n_swa == 0`).
    pub swa_layers: Vec<bool>,
    /// RoPE base and scale of sliding-window layers (llama.cpp's `rope_freq_{base,scale}_train_swa`).
    pub rope_freq_base_swa: f32,
    pub rope_freq_scale_swa: f32,
    /// `cap * tanh(logits / cap)` on the output logits (0: off).
    pub final_logit_softcapping: f32,
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
        let n_layer = req("block_count")?;
        // Per-layer tables are sized by it: a corrupt count must not allocate gigabytes.
        if n_layer > MAX_LAYERS {
            return Err(Error::Model(format!(
                "{n_layer} layers ('{}') exceed the maximum of {MAX_LAYERS}",
                key("block_count")
            )));
        }
        let (n_swa, swa_layers) = sliding_window(file, arch, n_layer)?;
        Ok(HParams {
            arch: arch.to_string(),
            n_vocab,
            n_ctx_train,
            n_embd,
            n_ff: req("feed_forward_length")?,
            n_layer,
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
            norm_eps: md
                .get_f32(&key("attention.layer_norm_epsilon"))?
                .unwrap_or(1e-5),
            causal_attn: md.get_bool(&key("attention.causal"))?.unwrap_or(true),
            pooling_type: md.get_u32(&key("pooling_type"))?,
            n_swa,
            swa_layers,
            rope_freq_base_swa: md.get_f32(&key("rope.freq_base_swa"))?.unwrap_or(10_000.0),
            rope_freq_scale_swa: 1.0,
            final_logit_softcapping: md.get_f32(&key("final_logit_softcapping"))?.unwrap_or(0.0),
        })
    }

    /// Whether layer `il` attends through the sliding window.
    pub fn is_swa(&self, il: usize) -> bool {
        self.n_swa > 0 && self.swa_layers.get(il).copied().unwrap_or(false)
    }

    /// Whether any layer uses the sliding window (a second attention mask is then needed).
    pub fn has_swa(&self) -> bool {
        (0..self.n_layer).any(|il| self.is_swa(il))
    }

    /// RoPE base and scale of layer `il`: sliding-window layers have their own.
    pub fn rope_freq_layer(&self, il: usize) -> (f32, f32) {
        if self.is_swa(il) {
            (self.rope_freq_base_swa, self.rope_freq_scale_swa)
        } else {
            (self.rope_freq_base, self.rope_freq_scale)
        }
    }

    /// K/V width across all KV heads.
    pub fn n_embd_k_gqa(&self) -> usize {
        self.n_embd_head_k * self.n_head_kv
    }

    pub fn n_embd_v_gqa(&self) -> usize {
        self.n_embd_head_v * self.n_head_kv
    }
}

/// Architectures with interleaved sliding-window attention and llama.cpp's default pattern
/// (every n-th layer is global); others ignore `attention.sliding_window`, as llama.cpp does.
/// llama.cpp's `LLAMA_MAX_LAYERS`: the most repeating layers a model may declare.
const MAX_LAYERS: usize = 512;

const SWA_PATTERNS: &[(&str, u32)] = &[("gemma3", 6)];

/// The sliding window and the per-layer SWA flags: `attention.sliding_window_pattern` is either
/// a per-layer bool array or `n` (layer `il` is global when `il % n == n - 1`; 0: all SWA).
fn sliding_window(file: &GgufFile, arch: &str, n_layer: usize) -> Result<(usize, Vec<bool>)> {
    let md = file.metadata();
    let Some(&(_, default_pattern)) = SWA_PATTERNS.iter().find(|(a, _)| *a == arch) else {
        return Ok((0, Vec::new()));
    };
    let n_swa = md
        .get_usize(&format!("{arch}.attention.sliding_window"))?
        .unwrap_or(0);
    if n_swa == 0 {
        return Ok((0, Vec::new()));
    }
    let key = format!("{arch}.attention.sliding_window_pattern");
    if let Some(GgufValue::Array(GgufArray::Bool(flags))) = md.get(&key) {
        if flags.len() != n_layer {
            return Err(Error::Model(format!(
                "'{key}' has {} entries for {n_layer} layers",
                flags.len()
            )));
        }
        return Ok((n_swa, flags.clone()));
    }
    let n = md.get_u32(&key)?.unwrap_or(default_pattern) as usize;
    let layers = (0..n_layer).map(|il| n == 0 || il % n < n - 1).collect();
    Ok((n_swa, layers))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufWriter;

    fn file(arch: &str, extra: impl FnOnce(&mut GgufWriter)) -> GgufFile {
        let mut w = GgufWriter::new();
        let k = |s: &str| format!("{arch}.{s}");
        w.add_u32(k("embedding_length"), 64).unwrap();
        w.add_u32(k("attention.head_count"), 4).unwrap();
        w.add_u32(k("context_length"), 256).unwrap();
        w.add_u32(k("feed_forward_length"), 128).unwrap();
        w.add_u32(k("block_count"), 12).unwrap();
        w.add_u32(k("attention.sliding_window"), 32).unwrap();
        extra(&mut w);
        GgufFile::from_bytes(w.to_bytes()).unwrap()
    }

    #[test]
    fn gemma3_layers_are_local_except_every_sixth() {
        let hp = HParams::from_gguf(&file("gemma3", |_| {}), "gemma3").unwrap();
        assert_eq!(hp.n_swa, 32);
        let global: Vec<usize> = (0..12).filter(|&il| !hp.is_swa(il)).collect();
        assert_eq!(global, [5, 11]);
        assert_eq!(hp.rope_freq_layer(0), (10_000.0, 1.0));
        assert_eq!(
            hp.rope_freq_layer(5),
            (hp.rope_freq_base, hp.rope_freq_scale)
        );
    }

    #[test]
    fn an_explicit_pattern_and_swa_base_override_the_defaults() {
        let f = file("gemma3", |w| {
            w.add_u32("gemma3.attention.sliding_window_pattern", 3)
                .unwrap();
            w.add_f32("gemma3.rope.freq_base_swa", 500.0).unwrap();
        });
        let hp = HParams::from_gguf(&f, "gemma3").unwrap();
        let global: Vec<usize> = (0..12).filter(|&il| !hp.is_swa(il)).collect();
        assert_eq!(global, [2, 5, 8, 11]);
        assert_eq!(hp.rope_freq_layer(0).0, 500.0);
    }

    #[test]
    fn a_corrupt_layer_count_is_refused_before_sizing_per_layer_tables() {
        // Found by the model_meta fuzz target: 3.2 billion layers sized a 3.2 GB SWA table.
        let mut w = GgufWriter::new();
        let keys = [
            ("embedding_length", 64),
            ("attention.head_count", 4),
            ("context_length", 256),
            ("feed_forward_length", 128),
            ("block_count", 3_204_448_258),
            ("attention.sliding_window", 32),
        ];
        for (k, v) in keys {
            w.add_u32(format!("gemma3.{k}"), v).unwrap();
        }
        let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
        let err = HParams::from_gguf(&f, "gemma3").unwrap_err().to_string();
        assert!(err.contains("3204448258 layers"), "{err}");
    }

    #[test]
    fn architectures_without_interleaved_swa_ignore_the_window() {
        let hp = HParams::from_gguf(&file("llama", |_| {}), "llama").unwrap();
        assert_eq!(hp.n_swa, 0);
        assert!(!hp.has_swa());
        assert_eq!(hp.rope_freq_layer(3).0, hp.rope_freq_base);
    }
}
