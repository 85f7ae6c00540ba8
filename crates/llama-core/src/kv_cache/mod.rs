//! The KV cache: per-layer key/value tensors on their layer's backend, plus cell bookkeeping.

mod cells;
mod iswa;
mod memory;
mod rotation;
mod state;
mod swa;
mod types;

pub(crate) use cells::seq_bit;
pub use cells::{Cells, SeqId, MAX_SEQ};
pub use iswa::SwaSizing;
pub use rotation::hadamard;
pub use state::{StateReader, StreamLayout};
pub use swa::{is_masked_swa, swa_cache_size};
pub use types::{KvCacheType, KvTypes};

use crate::error::Result;
use crate::ggml::{self, Backend, Context, RawType, Tensor, TensorArena, TensorId};
use std::sync::Arc;

/// Shape of the cache for one model, and the element types of K and V (`-ctk`/`-ctv`).
#[derive(Debug, Clone, Copy)]
pub struct KvShape {
    pub n_layer: usize,
    pub n_head_kv: i64,
    pub head_dim_k: i64,
    pub head_dim_v: i64,
    pub types: KvTypes,
}

#[derive(Debug)]
struct KvLayer {
    k: TensorId, // type_k [head_dim_k * n_head_kv, size]
    v: TensorId, // type_v [head_dim_v * n_head_kv, size], or transposed [size, ...] without flash attention
    /// F32 [n, n] Walsh-Hadamard rotations (one per backend) when K / V are quantized.
    k_rot: Option<TensorId>,
    v_rot: Option<TensorId>,
}

/// Keys and values of every cached token, for every layer.
#[derive(Debug)]
pub struct KvCache {
    pub(crate) cells: Cells,
    /// Per model layer; `None` for layers kept in another cache (the other half of an iSWA pair).
    layers: Vec<Option<KvLayer>>,
    /// The sliding window this cache's cells are managed with (llama.cpp's `n_swa` of a
    /// `llama_kv_cache`); 0 for a cache whose cells live until removed.
    n_swa: usize,
    shape: KvShape,
    /// Without flash attention V is stored transposed (one row per embedding element), as llama.cpp does.
    v_trans: bool,
    /// The K and V tensors `layers` keeps ids of: one context and buffer per backend.
    arena: TensorArena,
}

impl KvCache {
    /// Allocates a cache of `size` cells; layer `il` lives on `backends[layer_backend[il]]`.
    pub fn new(
        shape: KvShape,
        size: usize,
        backends: &[Arc<Backend>],
        layer_backend: &[usize],
        flash_attn: bool,
    ) -> Result<Self> {
        let every = vec![true; shape.n_layer];
        Self::new_for_layers(shape, size, backends, layer_backend, flash_attn, &every, 0)
    }

    /// [`KvCache::new`] holding only the layers with `keep[il]`, its cells managed with the
    /// sliding window `n_swa` (0 = none).
    pub fn new_for_layers(
        shape: KvShape,
        size: usize,
        backends: &[Arc<Backend>],
        layer_backend: &[usize],
        flash_attn: bool,
        keep: &[bool],
        n_swa: usize,
    ) -> Result<Self> {
        let (ty_k, ty_v) = (shape.types.k.raw(), shape.types.v.raw());
        let (hk, hv) = (shape.head_dim_k as usize, shape.head_dim_v as usize);
        let (rot_k, rot_v) = rotation::rotation_sizes(shape.types, hk, hv);
        let (ek, ev) = (
            shape.head_dim_k * shape.n_head_kv,
            shape.head_dim_v * shape.n_head_kv,
        );
        let mut arena = TensorArena::new();
        let mut layers: Vec<Option<KvLayer>> = (0..shape.n_layer).map(|_| None).collect();
        for (bi, backend) in backends.iter().enumerate() {
            let mine: Vec<usize> = (0..shape.n_layer)
                .filter(|&il| keep.get(il) == Some(&true) && layer_backend.get(il) == Some(&bi))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let ci = arena.add_context(2 * mine.len() + 2)?;
            let ctx = arena.context(ci);
            let rot = |n: Option<usize>, name: &str| {
                n.map(|n| {
                    let t = ctx.new_tensor(ggml::types::F32, &[n as i64, n as i64]);
                    (arena.keep(t.set_name(name)), n)
                })
            };
            let (k_rot, v_rot) = (rot(rot_k, "attn_k_rot"), rot(rot_v, "attn_v_rot"));
            for &il in &mine {
                let k = ctx
                    .new_tensor(ty_k, &[ek, size as i64])
                    .set_name(&format!("cache_k_l{il}"));
                let v = ctx
                    .new_tensor(ty_v, &[ev, size as i64])
                    .set_name(&format!("cache_v_l{il}"));
                let (k, v) = (arena.keep(k), arena.keep(v));
                layers[il] = Some(KvLayer {
                    k,
                    v,
                    k_rot: k_rot.map(|r| r.0),
                    v_rot: v_rot.map(|r| r.0),
                });
            }
            // Zeroed so that never-written cells are finite (masked cells are still read by some kernels).
            arena.alloc(ci, backend)?.clear(0);
            for (t, n) in k_rot.into_iter().chain(v_rot) {
                arena.get(t).write(&hadamard(n), 0)?;
            }
        }
        if let Some(il) =
            (0..shape.n_layer).find(|&il| keep.get(il) == Some(&true) && layers[il].is_none())
        {
            return Err(crate::Error::Model(format!("layer {il} has no backend")));
        }
        Ok(KvCache {
            cells: Cells::new(size),
            layers,
            n_swa,
            shape,
            v_trans: !flash_attn,
            arena,
        })
    }

    pub fn size(&self) -> usize {
        self.cells.size()
    }

