//! The gemma3 architecture (Gemma 3 text models) as llama.cpp's `src/models/gemma3.cpp` builds it:
//! embeddings scaled by sqrt(n_embd), RMS-normed Q and K, norms before and after both attention
//! and the GELU-gated feed-forward, NeoX RoPE, and interleaved sliding-window attention (local
//! layers see `n_swa` positions back and rotate with their own base; every n-th layer is global).

use super::graph::GraphBuild;
use super::hparams::HParams;
use super::llama::ROPE_TYPE_NEOX;
use super::weights::{DecoderIo, Placement, Weight, WeightLoader};
use super::Architecture;
use crate::error::Result;
use crate::ggml::Tensor;

#[derive(Debug)]
struct Layer {
    attn_norm: Weight,
    wq: Weight,
    wk: Weight,
    wv: Weight,
    wo: Weight,
    attn_q_norm: Weight,
    attn_k_norm: Weight,
    attn_post_norm: Weight,
    ffn_norm: Weight,
    ffn_gate: Weight,
    ffn_up: Weight,
    ffn_down: Weight,
    ffn_post_norm: Weight,
}

/// Weights of a gemma3 model.
#[derive(Debug)]
pub struct Gemma3 {
    io: DecoderIo,
    layers: Vec<Layer>,
    /// Multiplies Q before attention (the attention itself is then unscaled, as in llama.cpp).
    attention_scale: f32,
}

/// llama.cpp's `f_attention_scale` for Gemma 3: 1/sqrt(head width), except the 27B model (62
/// layers), which uses 1/sqrt(n_embd / n_head) (gemma_pytorch's `query_pre_attn_scalar`).
fn attention_scale(hp: &HParams) -> f32 {
    if hp.n_layer == 62 {
        1.0 / ((hp.n_embd / hp.n_head) as f32).sqrt()
    } else {
        1.0 / (hp.n_embd_head_k as f32).sqrt()
    }
}

impl Gemma3 {
    /// Requests every tensor of the architecture from `w`.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        let (n_embd, n_vocab) = (hp.n_embd, hp.n_vocab);
        let io = DecoderIo::load(n_embd, n_vocab, w)?;
        let layers = (0..hp.n_layer)
            .map(|il| Self::load_layer(hp, w, il))
            .collect::<Result<_>>()?;
        Ok(Gemma3 {
            io,
            layers,
            attention_scale: attention_scale(hp),
        })
    }

    fn load_layer(hp: &HParams, w: &mut WeightLoader<'_>, il: usize) -> Result<Layer> {
        let p = Placement::Layer(il);
        let n = |s: &str| format!("blk.{il}.{s}");
        let (n_embd, n_ff, head) = (hp.n_embd, hp.n_ff, hp.n_embd_head_k);
        let q_out = head * hp.n_head;
        Ok(Layer {
            attn_norm: w.require(&n("attn_norm.weight"), &[n_embd], p)?,
            wq: w.require(&n("attn_q.weight"), &[n_embd, q_out], p)?,
            wk: w.require(&n("attn_k.weight"), &[n_embd, hp.n_embd_k_gqa()], p)?,
            wv: w.require(&n("attn_v.weight"), &[n_embd, hp.n_embd_v_gqa()], p)?,
            wo: w.require(&n("attn_output.weight"), &[q_out, n_embd], p)?,
            attn_q_norm: w.require(&n("attn_q_norm.weight"), &[head], p)?,
            attn_k_norm: w.require(&n("attn_k_norm.weight"), &[head], p)?,
            attn_post_norm: w.require(&n("post_attention_norm.weight"), &[n_embd], p)?,
            ffn_norm: w.require(&n("ffn_norm.weight"), &[n_embd], p)?,
            ffn_gate: w.require(&n("ffn_gate.weight"), &[n_embd, n_ff], p)?,
            ffn_up: w.require(&n("ffn_up.weight"), &[n_embd, n_ff], p)?,
            ffn_down: w.require(&n("ffn_down.weight"), &[n_ff, n_embd], p)?,
            ffn_post_norm: w.require(&n("post_ffw_norm.weight"), &[n_embd], p)?,
        })
    }

    /// Attention block of layer `il` on the normed input `cur` (F32 [n_embd, n_tokens]); returns
    /// the projected output, F32 [n_embd, n_tokens].
    fn attention<'a>(&self, b: &GraphBuild<'a>, il: usize, cur: Tensor<'a>) -> Tensor<'a> {
        let (ctx, hp, l) = (b.ctx, b.hp, &self.layers[il]);
        let nt = b.shape.n_tokens as i64;
        let head = hp.n_embd_head_k as i64;
        let q = ctx.reshape(ctx.mul_mat(b.w(l.wq), cur), &[head, hp.n_head as i64, nt]);
        let k = ctx.reshape(
            ctx.mul_mat(b.w(l.wk), cur),
            &[head, hp.n_head_kv as i64, nt],
        );
        let v = ctx.reshape(
            ctx.mul_mat(b.w(l.wv), cur),
            &[hp.n_embd_head_v as i64, hp.n_head_kv as i64, nt],
        );
        let q = b.rope_layer(il, b.rms_norm(q, l.attn_q_norm), None);
        let k = b.rope_layer(il, b.rms_norm(k, l.attn_k_norm), None);
        // Scaling Q (not the scores) keeps llama.cpp's rounding.
        let q = ctx.scale(q, self.attention_scale);
        b.attention(il, q, k, v, l.wo, 1.0)
    }
}

impl Architecture for Gemma3 {
    fn rope_type(&self) -> i32 {
        ROPE_TYPE_NEOX
    }

    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a> {
        let (ctx, hp) = (b.ctx, b.hp);
        // F32 [n_embd, n_tokens]
        let mut inp = ctx.scale(b.embeddings(self.io.tok_embd), (hp.n_embd as f32).sqrt());
        for (il, l) in self.layers.iter().enumerate() {
            let cur = b.rms_norm(inp, l.attn_norm);
            let mut cur = self.attention(b, il, cur);
            if il + 1 == self.layers.len() {
                // Only the rows whose logits were asked for go through the last FFN and the head.
                cur = b.select_outputs(cur);
                inp = b.select_outputs(inp);
            }
            let sa_out = ctx.add(b.rms_norm(cur, l.attn_post_norm), inp);
            let cur = b.rms_norm(sa_out, l.ffn_norm);
            let cur = b.ffn_geglu(cur, l.ffn_up, l.ffn_gate, l.ffn_down);
            inp = ctx.add(b.rms_norm(cur, l.ffn_post_norm), sa_out);
        }
        let cur = b.rms_norm(inp, self.io.output_norm);
        let mut logits = ctx.mul_mat(b.w(self.io.output), cur); // F32 [n_vocab, n_outputs]
        let cap = hp.final_logit_softcapping;
        if cap > 0.0 {
            logits = ctx.scale(ctx.tanh(ctx.scale(logits, 1.0 / cap)), cap);
        }
        logits.set_name("result_output")
    }
}
