//! Graph-building blocks of encoder-only (BERT-family) models: inputs without a KV cache,
//! LayerNorm, fused-QKV splitting and attention over the micro-batch itself, mirroring
//! llama.cpp's `build_attn_inp_no_cache` / `build_attn_mha` path.

use super::hparams::HParams;
use super::weights::{Weight, WeightStore};
use crate::ggml::{types, Context, Graph, RopeParams, Tensor};

/// Input tensors of one encoder graph, filled before each compute (tensors, or their ids while
/// the graph is cached, as [`super::GraphInputs`]).
#[derive(Debug, Clone, Copy)]
pub struct EncoderInputs<T> {
    pub tokens: T,  // I32 [n_tokens]
    pub pos: T,     // I32 [n_tokens]
    pub kq_mask: T, // F16 [n_tokens, n_tokens]: 0 within a sequence, -inf across
}

impl<T: Copy> EncoderInputs<T> {
    /// The same inputs through `f`.
    pub fn map<U>(&self, f: impl Fn(T) -> U) -> EncoderInputs<U> {
        EncoderInputs {
            tokens: f(self.tokens),
            pos: f(self.pos),
            kq_mask: f(self.kq_mask),
        }
    }
}

impl<'a> EncoderInputs<Tensor<'a>> {
    /// Creates the inputs for `n_tokens` tokens in `ctx`.
    pub fn new(ctx: &'a Context, n_tokens: usize) -> Self {
        let nt = n_tokens as i64;
        EncoderInputs {
            tokens: ctx.new_input(types::I32, &[nt], "inp_tokens"),
            pos: ctx.new_input(types::I32, &[nt], "inp_pos"),
            kq_mask: ctx.new_input(types::F16, &[nt, nt], "kq_mask"),
        }
    }
}

/// Everything an encoder architecture needs to build its graph for one batch.
#[derive(Debug)]
pub struct EncoderBuild<'a> {
    pub ctx: &'a Context,
    pub graph: Graph<'a>,
    pub hp: &'a HParams,
    /// The model's weights, which [`EncoderBuild::w`] resolves.
    pub weights: &'a WeightStore,
    pub inp: EncoderInputs<Tensor<'a>>,
    pub n_tokens: usize,
    pub rope: RopeParams,
}

impl<'a> EncoderBuild<'a> {
    /// The tensor of weight `w` (ids are resolved while building, never per batch).
    pub fn w(&self, w: Weight) -> Tensor<'a> {
        self.weights.get(w)
    }

    /// Token embeddings: F32 [n_embd, n_tokens].
    pub fn embeddings(&self, tok_embd: Weight) -> Tensor<'a> {
        self.ctx.get_rows(self.w(tok_embd), self.inp.tokens)
    }

    /// LayerNorm with learned scale and bias (`LLM_NORM`), epsilon `norm_eps`.
    pub fn layer_norm(&self, x: Tensor<'a>, weight: Weight, bias: Weight) -> Tensor<'a> {
        let ctx = self.ctx;
        let normed = ctx.norm(x, self.hp.norm_eps);
        ctx.add(ctx.mul(normed, self.w(weight)), self.w(bias))
    }

    /// Splits a fused projection F32 [n_embd + 2·n_embd_gqa, n_tokens] into Q
    /// [head, n_head, n_tokens] and K, V [head, n_head_kv, n_tokens] views (no copies).
    pub fn split_qkv(&self, qkv: Tensor<'a>) -> (Tensor<'a>, Tensor<'a>, Tensor<'a>) {
        let hp = self.hp;
        let (head, nt) = (hp.n_embd_head_k as i64, self.n_tokens as i64);
        let f32_size = std::mem::size_of::<f32>();
        let row = qkv.nb()[1];
        let view = |n_heads: usize, offset_elems: usize| {
            self.ctx.view(
                qkv,
                &[head, n_heads as i64, nt],
                &[head as usize * f32_size, row],
                offset_elems * f32_size,
            )
        };
        let q = view(hp.n_head, 0);
        let k = view(hp.n_head_kv, hp.n_embd);
        let v = view(hp.n_head_kv, hp.n_embd + hp.n_embd_k_gqa());
        (q, k, v)
    }

    /// Rotary position embedding of `x` ([head_dim, n_heads, n_tokens]).
    pub fn rope(&self, x: Tensor<'a>) -> Tensor<'a> {
        self.ctx.rope_ext(x, self.inp.pos, None, &self.rope)
    }

    /// Attention of every token over the tokens its mask admits, then the output projection:
    /// F32 [n_embd, n_tokens]. `q`: [head, n_head, n_tokens]; `k`, `v`: [head, n_head_kv, n_tokens].
    pub fn attention(
        &self,
        q: Tensor<'a>,
        k: Tensor<'a>,
        v: Tensor<'a>,
        wo: Weight,
        scale: f32,
    ) -> Tensor<'a> {
        let ctx = self.ctx;
        let q = ctx.permute(q, [0, 2, 1, 3]); // [head, n_tokens, n_head]
        let k = ctx.permute(k, [0, 2, 1, 3]); // [head, n_tokens, n_head_kv]
        let kq = ctx.mul_mat_f32(k, q); // [n_tokens(k), n_tokens(q), n_head]
        let kq = ctx.soft_max_ext(kq, self.inp.kq_mask, scale);
        // V transposed so that rows run over tokens: [n_tokens, head, n_head_kv].
        let vt = ctx.cont(ctx.permute(v, [1, 2, 0, 3]));
        let kqv = ctx.mul_mat(vt, kq); // [head, n_tokens, n_head]
        let cur = ctx.cont(ctx.permute(kqv, [0, 2, 1, 3])); // [head, n_head, n_tokens]
        let ne = cur.ne();
        let cur = ctx.reshape(cur, &[ne[0] * ne[1], ne[2]]);
        ctx.mul_mat(self.w(wo), cur)
    }

    /// SwiGLU feed-forward: `down(silu(gate(x)) * up(x))`.
    pub fn ffn_swiglu(&self, x: Tensor<'a>, up: Weight, gate: Weight, down: Weight) -> Tensor<'a> {
        let ctx = self.ctx;
        let u = ctx.mul_mat(self.w(up), x);
        let g = ctx.mul_mat(self.w(gate), x);
        ctx.mul_mat(self.w(down), ctx.swiglu_split(g, u))
    }
}
