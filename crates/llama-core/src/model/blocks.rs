//! Graph blocks shared by the qwen3, qwen3moe and phi3 families: fused QKV projections, fused
//! gate/up SwiGLU and the mixture-of-experts feed-forward, mirroring llama.cpp's `build_qkv`,
//! `build_ffn` (`LLM_FFN_SWIGLU`) and `build_moe_ffn` (softmax gating).

use super::graph::GraphBuild;
use super::weights::Weight;
use crate::ggml::{row_size, Tensor};

/// Expert weights of one MoE layer.
#[derive(Debug, Clone, Copy)]
pub struct MoeWeights {
    /// Router: F32/quantized `[n_embd, n_expert]`.
    pub gate_inp: Weight,
    /// `[n_embd, n_ff_exp, n_expert]`.
    pub up_exps: Weight,
    /// `[n_embd, n_ff_exp, n_expert]`.
    pub gate_exps: Weight,
    /// `[n_ff_exp, n_embd, n_expert]`.
    pub down_exps: Weight,
}

/// Smallest normal F16 value: llama.cpp clamps the sum of the selected weights to it before
/// dividing, so that a zero sum cannot divide by zero.
const MIN_WEIGHT_SUM: f32 = 6.103_515_6e-5;

impl<'a> GraphBuild<'a> {
    /// Splits a fused `attn_qkv` projection (`W·x (+ b)`, `[n_q + 2·n_kv, n_tokens]`) into
    /// Q `[head, n_head, n_tokens]`, K and V `[head, n_head_kv, n_tokens]` views.
    pub fn qkv_fused(&self, wqkv: Weight, bqkv: Option<Weight>, x: Tensor<'a>) -> [Tensor<'a>; 3] {
        let (ctx, hp) = (self.ctx, self.hp);
        let qkv = self.linear(wqkv, bqkv, x);
        let (head, nt) = (hp.n_embd_head_k as i64, self.shape.n_tokens as i64);
        let (n_q, n_k) = (hp.n_embd_head_k * hp.n_head, hp.n_embd_k_gqa());
        let ty = qkv.ty();
        let row = qkv.nb()[1];
        let view = |n_head: usize, head: i64, offset: usize| {
            let ne = [head, n_head as i64, nt];
            ctx.view(
                qkv,
                &ne,
                &[row_size(ty, head), row],
                row_size(ty, offset as i64),
            )
        };
        let q = view(hp.n_head, head, 0);
        let k = view(hp.n_head_kv, head, n_q);
        // V is stored as is (not through RoPE): a contiguous copy lets the KV cache reshape it.
        let v = ctx.cont(view(hp.n_head_kv, hp.n_embd_head_v as i64, n_q + n_k));
        [q, k, v]
    }

    /// SwiGLU with gate and up fused in one projection: `down(silu(g) * u)` where
    /// `[g; u] = up(x)` is `[2·n_ff, n_tokens]` (phi3's `ffn_up`).
    pub fn ffn_swiglu_fused(&self, x: Tensor<'a>, up: Weight, down: Weight) -> Tensor<'a> {
        let gu = self.ctx.mul_mat(self.w(up), x); // F32 [2·n_ff, n_tokens]
        self.ctx.mul_mat(self.w(down), self.ctx.swiglu(gu))
    }

    /// Mixture-of-experts SwiGLU feed-forward with softmax gating: each token goes through its
    /// `n_used` most probable experts, whose outputs are summed weighted by their router
    /// probabilities (renormalised over the chosen experts when `norm_w`).
    /// `x`: F32 `[n_embd, n_tokens]` → F32 `[n_embd, n_tokens]`.
    pub fn ffn_moe(
        &self,
        x: Tensor<'a>,
        w: &MoeWeights,
        n_used: usize,
        norm_w: bool,
    ) -> Tensor<'a> {
        let ctx = self.ctx;
        let [n_embd, nt, ..] = x.ne();
        let gate_inp = self.w(w.gate_inp);
        let n_expert = gate_inp.ne()[1];
        let probs = ctx.soft_max(ctx.mul_mat(gate_inp, x)); // [n_expert, n_tokens]
        let selected = ctx.argsort_top_k(probs, n_used); // I32 [n_used, n_tokens]
        let probs = ctx.reshape(probs, &[1, n_expert, nt]);
        let mut weights = ctx.get_rows(probs, selected.ids()); // [1, n_used, n_tokens]
        let n_used = n_used as i64;
        if norm_w {
            let w2 = ctx.reshape(weights, &[n_used, nt]);
            let sum = ctx.clamp(ctx.sum_rows(w2), MIN_WEIGHT_SUM, f32::INFINITY); // [1, n_tokens]
            weights = ctx.reshape(ctx.div(w2, sum), &[1, n_used, nt]);
        }
        // Like llama.cpp, compute the weights first so that the graph order matches.
        self.graph.expand(weights);

        let cur = ctx.reshape(x, &[n_embd, 1, nt]);
        let up = ctx.mul_mat_id(self.w(w.up_exps), cur, &selected); // [n_ff_exp, n_used, n_tokens]
        let gate = ctx.mul_mat_id(self.w(w.gate_exps), cur, &selected);
        let act = ctx.swiglu_split(gate, up);
        let experts = ctx.mul_mat_id(self.w(w.down_exps), act, &selected); // [n_embd, n_used, n_tokens]
        let experts = ctx.mul(experts, weights);
        self.graph.expand(experts);

        // Sum the experts' rows; the views are ordered before the adds, as in llama.cpp.
        let nb = experts.nb();
        let views: Vec<Tensor<'a>> = (0..n_used as usize)
            .map(|i| {
                let v = ctx.view(experts, &[n_embd, nt], &[nb[2]], i * nb[1]);
                self.graph.expand(v);
                v
            })
            .collect();
        let mut out = views[0];
        for &v in &views[1..] {
            out = ctx.add(out, v);
            self.graph.expand(out);
        }
        if n_used == 1 {
            out = ctx.cont(out); // a lone view is not contiguous
        }
        out
    }
}
