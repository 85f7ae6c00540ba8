//! The qwen3 architecture (Qwen3 dense) as llama.cpp defines it: the llama decoder with
//! NeoX RoPE, no Q/K/V biases, and an RMS norm over each head of Q and K before RoPE (QK-norm).
//! The decoder is shared with qwen3moe, which swaps the feed-forward for a mixture of experts.

use super::blocks::MoeWeights;
use super::graph::GraphBuild;
use super::hparams::HParams;
use super::llama::ROPE_TYPE_NEOX;
use super::weights::{DecoderIo, Placement, Weight, WeightLoader};
use super::Architecture;
use crate::error::{Error, Result};
use crate::ggml::Tensor;

/// The feed-forward of one layer.
#[derive(Debug)]
pub(super) enum Ffn {
    /// SwiGLU: `down(silu(gate·x) * up·x)`.
    Dense {
        gate: Weight,
        up: Weight,
        down: Weight,
    },
    /// Softmax-gated mixture of SwiGLU experts, `n_used` per token, weights renormalised.
    Moe { w: MoeWeights, n_used: usize },
}

#[derive(Debug)]
struct Layer {
    attn_norm: Weight,
    wq: Weight,
    wk: Weight,
    wv: Weight,
    wo: Weight,
    /// Per-head RMS-norm scales, `[head_dim]`.
    q_norm: Weight,
    k_norm: Weight,
    ffn_norm: Weight,
    ffn: Ffn,
}

/// Loads the feed-forward of layer `il`.
pub(super) type FfnLoader = fn(&HParams, &mut WeightLoader<'_>, usize) -> Result<Ffn>;

/// Weights of a qwen3 (or, with expert FFNs, qwen3moe) model.
#[derive(Debug)]
pub struct Qwen3 {
    io: DecoderIo,
    layers: Vec<Layer>,
}

impl Qwen3 {
    /// Requests every tensor of the dense architecture.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        Self::load_with(hp, w, load_dense_ffn)
    }

    /// The decoder with the feed-forward of each layer loaded by `ffn`.
    pub(super) fn load_with(
        hp: &HParams,
        w: &mut WeightLoader<'_>,
        ffn: FfnLoader,
    ) -> Result<Self> {
        if hp.n_embd_head_k != hp.n_embd_head_v || hp.n_rot != hp.n_embd_head_k {
            return Err(Error::Model(format!(
                "{}: key, value and rope widths must be equal ({}, {}, {})",
                hp.arch, hp.n_embd_head_k, hp.n_embd_head_v, hp.n_rot
            )));
        }
        let (n_embd, n_vocab) = (hp.n_embd, hp.n_vocab);
        let io = DecoderIo::load(n_embd, n_vocab, w)?;
        let layers = (0..hp.n_layer)
            .map(|il| load_layer(hp, w, il, ffn))
            .collect::<Result<_>>()?;
        Ok(Qwen3 { io, layers })
    }

    /// Pre-norm attention with QK-norm over the KV cache, returns `[n_embd, n_tokens]`.
    fn attention<'a>(&self, b: &GraphBuild<'a>, il: usize, l: &Layer, x: Tensor<'a>) -> Tensor<'a> {
        let (ctx, hp) = (b.ctx, b.hp);
        let nt = b.shape.n_tokens as i64;
        let head = hp.n_embd_head_k as i64;
        let cur = b.rms_norm(x, l.attn_norm);
        let q = ctx.reshape(ctx.mul_mat(b.w(l.wq), cur), &[head, hp.n_head as i64, nt]);
        let k = ctx.reshape(
            ctx.mul_mat(b.w(l.wk), cur),
            &[head, hp.n_head_kv as i64, nt],
        );
        let v = ctx.reshape(
            ctx.mul_mat(b.w(l.wv), cur),
            &[head, hp.n_head_kv as i64, nt],
        );
        // QK-norm: the [head_dim] scales broadcast over heads and tokens.
        let q = b.rope(b.rms_norm(q, l.q_norm), None);
        let k = b.rope(b.rms_norm(k, l.k_norm), None);
        b.attention(il, q, k, v, l.wo, 1.0 / (head as f32).sqrt())
    }
}

fn load_layer(hp: &HParams, w: &mut WeightLoader<'_>, il: usize, ffn: FfnLoader) -> Result<Layer> {
    let p = Placement::Layer(il);
    let n = |s: &str| format!("blk.{il}.{s}");
    let (n_embd, head, q_out, kv_out) = (
        hp.n_embd,
        hp.n_embd_head_k,
        hp.n_embd_head_k * hp.n_head,
        hp.n_embd_k_gqa(),
    );
    Ok(Layer {
        attn_norm: w.require(&n("attn_norm.weight"), &[n_embd], p)?,
        wq: w.require(&n("attn_q.weight"), &[n_embd, q_out], p)?,
        wk: w.require(&n("attn_k.weight"), &[n_embd, kv_out], p)?,
        wv: w.require(&n("attn_v.weight"), &[n_embd, kv_out], p)?,
        wo: w.require(&n("attn_output.weight"), &[q_out, n_embd], p)?,
        q_norm: w.require(&n("attn_q_norm.weight"), &[head], p)?,
        k_norm: w.require(&n("attn_k_norm.weight"), &[head], p)?,
        ffn_norm: w.require(&n("ffn_norm.weight"), &[n_embd], p)?,
        ffn: ffn(hp, w, il)?,
    })
}

fn load_dense_ffn(hp: &HParams, w: &mut WeightLoader<'_>, il: usize) -> Result<Ffn> {
    let p = Placement::Layer(il);
    let n = |s: &str| format!("blk.{il}.{s}");
    let (n_embd, n_ff) = (hp.n_embd, hp.n_ff);
    Ok(Ffn::Dense {
        gate: w.require(&n("ffn_gate.weight"), &[n_embd, n_ff], p)?,
        up: w.require(&n("ffn_up.weight"), &[n_embd, n_ff], p)?,
        down: w.require(&n("ffn_down.weight"), &[n_ff, n_embd], p)?,
    })
}

impl Architecture for Qwen3 {
    fn rope_type(&self) -> i32 {
        ROPE_TYPE_NEOX
    }

    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a> {
        let ctx = b.ctx;
        let mut inp = b.embeddings(self.io.tok_embd); // F32 [n_embd, n_tokens]
        for (il, l) in self.layers.iter().enumerate() {
            let mut attn = self.attention(b, il, l, inp);
            let mut residual = inp;
            if il + 1 == self.layers.len() {
                // Only the rows whose logits were asked for go through the last FFN and the head.
                attn = b.select_outputs(attn);
                residual = b.select_outputs(residual);
            }
            let ffn_inp = ctx.add(attn, residual);
            let cur = b.rms_norm(ffn_inp, l.ffn_norm);
            let cur = match &l.ffn {
                Ffn::Dense { gate, up, down } => b.ffn_swiglu(cur, *up, *gate, *down),
                Ffn::Moe { w, n_used } => b.ffn_moe(cur, w, *n_used, true),
            };
            inp = ctx.add(cur, ffn_inp);
        }
        b.output_head(&self.io, inp) // F32 [n_vocab, n_outputs]
    }
}
