//! Shared graph-building blocks (inputs, norms, attention over the KV cache, feed-forward) used by
//! every architecture, mirroring llama.cpp's `llm_graph_context`.

use super::hparams::{HParams, RopeScaling};
use super::weights::{DecoderIo, Weight, WeightStore};
use crate::ggml::{types, Context, Graph, RopeParams, Tensor};
use crate::kv_cache::KvCache;

/// Input tensors of one micro-batch graph, filled before each compute: [`Tensor`]s while the
/// graph is built and filled, the [`TensorId`](crate::ggml::TensorId)s of its arena while it
/// is cached.
#[derive(Debug, Clone, Copy)]
pub struct GraphInputs<T> {
    pub tokens: T,          // I32 [n_tokens]
    pub pos: T,             // I32 [n_tokens]
    pub out_ids: Option<T>, // I32 [n_outputs]; None when every token is an output
    pub kq_mask: T,         // F16 [n_kv, n_tokens]
    /// The causal mask that also hides cells `n_swa` or more positions back, for sliding-window
    /// layers; None when the model has none. Over the sliding-window cache when there is one.
    pub kq_mask_swa: Option<T>, // F16 [n_kv (n_kv_swa), n_tokens]
    pub k_idxs: T,          // I64 [n_tokens]
    pub v_idxs: T,          // I64 [n_tokens] (or per element when V is transposed)
    /// Cells of the tokens in the sliding-window cache (K, V), when it is separate.
    pub swa_idxs: Option<(T, T)>,
}

impl<T: Copy> GraphInputs<T> {
    /// The same inputs through `f` (tensor to id to cache a graph, id to tensor to fill it).
    pub fn map<U>(&self, f: impl Fn(T) -> U) -> GraphInputs<U> {
        GraphInputs {
            tokens: f(self.tokens),
            pos: f(self.pos),
            out_ids: self.out_ids.map(&f),
            kq_mask: f(self.kq_mask),
            kq_mask_swa: self.kq_mask_swa.map(&f),
            k_idxs: f(self.k_idxs),
            v_idxs: f(self.v_idxs),
            swa_idxs: self.swa_idxs.map(|(k, v)| (f(k), f(v))),
        }
    }
}

/// The shape a graph was built for; a graph is reused while this stays the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphShape {
    pub n_tokens: usize,
    pub n_outputs: usize,
    pub n_kv: usize,
    /// Cells attention looks at in the sliding-window cache (0 when there is none).
    pub n_kv_swa: usize,
}

/// Everything an architecture needs to build its forward graph for one micro-batch.
#[derive(Debug)]
pub struct GraphBuild<'a> {
    pub ctx: &'a Context,
    pub graph: Graph<'a>,
    pub hp: &'a HParams,
    /// The model's weights, which [`GraphBuild::w`] resolves.
    pub weights: &'a WeightStore,
    pub kv: &'a KvCache,
    /// The sliding-window layers' own cache (llama.cpp's iSWA); None keeps every layer in `kv`.
    pub kv_swa: Option<&'a KvCache>,
    pub inp: GraphInputs<Tensor<'a>>,
    pub shape: GraphShape,
    pub flash_attn: bool,
    pub rope: RopeParams,
}

