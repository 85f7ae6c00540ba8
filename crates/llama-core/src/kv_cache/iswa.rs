//! llama.cpp's iSWA memory (`llama_kv_cache_iswa`): a model with sliding-window layers keeps
//! them in a second, smaller cache — the window of every sequence plus one micro-batch — whose
//! cells are reused once they slid out of the window; the other layers keep the full cache.

use super::{swa_cache_size, KvCache, KvShape};
use crate::context::ContextParams;
use crate::error::{Error, Result};
use crate::ggml::Backend;
use crate::model::Model;
use std::sync::Arc;

/// How to size the sliding-window half of an iSWA pair.
#[derive(Debug, Clone, Copy)]
pub struct SwaSizing {
    /// Cells of the full cache (`n_ctx`).
    pub n_ctx: usize,
    /// The model's window (`n_swa`).
    pub n_swa: usize,
    /// Sequences that may hold a window at the same time (llama.cpp's `n_seq_max`).
    pub n_seq_max: usize,
    pub n_ubatch: usize,
}

impl SwaSizing {
    /// Cells of the sliding-window cache.
    pub fn size(&self) -> usize {
        swa_cache_size(self.n_ctx, self.n_swa, self.n_seq_max, self.n_ubatch)
    }
}

impl KvCache {
    /// The KV cache of `model`: one cache, or llama.cpp's iSWA pair (a full cache for the global
    /// layers and a window-sized one for the sliding-window layers) unless `swa_full` is set.
    pub(crate) fn for_model(
        model: &Model,
        params: &ContextParams,
    ) -> Result<(KvCache, Option<KvCache>)> {
        let (hp, backends) = (&model.hparams, &model.backends);
        let shape = KvShape {
            n_layer: hp.n_layer,
            n_head_kv: hp.n_head_kv as i64,
            head_dim_k: hp.n_embd_head_k as i64,
            head_dim_v: hp.n_embd_head_v as i64,
            types: params.kv_types(),
        };
        let layer_backend = &model.layer_map.layer_backend;
        if !hp.has_swa() || params.swa_full {
            let kv = KvCache::new(
                shape,
                params.n_ctx,
                backends,
                layer_backend,
                params.flash_attn,
            )?;
            return Ok((kv, None));
        }
        let sizing = SwaSizing {
            n_ctx: params.n_ctx,
            n_swa: hp.n_swa,
            n_seq_max: params.n_seq_max,
            n_ubatch: params.n_ubatch,
        };
        let swa_layers: Vec<bool> = (0..hp.n_layer).map(|il| hp.is_swa(il)).collect();
        let (kv, swa) = KvCache::new_iswa(
            shape,
            sizing,
            &swa_layers,
            backends,
            layer_backend,
            params.flash_attn,
        )?;
        Ok((kv, Some(swa)))
    }

    /// The pair `(full, swa)`: layers with `swa_layers[il]` go to a cache of
    /// [`SwaSizing::size`] cells managed with the window, the others to a full cache.
    pub fn new_iswa(
        shape: KvShape,
        sizing: SwaSizing,
        swa_layers: &[bool],
        backends: &[Arc<Backend>],
        layer_backend: &[usize],
        flash_attn: bool,
    ) -> Result<(KvCache, KvCache)> {
        let global: Vec<bool> = (0..shape.n_layer)
            .map(|il| !swa_layers.get(il).copied().unwrap_or(false))
            .collect();
        let local: Vec<bool> = global.iter().map(|g| !g).collect();
        let (n_ctx, n_swa) = (sizing.n_ctx, sizing.n_swa);
        let full = Self::new_for_layers(
            shape,
            n_ctx,
            backends,
            layer_backend,
            flash_attn,
            &global,
            0,
        )?;
        let swa = Self::new_for_layers(
            shape,
            sizing.size(),
            backends,
            layer_backend,
            flash_attn,
            &local,
            n_swa,
        )?;
        Ok((full, swa))
    }

    /// Cells in this sliding-window cache for a micro-batch's tokens (of the sequences `seqs`,
    /// one bit per token, at `positions`), stored with
    /// [`Cells::assign_swa`](super::Cells::assign_swa): tile-aligned when there is room, as the
    /// full cache places them (`cells/tiled.rs`), so that until the window wraps the
    /// sliding-window layers see the same tiles as with a full-size cache; else reusing cells
    /// that slid out of the window.
    pub fn find_slot_swa(
        &mut self,
        seqs: &[u64],
        positions: &[i32],
        out: &mut Vec<u32>,
    ) -> Result<()> {
        if self.cells.find_free_tiled(seqs, positions, out) {
            return Ok(());
        }
        if self.cells.find_slot_swa(self.n_swa(), seqs, out) {
            return Ok(());
        }
        Err(Error::KvCacheFull {
            needed: seqs.len(),
            free: self.size() - self.cells.used(),
            size: self.size(),
        })
    }
}
