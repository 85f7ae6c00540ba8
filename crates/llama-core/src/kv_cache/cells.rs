//! KV-cache cell bookkeeping: which position and which sequences each cache cell holds.
//!
//! A cell may belong to several sequences at once (a shared prompt prefix copied to another
//! sequence), as in llama.cpp's unified cache. Sequence ids are `0..MAX_SEQ`.

use crate::error::{Error, Result};

mod tiled;

/// Sequence id of a token in a batch / of a slot in the server.
pub type SeqId = u32;

/// Maximum number of distinct sequences the cache tracks (one bit each).
pub const MAX_SEQ: SeqId = 64;

/// Per-cell position (`-1` = empty) and sequence membership bitmask.
#[derive(Debug, Clone)]
pub struct Cells {
    pos: Vec<i32>,
    seqs: Vec<u64>,
    used: usize,
    /// Where the next free-cell search starts (first-fit from the last allocation, like llama.cpp).
    head: usize,
    /// Scratch flags for `find_free_ordered`, all false between calls.
    taken: Vec<bool>,
}

pub(crate) fn seq_bit(seq: SeqId) -> Result<u64> {
    if seq < MAX_SEQ {
        Ok(1u64 << seq)
    } else {
        Err(Error::Batch(format!(
            "sequence id {seq} out of range (max {})",
            MAX_SEQ - 1
        )))
    }
}

impl Cells {
    pub fn new(size: usize) -> Self {
        Cells {
            pos: vec![-1; size],
            seqs: vec![0; size],
            used: 0,
            head: 0,
            taken: vec![false; size],
        }
    }

    pub fn size(&self) -> usize {
        self.pos.len()
    }

    /// Cells holding at least one sequence.
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn is_empty(&self, i: usize) -> bool {
        self.seqs[i] == 0
    }

    pub fn pos(&self, i: usize) -> i32 {
        self.pos[i]
    }

    pub fn seq_mask(&self, i: usize) -> u64 {
        self.seqs[i]
    }

    /// Finds `n` free cells (not necessarily contiguous) into `out`; false when the cache is full.
    pub fn find_free(&self, n: usize, out: &mut Vec<u32>) -> bool {
        out.clear();
        if n > self.size() - self.used {
            return false;
        }
        let size = self.size();
        for k in 0..size {
            let i = (self.head + k) % size;
            if self.seqs[i] == 0 {
                out.push(i as u32);
                if out.len() == n {
                    return true;
                }
            }
        }
        false
    }

    /// For each sequence id, the index after the last cell it holds (0: none).
    pub(super) fn next_after_last(&self) -> [usize; 64] {
        let mut next = [0usize; 64];
        for (i, &m) in self.seqs.iter().enumerate() {
            let mut bits = m;
            while bits != 0 {
                next[bits.trailing_zeros() as usize] = i + 1;
                bits &= bits - 1;
            }
        }
        next
    }

    /// Free cells for tokens of the sequences `seqs` (one seq bit per token, in batch order):
    /// each token gets the lowest free cell after every cell its sequence already holds, so a
    /// sequence's cells stay in position order. ggml accumulates attention in cell order, so a
    /// token placed into an earlier hole (left by another sequence) would change results
    /// compared with the same request running alone. Falls back to [`Cells::find_free`] when a
    /// sequence has no free cell after its last one.
    pub fn find_free_ordered(&mut self, seqs: &[u64], out: &mut Vec<u32>) -> bool {
        out.clear();
        if seqs.len() > self.size() - self.used {
            return false;
        }
        let ok = self.pick_per_token(seqs, out, |cells, from, _| {
            (from..cells.size()).find(|&i| cells.seqs[i] == 0 && !cells.taken[i])
        });
        ok || self.find_free(seqs.len(), out)
    }

    /// One free cell per token of this call, in order: `choose(cells, from, k)` picks token
    /// `k`'s cell given `from`, the cell after the last its sequence holds (cells picked for
    /// earlier tokens of this call included, and skipped as taken). False, with `out` holding
    /// the cells picked so far, when `choose` finds none. The scratch flags are reset before
    /// returning, so steady-state calls allocate nothing.
    pub(super) fn pick_per_token(
        &mut self,
        seqs: &[u64],
        out: &mut Vec<u32>,
        choose: impl Fn(&Self, usize, usize) -> Option<usize>,
    ) -> bool {
        let mut next = self.next_after_last();
        let mut ok = true;
        for (k, &bit) in seqs.iter().enumerate() {
            let s = bit.trailing_zeros().min(63) as usize;
            let Some(i) = choose(self, next[s], k) else {
                ok = false;
                break;
            };
            self.taken[i] = true;
            next[s] = i + 1;
            out.push(i as u32);
        }
        for &i in out.iter() {
            self.taken[i as usize] = false;
        }
        ok
    }

