//! The phi3 architecture (Phi-3, Phi-3.5, Phi-4-mini) as llama.cpp defines it: RMSNorm, NeoX
//! RoPE with optional LongRoPE frequency factors, a fused QKV projection (`attn_qkv`), and a
//! SwiGLU feed-forward whose gate and up halves are fused in `ffn_up` (`[n_embd, 2·n_ff]`).
//! Sliding-window attention is off, as in llama.cpp (which disables it for phi3).

use super::graph::GraphBuild;
use super::hparams::HParams;
use super::llama::ROPE_TYPE_NEOX;
use super::weights::{DecoderIo, Placement, Weight, WeightLoader};
use super::Architecture;
use crate::error::{Error, Result};
use crate::ggml::Tensor;

/// Q, K and V projections: fused, or separate (older conversions).
#[derive(Debug)]
enum Qkv {
    Fused {
        w: Weight,
        b: Option<Weight>,
    },
    Split {
        wq: Weight,
        wk: Weight,
        wv: Weight,
        bq: Option<Weight>,
        bk: Option<Weight>,
        bv: Option<Weight>,
    },
}

#[derive(Debug)]
struct Layer {
    attn_norm: Weight,
    qkv: Qkv,
    wo: Weight,
    ffn_norm: Weight,
    /// `[n_embd, 2·n_ff]`: gate rows first, then up.
    ffn_up: Weight,
    ffn_down: Weight,
    /// LongRoPE factors `[n_rot/2]` for contexts beyond / within the original training length.
    rope_long: Option<Weight>,
    rope_short: Option<Weight>,
}

/// Weights of a phi3 model.
#[derive(Debug)]
pub struct Phi3 {
    io: DecoderIo,
    layers: Vec<Layer>,
}

impl Phi3 {
    /// Requests every tensor of the architecture from `w`.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        if hp.n_embd_head_k != hp.n_embd_head_v || hp.n_embd_head_k * hp.n_head != hp.n_embd {
            return Err(Error::Model(format!(
                "phi3: heads of {} × {} must span the embedding ({}) and equal the value width ({})",
                hp.n_head, hp.n_embd_head_k, hp.n_embd, hp.n_embd_head_v
            )));
        }
        let (n_embd, n_vocab) = (hp.n_embd, hp.n_vocab);
        let io = DecoderIo::load(n_embd, n_vocab, w)?;
        let layers = (0..hp.n_layer)
            .map(|il| load_layer(hp, w, il))
            .collect::<Result<_>>()?;
        Ok(Phi3 { io, layers })
    }

    /// llama.cpp's `get_rope_factors`: the long factors once the per-sequence context exceeds
    /// the original training context, else the short ones.
    fn rope_factors(b: &GraphBuild<'_>, l: &Layer) -> Option<Weight> {
        if b.kv.size() > b.hp.n_ctx_orig_yarn {
            l.rope_long
        } else {
            l.rope_short
        }
    }

    /// Q `[head, n_head, n_tokens]`, K and V `[head, n_head_kv, n_tokens]`, before RoPE.
    fn qkv<'a>(b: &GraphBuild<'a>, qkv: &Qkv, x: Tensor<'a>) -> [Tensor<'a>; 3] {
        let (ctx, hp) = (b.ctx, b.hp);
        match *qkv {
            Qkv::Fused { w, b: bias } => b.qkv_fused(w, bias, x),
            Qkv::Split {
                wq,
                wk,
                wv,
                bq,
                bk,
                bv,
            } => {
                let (head, nt) = (hp.n_embd_head_k as i64, b.shape.n_tokens as i64);
                let heads =
                    |w, bias, n: usize| ctx.reshape(b.linear(w, bias, x), &[head, n as i64, nt]);
                [
                    heads(wq, bq, hp.n_head),
                    heads(wk, bk, hp.n_head_kv),
                    heads(wv, bv, hp.n_head_kv),
                ]
            }
        }
    }
}

fn load_qkv(hp: &HParams, w: &mut WeightLoader<'_>, il: usize) -> Result<Qkv> {
    let p = Placement::Layer(il);
    let n = |s: &str| format!("blk.{il}.{s}");
    let (n_embd, kv) = (hp.n_embd, hp.n_embd_k_gqa());
    let n_qkv = n_embd + 2 * kv;
    if let Some(fused) = w.optional(&n("attn_qkv.weight"), &[n_embd, n_qkv], p)? {
        return Ok(Qkv::Fused {
            w: fused,
            b: w.optional(&n("attn_qkv.bias"), &[n_qkv], p)?,
        });
    }
    Ok(Qkv::Split {
        wq: w.require(&n("attn_q.weight"), &[n_embd, n_embd], p)?,
        wk: w.require(&n("attn_k.weight"), &[n_embd, kv], p)?,
        wv: w.require(&n("attn_v.weight"), &[n_embd, kv], p)?,
        bq: w.optional(&n("attn_q.bias"), &[n_embd], p)?,
        bk: w.optional(&n("attn_k.bias"), &[kv], p)?,
        bv: w.optional(&n("attn_v.bias"), &[kv], p)?,
    })
}

fn load_layer(hp: &HParams, w: &mut WeightLoader<'_>, il: usize) -> Result<Layer> {
    let p = Placement::Layer(il);
    let n = |s: &str| format!("blk.{il}.{s}");
    let (n_embd, n_ff) = (hp.n_embd, hp.n_ff);
    Ok(Layer {
        attn_norm: w.require(&n("attn_norm.weight"), &[n_embd], p)?,
        qkv: load_qkv(hp, w, il)?,
        wo: w.require(&n("attn_output.weight"), &[n_embd, n_embd], p)?,
        ffn_norm: w.require(&n("ffn_norm.weight"), &[n_embd], p)?,
        ffn_up: w.require(&n("ffn_up.weight"), &[n_embd, 2 * n_ff], p)?,
        ffn_down: w.require(&n("ffn_down.weight"), &[n_ff, n_embd], p)?,
        // One tensor each for the whole model, placed with every layer that uses it.
        rope_long: w.optional("rope_factors_long.weight", &[hp.n_rot / 2], p)?,
        rope_short: w.optional("rope_factors_short.weight", &[hp.n_rot / 2], p)?,
    })
}

impl Architecture for Phi3 {
    fn rope_type(&self) -> i32 {
        ROPE_TYPE_NEOX
    }

    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a> {
        let ctx = b.ctx;
        let head = b.hp.n_embd_head_k as f32;
        let mut inp = b.embeddings(self.io.tok_embd); // F32 [n_embd, n_tokens]
        for (il, l) in self.layers.iter().enumerate() {
            let factors = Self::rope_factors(b, l);
            let cur = b.rms_norm(inp, l.attn_norm);
            let [q, k, v] = Self::qkv(b, &l.qkv, cur);
            let q = b.rope(q, factors);
            let k = b.rope(k, factors);
            // phi3 scales Q before attention (and attends with scale 1), as llama.cpp does.
            let q = ctx.scale(q, 1.0 / head.sqrt());
            let mut attn = b.attention(il, q, k, v, l.wo, 1.0);
            let mut residual = inp;
            if il + 1 == self.layers.len() {
                attn = b.select_outputs(attn);
                residual = b.select_outputs(residual);
            }
            let ffn_inp = ctx.add(attn, residual);
            let cur = b.rms_norm(ffn_inp, l.ffn_norm);
            let cur = b.ffn_swiglu_fused(cur, l.ffn_up, l.ffn_down);
            inp = ctx.add(ffn_inp, cur);
        }
        b.output_head(&self.io, inp) // F32 [n_vocab, n_outputs]
    }
}