    /// The element types of K and V.
    pub fn types(&self) -> KvTypes {
        self.shape.types
    }

    fn ty_k(&self) -> RawType {
        self.shape.types.k.raw()
    }

    fn ty_v(&self) -> RawType {
        self.shape.types.v.raw()
    }

    pub fn v_trans(&self) -> bool {
        self.v_trans
    }

    /// The sliding window its cells are managed with (0 = none).
    pub fn n_swa(&self) -> usize {
        self.n_swa
    }

    /// Whether layer `il` is stored here.
    pub fn has_layer(&self, il: usize) -> bool {
        self.layers.get(il).is_some_and(Option::is_some)
    }

    /// The tensors of layer `il`; graphs only ask a cache for the layers it holds.
    fn layer(&self, il: usize) -> &KvLayer {
        match self.layers.get(il) {
            Some(Some(l)) => l,
            _ => panic!("KV cache: layer {il} is not in this cache"),
        }
    }

    /// Total bytes of K and V storage.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .flatten()
            .map(|l| self.arena.get(l.k).nbytes() + self.arena.get(l.v).nbytes())
            .sum()
    }

    /// K of layer `il` over the first `n_kv` cells: `[head_dim, n_head_kv, n_kv]`.
    pub fn k_view<'a>(&'a self, ctx: &'a Context, il: usize, n_kv: i64) -> Tensor<'a> {
        let k = self.arena.get(self.layer(il).k);
        let (hd, ty) = (self.shape.head_dim_k, self.ty_k());
        let row = ggml::row_size(ty, hd * self.shape.n_head_kv);
        ctx.view(
            k,
            &[hd, self.shape.n_head_kv, n_kv],
            &[ggml::row_size(ty, hd), row],
            0,
        )
    }

    /// V of layer `il` over the first `n_kv` cells: `[head_dim, n_head_kv, n_kv]`, or
    /// `[n_kv, n_head_kv, head_dim]` when stored transposed.
    pub fn v_view<'a>(&'a self, ctx: &'a Context, il: usize, n_kv: i64) -> Tensor<'a> {
        let v = self.arena.get(self.layer(il).v);
        let (hd, nh, ty) = (self.shape.head_dim_v, self.shape.n_head_kv, self.ty_v());
        if !self.v_trans {
            let row = ggml::row_size(ty, hd * nh);
            return ctx.view(v, &[hd, nh, n_kv], &[ggml::row_size(ty, hd), row], 0);
        }
        let size = self.size() as i64;
        ctx.view(
            v,
            &[n_kv, nh, hd],
            &[ggml::row_size(ty, size * hd), ggml::row_size(ty, size)],
            0,
        )
    }

    /// Stores `k_cur` (`[head_dim, n_head_kv, n_tokens]`) into the cells listed in `idxs` (I64).
    pub fn store_k<'a>(
        &'a self,
        ctx: &'a Context,
        il: usize,
        k_cur: Tensor<'a>,
        idxs: Tensor<'a>,
    ) -> Tensor<'a> {
        let ne = k_cur.ne();
        let k_cur = ctx.view(k_cur, &[ne[0] * ne[1], ne[2]], &[k_cur.nb()[2]], 0);
        ctx.set_rows(self.arena.get(self.layer(il).k), k_cur, idxs)
    }

    /// Stores `v_cur` (`[head_dim, n_head_kv, n_tokens]`); `idxs` holds one index per token, or
    /// one per element when V is transposed (see [`KvCache::write_v_idxs`]).
    pub fn store_v<'a>(
        &'a self,
        ctx: &'a Context,
        il: usize,
        v_cur: Tensor<'a>,
        idxs: Tensor<'a>,
    ) -> Tensor<'a> {
        let ne = v_cur.ne();
        let v = self.arena.get(self.layer(il).v);
        if !self.v_trans {
            let v_cur = ctx.view(v_cur, &[ne[0] * ne[1], ne[2]], &[v_cur.nb()[2]], 0);
            return ctx.set_rows(v, v_cur, idxs);
        }
        // One row per element: V_cur comes straight from a matmul, so it is contiguous.
        let v_cur = ctx.reshape(v_cur, &[1, ne[0] * ne[1] * ne[2]]);
        let v_all = ctx.reshape(v, &[1, v.nelements()]);
        ctx.set_rows(v_all, v_cur, idxs)
    }

    /// Element count of the V index input for `n_tokens` tokens.
    pub fn v_idxs_len(&self, n_tokens: usize) -> usize {
        if self.v_trans {
            n_tokens * (self.shape.head_dim_v * self.shape.n_head_kv) as usize
        } else {
            n_tokens
        }
    }

    /// Fills the V index input for tokens stored in `cells`.
    pub fn write_v_idxs(&self, cells: &[u32], out: &mut Vec<i64>) {
        out.clear();
        if !self.v_trans {
            out.extend(cells.iter().map(|&c| i64::from(c)));
            return;
        }
        let (size, ev) = (
            self.size() as i64,
            self.shape.head_dim_v * self.shape.n_head_kv,
        );
        for &c in cells {
            out.extend((0..ev).map(|j| j * size + i64::from(c)));
        }
    }

    /// Writes the K and V cell-index inputs `idxs` of a micro-batch stored in `cells`, through
    /// the reusable host buffers `bufs`.
    pub(crate) fn write_idxs(
        &self,
        cells: &[u32],
        idxs: [Tensor<'_>; 2],
        bufs: [&mut Vec<i64>; 2],
    ) -> Result<()> {
        let [k_buf, v_buf] = bufs;
        k_buf.clear();
        k_buf.extend(cells.iter().map(|&c| i64::from(c)));
        idxs[0].write(k_buf, 0)?;
        self.write_v_idxs(cells, v_buf);
        idxs[1].write(v_buf, 0)
    }
}