    /// Stores a token of `seq` at `pos` in the free cell `i`.
    pub fn assign(&mut self, i: usize, pos: i32, seq_bit: u64) {
        debug_assert!(self.seqs[i] == 0, "assigning a busy cell");
        self.pos[i] = pos;
        self.seqs[i] = seq_bit;
        self.used += 1;
        self.head = (i + 1) % self.size();
    }

    /// Removes `seq` from cells with positions in `[p0, p1)` (`None` = unbounded); `seq = None`
    /// removes every sequence.
    pub fn seq_rm(&mut self, seq: Option<SeqId>, p0: Option<i32>, p1: Option<i32>) -> Result<()> {
        let mask = match seq {
            Some(s) => seq_bit(s)?,
            None => u64::MAX,
        };
        self.rm_mask(mask, p0.unwrap_or(i32::MIN), p1.unwrap_or(i32::MAX));
        Ok(())
    }

    /// Removes the sequences in `mask` from cells with positions in `[lo, hi)`.
    pub(super) fn rm_mask(&mut self, mask: u64, lo: i32, hi: i32) {
        for i in 0..self.size() {
            if self.seqs[i] & mask != 0 && (lo..hi).contains(&self.pos[i]) {
                self.seqs[i] &= !mask;
                if self.seqs[i] == 0 {
                    self.pos[i] = -1;
                    self.used -= 1;
                    self.head = self.head.min(i);
                }
            }
        }
    }

    /// Empties cell `i` whatever it holds (a sliding-window cell being reused).
    pub(super) fn evict(&mut self, i: usize) {
        if self.seqs[i] != 0 {
            self.seqs[i] = 0;
            self.pos[i] = -1;
            self.used -= 1;
        }
    }

    /// Where the next free-cell search starts.
    pub(super) fn head(&self) -> usize {
        self.head
    }

    /// Makes the cells of `src` with positions in `[p0, p1)` also belong to `dst` (no data copy).
    pub fn seq_cp(
        &mut self,
        src: SeqId,
        dst: SeqId,
        p0: Option<i32>,
        p1: Option<i32>,
    ) -> Result<()> {
        let (s, d) = (seq_bit(src)?, seq_bit(dst)?);
        let (lo, hi) = (p0.unwrap_or(i32::MIN), p1.unwrap_or(i32::MAX));
        for i in 0..self.size() {
            if self.seqs[i] & s != 0 && (lo..hi).contains(&self.pos[i]) {
                self.seqs[i] |= d;
            }
        }
        Ok(())
    }

    /// Largest position held by `seq`, if any.
    pub fn seq_pos_max(&self, seq: SeqId) -> Option<i32> {
        let bit = seq_bit(seq).ok()?;
        (0..self.size())
            .filter(|&i| self.seqs[i] & bit != 0)
            .map(|i| self.pos[i])
            .max()
    }

    /// Smallest position held by `seq`, if any.
    pub fn seq_pos_min(&self, seq: SeqId) -> Option<i32> {
        let bit = seq_bit(seq).ok()?;
        (0..self.size())
            .filter(|&i| self.seqs[i] & bit != 0)
            .map(|i| self.pos[i])
            .min()
    }

    /// Number of cells holding `seq`.
    pub fn seq_len(&self, seq: SeqId) -> usize {
        seq_bit(seq).map_or(0, |bit| self.seqs.iter().filter(|&&m| m & bit != 0).count())
    }

    /// One past the last used cell, rounded up to `pad` and capped at the size: how many cells
    /// attention must look at.
    pub fn n_active(&self, pad: usize) -> usize {
        let last = self.seqs.iter().rposition(|&m| m != 0).map_or(0, |i| i + 1);
        let padded = last.div_ceil(pad.max(1)) * pad.max(1);
        padded.clamp(pad.min(self.size()), self.size())
    }

    pub fn clear(&mut self) {
        self.pos.fill(-1);
        self.seqs.fill(0);
        self.used = 0;
        self.head = 0;
    }

    /// Writes the F16 attention mask `[n_kv, n_tokens]` (row per token): 0 where token `t` (of
    /// sequence `seqs[t]` at `positions[t]`) may attend to the cell, -inf elsewhere (causal,
    /// same sequence only).
    pub fn write_mask(&self, n_kv: usize, positions: &[i32], seqs: &[u64], out: &mut [u16]) {
        self.fill_mask(n_kv, None, positions, seqs, out);
    }

    /// [`Cells::write_mask`] for sliding-window layers: additionally hides cells `n_swa` or more
    /// positions before the token (llama.cpp's `is_masked_swa`, `LLAMA_SWA_TYPE_STANDARD`).
    pub fn write_mask_swa(
        &self,
        n_kv: usize,
        n_swa: usize,
        positions: &[i32],
        seqs: &[u64],
        out: &mut [u16],
    ) {
        self.fill_mask(n_kv, Some(n_swa), positions, seqs, out);
    }

