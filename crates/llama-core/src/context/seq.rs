//! Sequence operations over the context's caches (the full one and the sliding-window one, kept
//! in step): remove, share, query and clear a sequence's cells.

use super::Context;
use crate::error::Result;
use crate::kv_cache::{Cells, SeqId};

impl Context {
    /// Removes tokens of `seq` (every sequence when `None`) with positions in `[p0, p1)`.
    pub fn seq_rm(&mut self, seq: Option<SeqId>, p0: Option<i32>, p1: Option<i32>) -> Result<()> {
        self.all_cells().try_for_each(|c| c.seq_rm(seq, p0, p1))
    }

    /// The cells of the full cache and of the sliding-window cache, if any.
    pub(super) fn all_cells(&mut self) -> impl Iterator<Item = &mut Cells> {
        let swa = self.kv_swa.as_mut().map(|c| &mut c.cells);
        std::iter::once(&mut self.kv.cells).chain(swa)
    }

    /// Shares `src`'s cached tokens in `[p0, p1)` with `dst` (a prompt prefix, without recompute).
    pub fn seq_cp(
        &mut self,
        src: SeqId,
        dst: SeqId,
        p0: Option<i32>,
        p1: Option<i32>,
    ) -> Result<()> {
        self.all_cells()
            .try_for_each(|c| c.seq_cp(src, dst, p0, p1))
    }

    /// Last cached position of `seq`.
    pub fn seq_pos_max(&self, seq: SeqId) -> Option<i32> {
        self.kv.cells.seq_pos_max(seq)
    }

    /// First cached position of `seq`: with a sliding-window cache, the oldest position it still
    /// holds (llama.cpp's `seq_pos_min` of the iSWA cache).
    pub fn seq_pos_min(&self, seq: SeqId) -> Option<i32> {
        let cache = self.kv_swa.as_ref().unwrap_or(&self.kv);
        cache.cells.seq_pos_min(seq)
    }

    /// Cached tokens of `seq`.
    pub fn seq_len(&self, seq: SeqId) -> usize {
        self.kv.cells.seq_len(seq)
    }

    /// Empties the cache.
    pub fn clear(&mut self) {
        self.all_cells().for_each(Cells::clear);
    }
}
