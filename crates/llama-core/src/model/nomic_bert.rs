//! The nomic-bert architecture (nomic-embed-text v1/v1.5) as llama.cpp's `src/models/bert.cpp`
//! builds `LLM_ARCH_NOMIC_BERT`: token + token-type-0 embeddings, embedding LayerNorm, then per
//! layer fused QKV with NeoX RoPE, non-causal attention, post-attention LayerNorm, SwiGLU
//! feed-forward and post-FFN LayerNorm. No output head: the graph returns hidden states.

use super::encoder::EncoderBuild;
use super::graph::GraphBuild;
use super::hparams::HParams;
use super::llama::ROPE_TYPE_NEOX;
use super::weights::{Placement, Weight, WeightLoader};
use super::{Architecture, EncoderArchitecture};
use crate::error::{Error, Result};
use crate::ggml::Tensor;

#[derive(Debug)]
struct Layer {
    wqkv: Weight,
    wo: Weight,
    attn_out_norm: Weight,
    attn_out_norm_b: Weight,
    ffn_up: Weight,
    ffn_gate: Weight,
    ffn_down: Weight,
    layer_out_norm: Weight,
    layer_out_norm_b: Weight,
}

/// Weights of a nomic-bert encoder.
#[derive(Debug)]
pub struct NomicBert {
    tok_embd: Weight,
    /// Row 0 ("sentence A") is added to every token, as llama.cpp hard-codes.
    type_embd: Option<Weight>,
    tok_norm: Weight,
    tok_norm_b: Weight,
    layers: Vec<Layer>,
}

impl NomicBert {
    /// Requests every tensor of the architecture from `w`.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        if hp.causal_attn {
            return Err(Error::Model(
                "nomic-bert: attention.causal must be false (an encoder)".into(),
            ));
        }
        let n_embd = hp.n_embd;
        let n_types = hp_token_types(w, n_embd);
        let type_embd = match n_types {
            Some(n) => w.optional("token_types.weight", &[n_embd, n], Placement::Input)?,
            None => None,
        };
        let layers = (0..hp.n_layer)
            .map(|il| Self::load_layer(hp, w, il))
            .collect::<Result<_>>()?;
        Ok(NomicBert {
            tok_embd: w.require("token_embd.weight", &[n_embd, hp.n_vocab], Placement::Input)?,
            type_embd,
            tok_norm: w.require("token_embd_norm.weight", &[n_embd], Placement::Input)?,
            tok_norm_b: w.require("token_embd_norm.bias", &[n_embd], Placement::Input)?,
            layers,
        })
    }

    fn load_layer(hp: &HParams, w: &mut WeightLoader<'_>, il: usize) -> Result<Layer> {
        let p = Placement::Layer(il);
        let n = |s: &str| format!("blk.{il}.{s}");
        let (n_embd, n_ff) = (hp.n_embd, hp.n_ff);
        let qkv_out = n_embd + hp.n_embd_k_gqa() + hp.n_embd_v_gqa();
        Ok(Layer {
            wqkv: w.require(&n("attn_qkv.weight"), &[n_embd, qkv_out], p)?,
            wo: w.require(&n("attn_output.weight"), &[n_embd, n_embd], p)?,
            attn_out_norm: w.require(&n("attn_output_norm.weight"), &[n_embd], p)?,
            attn_out_norm_b: w.require(&n("attn_output_norm.bias"), &[n_embd], p)?,
            ffn_up: w.require(&n("ffn_up.weight"), &[n_embd, n_ff], p)?,
            ffn_gate: w.require(&n("ffn_gate.weight"), &[n_embd, n_ff], p)?,
            ffn_down: w.require(&n("ffn_down.weight"), &[n_ff, n_embd], p)?,
            layer_out_norm: w.require(&n("layer_output_norm.weight"), &[n_embd], p)?,
            layer_out_norm_b: w.require(&n("layer_output_norm.bias"), &[n_embd], p)?,
        })
    }

    /// Embeddings plus token type 0, LayerNorm'ed: F32 [n_embd, n_tokens].
    fn input<'a>(&self, b: &EncoderBuild<'a>) -> Tensor<'a> {
        let ctx = b.ctx;
        let mut x = b.embeddings(self.tok_embd);
        if let Some(types) = self.type_embd {
            let row0 = ctx.view(b.w(types), &[b.hp.n_embd as i64], &[], 0);
            x = ctx.add(x, row0);
        }
        b.layer_norm(x, self.tok_norm, self.tok_norm_b)
    }
}

/// The number of token types (`token_types.weight`'s second dimension), if the tensor exists.
fn hp_token_types(w: &WeightLoader<'_>, n_embd: usize) -> Option<usize> {
    let dims = w.dims_of("token_types.weight")?;
    (dims.len() == 2 && dims[0] == n_embd as u64).then(|| dims[1] as usize)
}

impl Architecture for NomicBert {
    fn rope_type(&self) -> i32 {
        ROPE_TYPE_NEOX
    }

    fn build<'a>(&self, _b: &GraphBuild<'a>) -> Tensor<'a> {
        // `Context::new` refuses models whose `encoder()` is `Some`, so no decoder graph is
        // ever built for this architecture; embeddings go through `embed::Encoder`.
        unreachable!("nomic-bert is an encoder: use embed::Encoder, not Context")
    }

    fn encoder(&self) -> Option<&dyn EncoderArchitecture> {
        Some(self)
    }
}

impl EncoderArchitecture for NomicBert {
    fn build_encoder<'a>(&self, b: &EncoderBuild<'a>) -> Tensor<'a> {
        let (ctx, hp) = (b.ctx, b.hp);
        let scale = 1.0 / (hp.n_embd_head_k as f32).sqrt();
        let mut inp = self.input(b); // F32 [n_embd, n_tokens]
        for l in &self.layers {
            let qkv = ctx.mul_mat(b.w(l.wqkv), inp); // F32 [3·n_embd, n_tokens]
            let (q, k, v) = b.split_qkv(qkv);
            let (q, k) = (b.rope(q), b.rope(k));
            let attn = b.attention(q, k, v, l.wo, scale); // F32 [n_embd, n_tokens]
                                                          // Post-norm: residual first, then LayerNorm (BERT), for attention and FFN alike.
            let cur = b.layer_norm(ctx.add(attn, inp), l.attn_out_norm, l.attn_out_norm_b);
            let ffn = b.ffn_swiglu(cur, l.ffn_up, l.ffn_gate, l.ffn_down);
            inp = b.layer_norm(ctx.add(ffn, cur), l.layer_out_norm, l.layer_out_norm_b);
        }
        inp.set_name("result_embd") // F32 [n_embd, n_tokens]
    }
}