    fn fill_mask(
        &self,
        n_kv: usize,
        n_swa: Option<usize>,
        positions: &[i32],
        seqs: &[u64],
        out: &mut [u16],
    ) {
        const ZERO: u16 = 0x0000;
        const NEG_INF: u16 = 0xFC00;
        let window = n_swa.map_or(i64::MAX, |w| w as i64);
        for (t, (&p, &bit)) in positions.iter().zip(seqs).enumerate() {
            let row = &mut out[t * n_kv..(t + 1) * n_kv];
            for (j, m) in row.iter_mut().enumerate() {
                let p0 = self.pos[j];
                let visible =
                    self.seqs[j] & bit != 0 && p0 <= p && i64::from(p) - i64::from(p0) < window;
                *m = if visible { ZERO } else { NEG_INF };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_free_reports_full_cache_instead_of_overrunning() {
        let mut c = Cells::new(4);
        let mut out = Vec::new();
        assert!(c.find_free(4, &mut out));
        for (k, &i) in out.clone().iter().enumerate() {
            c.assign(i as usize, k as i32, 1);
        }
        assert!(!c.find_free(1, &mut out));
        assert_eq!(c.used(), 4);
    }

    #[test]
    fn seq_rm_frees_cells_only_when_no_sequence_remains() {
        let mut c = Cells::new(8);
        for i in 0..4 {
            c.assign(i, i as i32, 0b01);
        }
        c.seq_cp(0, 1, None, Some(2)).unwrap();
        c.seq_rm(Some(0), None, None).unwrap();
        assert_eq!(c.used(), 2, "the prefix shared with seq 1 stays");
        assert_eq!(c.seq_pos_max(1), Some(1));
        assert_eq!(c.seq_pos_max(0), None);
        c.seq_rm(Some(1), Some(1), None).unwrap();
        assert_eq!(c.seq_len(1), 1);
    }

    #[test]
    fn mask_is_causal_and_separates_sequences() {
        let mut c = Cells::new(4);
        c.assign(0, 0, 0b01);
        c.assign(1, 1, 0b01);
        c.assign(2, 0, 0b10);
        let mut m = vec![0u16; 2 * 4];
        c.write_mask(4, &[0, 1], &[0b01, 0b01], &mut m);
        assert_eq!(&m[..4], &[0, 0xFC00, 0xFC00, 0xFC00]);
        assert_eq!(&m[4..], &[0, 0, 0xFC00, 0xFC00]);
        c.write_mask(4, &[5], &[0b10], &mut m[..4]);
        assert_eq!(&m[..4], &[0xFC00, 0xFC00, 0, 0xFC00]);
    }

    #[test]
    fn swa_mask_hides_cells_outside_the_window() {
        let mut c = Cells::new(6);
        for i in 0..5 {
            c.assign(i, i as i32, 0b01);
        }
        let mut m = vec![0u16; 6];
        // Token at position 4 with a window of 3 sees positions 2, 3 and 4 only.
        c.write_mask_swa(6, 3, &[4], &[0b01], &mut m);
        assert_eq!(m, [0xFC00, 0xFC00, 0, 0, 0, 0xFC00]);
        c.write_mask(6, &[4], &[0b01], &mut m);
        assert_eq!(m, [0, 0, 0, 0, 0, 0xFC00]);
    }

    #[test]
    fn n_active_pads_to_the_last_used_cell() {
        let mut c = Cells::new(100);
        assert_eq!(c.n_active(32), 32);
        c.assign(40, 0, 1);
        assert_eq!(c.n_active(32), 64);
        c.assign(99, 1, 1);
        assert_eq!(c.n_active(32), 100);
    }

    #[test]
    fn out_of_range_sequence_ids_are_errors() {
        let mut c = Cells::new(4);
        assert!(c.seq_rm(Some(MAX_SEQ), None, None).is_err());
        assert!(c.seq_cp(0, 99, None, None).is_err());
    }

    #[test]
    fn ordered_placement_never_fills_a_hole_before_the_sequences_own_cells() {
        let mut c = Cells::new(8);
        for i in 0..4 {
            c.assign(i, i as i32, if i % 2 == 0 { 1 } else { 2 });
        }
        c.seq_rm(Some(1), None, None).unwrap(); // frees cells 1 and 3
        let mut out = Vec::new();
        assert!(c.find_free_ordered(&[1, 1, 2], &mut out));
        assert_eq!(
            out,
            vec![3, 4, 1],
            "seq 0 continues after cell 2, seq 1 may use the hole"
        );
        let mut all = Vec::new();
        assert!(
            c.find_free_ordered(&[1; 6], &mut all),
            "falls back to any free cell"
        );
        assert!(!c.find_free_ordered(&[1; 7], &mut all));
    }
}