impl<'a> GraphBuild<'a> {
    /// Creates the input tensors for `shape` in `ctx`.
    pub fn inputs(
        ctx: &'a Context,
        hp: &HParams,
        kv: &KvCache,
        kv_swa: Option<&KvCache>,
        shape: GraphShape,
    ) -> GraphInputs<Tensor<'a>> {
        let nt = shape.n_tokens as i64;
        let n_kv_swa = if kv_swa.is_some() {
            shape.n_kv_swa
        } else {
            shape.n_kv
        };
        let kq_mask_swa = hp
            .has_swa()
            .then(|| ctx.new_input(types::F16, &[n_kv_swa as i64, nt], "kq_mask_swa"));
        let swa_idxs = kv_swa.map(|c| {
            let v_len = c.v_idxs_len(shape.n_tokens) as i64;
            (
                ctx.new_input(types::I64, &[nt], "k_idxs_swa"),
                ctx.new_input(types::I64, &[v_len], "v_idxs_swa"),
            )
        });
        let out_ids = (shape.n_outputs < shape.n_tokens)
            .then(|| ctx.new_input(types::I32, &[shape.n_outputs as i64], "inp_out_ids"));
        GraphInputs {
            tokens: ctx.new_input(types::I32, &[nt], "inp_tokens"),
            pos: ctx.new_input(types::I32, &[nt], "inp_pos"),
            out_ids,
            kq_mask: ctx.new_input(types::F16, &[shape.n_kv as i64, nt], "kq_mask"),
            kq_mask_swa,
            k_idxs: ctx.new_input(types::I64, &[nt], "k_idxs"),
            v_idxs: ctx.new_input(
                types::I64,
                &[kv.v_idxs_len(shape.n_tokens) as i64],
                "v_idxs",
            ),
            swa_idxs,
        }
    }

    /// RoPE settings from the hyper-parameters (llama.cpp's defaults for the YaRN knobs).
    pub fn rope_params(hp: &HParams, rope_type: i32) -> RopeParams {
        RopeParams {
            n_dims: hp.n_rot as i32,
            mode: rope_type,
            n_ctx_orig: hp.n_ctx_orig_yarn as i32,
            freq_base: hp.rope_freq_base,
            freq_scale: hp.rope_freq_scale,
            ext_factor: if hp.rope_scaling == RopeScaling::Yarn {
                1.0
            } else {
                0.0
            },
            attn_factor: hp.rope_attn_factor,
            beta_fast: 32.0,
            beta_slow: 1.0,
        }
    }

    /// The tensor of weight `w` (ids are resolved while building, never per decode).
    pub fn w(&self, w: Weight) -> Tensor<'a> {
        self.weights.get(w)
    }

    /// Token embeddings: F32 [n_embd, n_tokens].
    pub fn embeddings(&self, tok_embd: Weight) -> Tensor<'a> {
        self.ctx
            .get_rows(self.w(tok_embd), self.inp.tokens)
            .set_name("inp_embd")
    }

    /// The final RMS norm and the projection to logits: F32 [n_vocab, n_outputs].
    pub fn output_head(&self, io: &DecoderIo, x: Tensor<'a>) -> Tensor<'a> {
        let cur = self.rms_norm(x, io.output_norm);
        self.ctx
            .mul_mat(self.w(io.output), cur)
            .set_name("result_output")
    }

    /// RMS norm followed by the learned scale.
    pub fn rms_norm(&self, x: Tensor<'a>, weight: Weight) -> Tensor<'a> {
        self.ctx
            .mul(self.ctx.rms_norm(x, self.hp.rms_eps), self.w(weight))
    }

    /// `W·x (+ b)`.
    pub fn linear(&self, w: Weight, b: Option<Weight>, x: Tensor<'a>) -> Tensor<'a> {
        let y = self.ctx.mul_mat(self.w(w), x);
        b.map_or(y, |b| self.ctx.add(y, self.w(b)))
    }

    /// Rotary position embedding of `x` ([head_dim, n_heads, n_tokens]).
    pub fn rope(&self, x: Tensor<'a>, factors: Option<Weight>) -> Tensor<'a> {
        let factors = factors.map(|f| self.w(f));
        self.ctx.rope_ext(x, self.inp.pos, factors, &self.rope)
    }

    /// RoPE of layer `il`: sliding-window layers use their own base and scale.
    pub fn rope_layer(&self, il: usize, x: Tensor<'a>, factors: Option<Weight>) -> Tensor<'a> {
        let (freq_base, freq_scale) = self.hp.rope_freq_layer(il);
        let params = RopeParams {
            freq_base,
            freq_scale,
            ..self.rope
        };
        let factors = factors.map(|f| self.w(f));
        self.ctx.rope_ext(x, self.inp.pos, factors, &params)
    }

    /// Keeps only the output rows (last layer): `x` is [n, n_tokens] → [n, n_outputs].
    pub fn select_outputs(&self, x: Tensor<'a>) -> Tensor<'a> {
        self.inp.out_ids.map_or(x, |ids| self.ctx.get_rows(x, ids))
    }

    /// SwiGLU feed-forward: `down(silu(gate(x)) * up(x))`.
    pub fn ffn_swiglu(&self, x: Tensor<'a>, up: Weight, gate: Weight, down: Weight) -> Tensor<'a> {
        let u = self.ctx.mul_mat(self.w(up), x);
        let g = self.ctx.mul_mat(self.w(gate), x);
        self.ctx.mul_mat(self.w(down), self.ctx.swiglu_split(g, u))
    }

    /// GELU-gated feed-forward: `down(gelu(gate(x)) * up(x))`.
    pub fn ffn_geglu(&self, x: Tensor<'a>, up: Weight, gate: Weight, down: Weight) -> Tensor<'a> {
        let u = self.ctx.mul_mat(self.w(up), x);
        let g = self.ctx.mul_mat(self.w(gate), x);
        self.ctx.mul_mat(self.w(down), self.ctx.geglu_split(g, u))
    }

    /// The attention mask of layer `il`: the sliding-window one for SWA layers.
    pub fn kq_mask(&self, il: usize) -> Tensor<'a> {
        match self.inp.kq_mask_swa {
            Some(m) if self.hp.is_swa(il) => m,
            _ => self.inp.kq_mask,
        }
    }

    /// The cache layer `il` lives in, its K and V cell inputs and how many cells it attends to.
    fn layer_cache(&self, il: usize) -> (&'a KvCache, Tensor<'a>, Tensor<'a>, i64) {
        match (self.kv_swa, self.inp.swa_idxs) {
            (Some(swa), Some((k_idxs, v_idxs))) if swa.has_layer(il) => {
                (swa, k_idxs, v_idxs, self.shape.n_kv_swa as i64)
            }
            _ => (
                self.kv,
                self.inp.k_idxs,
                self.inp.v_idxs,
                self.shape.n_kv as i64,
            ),
        }
    }

    /// Self-attention of layer `il` over the KV cache, then the output projection.
    /// `q`: [head_dim, n_head, n_tokens]; `k`, `v`: [head_dim, n_head_kv, n_tokens].
    pub fn attention(
        &self,
        il: usize,
        q: Tensor<'a>,
        k: Tensor<'a>,
        v: Tensor<'a>,
        wo: Weight,
        kq_scale: f32,
    ) -> Tensor<'a> {
        let ctx = self.ctx;
        let (kv, k_idxs, v_idxs, n_kv) = self.layer_cache(il);
        // A quantized cache stores K (and Q's products with it) / V rotated, as llama.cpp does.
        let (q, k) = match kv.k_rot(il) {
            Some(rot) => (ctx.mul_mat_hadamard(rot, q), ctx.mul_mat_hadamard(rot, k)),
            None => (q, k),
        };
        let v_rot = kv.v_rot(il);
        let v = v_rot.map_or(v, |rot| ctx.mul_mat_hadamard(rot, v));
        // Keep Q, K, V adjacent in the graph so the scheduler does not split between them.
        self.graph.expand(q);
        self.graph.expand(k);
        self.graph.expand(v);
        self.graph.expand(kv.store_k(ctx, il, k, k_idxs));
        self.graph.expand(kv.store_v(ctx, il, v, v_idxs));

        let kq_mask = self.kq_mask(il);
        let q = ctx.permute(q, [0, 2, 1, 3]); // [head_dim, n_tokens, n_head]
        let k = ctx.permute(kv.k_view(ctx, il, n_kv), [0, 2, 1, 3]); // [head_dim, n_kv, n_head_kv]
        let v = ctx.permute(kv.v_view(ctx, il, n_kv), [0, 2, 1, 3]);
        let cur = if self.flash_attn {
            // As llama.cpp: the kernel takes F16/BF16/quantized K and V, so an F32 cache
            // (`-ctk f32`) is read through an F16 copy.
            let (k, v) = (f16_if_f32(ctx, k), f16_if_f32(ctx, v));
            let out = ctx.flash_attn_ext(q, k, v, kq_mask, kq_scale); // [hd, n_head, n_tokens]
            let ne = out.ne();
            ctx.reshape(out, &[ne[0] * ne[1], ne[2] * ne[3]])
        } else {
            let kq = ctx.mul_mat_f32(k, q); // [n_kv, n_tokens, n_head]
            let kq = ctx.soft_max_ext(kq, kq_mask, kq_scale);
            let kqv = ctx.mul_mat(v, kq); // [hd, n_tokens, n_head]
            let cur = ctx.cont(ctx.permute(kqv, [0, 2, 1, 3]));
            let ne = cur.ne();
            ctx.reshape(cur, &[ne[0] * ne[1], ne[2] * ne[3]])
        };
        // The output rotated back (the rotation is its own inverse).
        let cur = v_rot.map_or(cur, |rot| ctx.mul_mat_hadamard(rot, cur));
        ctx.mul_mat(self.w(wo), cur)
    }
}

/// `t` cast to F16 when it is F32 (llama.cpp's `build_attn_mha` before flash attention).
fn f16_if_f32<'a>(ctx: &'a Context, t: Tensor<'a>) -> Tensor<'a> {
    if t.ty() == types::F32 {
        ctx.cast(t, types::F16)
    } else {
        t
    }
}
