//! The llama architecture (Llama 1/2/3, Mistral-style GQA, TinyLlama, SmolLM2) as llama.cpp
//! defines it: RMSNorm, RoPE (normal mode), grouped-query attention, SwiGLU feed-forward.

use super::graph::GraphBuild;
use super::hparams::HParams;
use super::weights::{DecoderIo, Placement, Weight, WeightLoader};
use super::Architecture;
use crate::error::Result;
use crate::ggml::Tensor;

/// llama.cpp's `LLAMA_ROPE_TYPE_NORM`: rotate adjacent pairs.
pub(super) const ROPE_TYPE_NORM: i32 = 0;
/// llama.cpp's `LLAMA_ROPE_TYPE_NEOX`: rotate the two halves of each head.
pub(super) const ROPE_TYPE_NEOX: i32 = 2;

#[derive(Debug)]
struct Layer {
    attn_norm: Weight,
    wq: Weight,
    wk: Weight,
    wv: Weight,
    wo: Weight,
    bq: Option<Weight>,
    bk: Option<Weight>,
    bv: Option<Weight>,
    bo: Option<Weight>,
    ffn_norm: Weight,
    ffn_gate: Weight,
    ffn_up: Weight,
    ffn_down: Weight,
    rope_freqs: Option<Weight>,
}

/// Weights of a llama model.
#[derive(Debug)]
pub struct Llama {
    rope_type: i32,
    io: DecoderIo,
    layers: Vec<Layer>,
}

impl Llama {
    /// Requests every tensor of the architecture from `w`.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        Self::load_with_rope(hp, w, ROPE_TYPE_NORM)
    }

    /// The same decoder with another RoPE mode (Qwen2 rotates NeoX-style).
    pub(super) fn load_with_rope(
        hp: &HParams,
        w: &mut WeightLoader<'_>,
        rope_type: i32,
    ) -> Result<Self> {
        let (n_embd, n_vocab, n_ff) = (hp.n_embd, hp.n_vocab, hp.n_ff);
        let io = DecoderIo::load(n_embd, n_vocab, w)?;
        let layers = (0..hp.n_layer)
            .map(|il| Self::load_layer(hp, w, il, n_ff))
            .collect::<Result<_>>()?;
        Ok(Llama {
            rope_type,
            io,
            layers,
        })
    }

    /// Whether every layer has Q, K and V biases.
    pub(super) fn has_qkv_biases(&self) -> bool {
        self.layers
            .iter()
            .all(|l| l.bq.is_some() && l.bk.is_some() && l.bv.is_some())
    }

    fn load_layer(hp: &HParams, w: &mut WeightLoader<'_>, il: usize, n_ff: usize) -> Result<Layer> {
        let p = Placement::Layer(il);
        let n = |s: &str| format!("blk.{il}.{s}");
        let (n_embd, q_out) = (hp.n_embd, hp.n_embd_head_k * hp.n_head);
        let (k_out, v_out) = (hp.n_embd_k_gqa(), hp.n_embd_v_gqa());
        Ok(Layer {
            attn_norm: w.require(&n("attn_norm.weight"), &[n_embd], p)?,
            wq: w.require(&n("attn_q.weight"), &[n_embd, q_out], p)?,
            wk: w.require(&n("attn_k.weight"), &[n_embd, k_out], p)?,
            wv: w.require(&n("attn_v.weight"), &[n_embd, v_out], p)?,
            wo: w.require(&n("attn_output.weight"), &[q_out, n_embd], p)?,
            bq: w.optional(&n("attn_q.bias"), &[q_out], p)?,
            bk: w.optional(&n("attn_k.bias"), &[k_out], p)?,
            bv: w.optional(&n("attn_v.bias"), &[v_out], p)?,
            bo: w.optional(&n("attn_output.bias"), &[n_embd], p)?,
            ffn_norm: w.require(&n("ffn_norm.weight"), &[n_embd], p)?,
            ffn_gate: w.require(&n("ffn_gate.weight"), &[n_embd, n_ff], p)?,
            ffn_up: w.require(&n("ffn_up.weight"), &[n_embd, n_ff], p)?,
            ffn_down: w.require(&n("ffn_down.weight"), &[n_ff, n_embd], p)?,
            // Llama 3 long-context frequency factors: one shared tensor for every layer.
            rope_freqs: w.optional("rope_freqs.weight", &[hp.n_rot / 2], p)?,
        })
    }
}

impl Architecture for Llama {
    fn rope_type(&self) -> i32 {
        self.rope_type
    }

    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a> {
        let (ctx, hp) = (b.ctx, b.hp);
        let nt = b.shape.n_tokens as i64;
        let head = hp.n_embd_head_k as i64;
        let kq_scale = 1.0 / (hp.n_embd_head_k as f32).sqrt();
        let mut inp = b.embeddings(self.io.tok_embd); // F32 [n_embd, n_tokens]
        for (il, l) in self.layers.iter().enumerate() {
            let cur = b.rms_norm(inp, l.attn_norm);
            let q = ctx.reshape(b.linear(l.wq, l.bq, cur), &[head, hp.n_head as i64, nt]);
            let k = ctx.reshape(b.linear(l.wk, l.bk, cur), &[head, hp.n_head_kv as i64, nt]);
            let v = ctx.reshape(
                b.linear(l.wv, l.bv, cur),
                &[hp.n_embd_head_v as i64, hp.n_head_kv as i64, nt],
            );
            let q = b.rope(q, l.rope_freqs);
            let k = b.rope(k, l.rope_freqs);
            let mut attn = b.attention(il, q, k, v, l.wo, kq_scale);
            if let Some(bo) = l.bo {
                attn = ctx.add(attn, b.w(bo));
            }
            let mut residual = inp;
            if il + 1 == self.layers.len() {
                // Only the rows whose logits were asked for go through the last FFN and the head.
                attn = b.select_outputs(attn);
                residual = b.select_outputs(residual);
            }
            let ffn_inp = ctx.add(attn, residual);
            let cur = b.rms_norm(ffn_inp, l.ffn_norm);
            let cur = b.ffn_swiglu(cur, l.ffn_up, l.ffn_gate, l.ffn_down);
            inp = ctx.add(cur, ffn_inp);
        }
        b.output_head(&self.io, inp) // F32 [n_vocab, n_outputs]
    }
}
