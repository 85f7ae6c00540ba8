//! Cell bookkeeping of a sliding-window (SWA) cache, as llama.cpp's iSWA cache keeps it: a cell
//! whose every sequence has slid past it is reused, and reusing a cell purges the older
//! positions of its sequences so that each sequence's cached positions stay contiguous.

use super::cells::{Cells, MAX_SEQ};

/// llama.cpp's `is_masked_swa` for `LLAMA_SWA_TYPE_STANDARD`: a token at `p1` cannot see `p0`.
pub fn is_masked_swa(n_swa: usize, p0: i32, p1: i32) -> bool {
    i64::from(p1) - i64::from(p0) >= n_swa as i64
}

/// llama.cpp's SWA cache size: room for the window of every sequence plus a micro-batch, padded
/// to 256 cells, never more than the full cache (`swa_full` makes it the full cache).
pub fn swa_cache_size(n_ctx: usize, n_swa: usize, n_seq_max: usize, n_ubatch: usize) -> usize {
    let want = (n_swa * n_seq_max.max(1) + n_ubatch).min(n_ctx);
    want.div_ceil(256) * 256
}

impl Cells {
    /// Largest cached position of every sequence (`-1` = none), one pass over the cells.
    fn seq_pos_max_all(&self) -> [i32; MAX_SEQ as usize] {
        let mut max = [-1i32; MAX_SEQ as usize];
        for i in 0..self.size() {
            let mut bits = self.seq_mask(i);
            while bits != 0 {
                let s = bits.trailing_zeros() as usize;
                max[s] = max[s].max(self.pos(i));
                bits &= bits - 1;
            }
        }
        max
    }

    /// Whether cell `i` is free or hidden from the next token of every sequence that holds it.
    fn is_stale(&self, i: usize, n_swa: usize, pos_max: &[i32; MAX_SEQ as usize]) -> bool {
        let mut bits = self.seq_mask(i);
        while bits != 0 {
            let s = bits.trailing_zeros() as usize;
            if !is_masked_swa(n_swa, self.pos(i), pos_max[s] + 1) {
                return false;
            }
            bits &= bits - 1;
        }
        true
    }

    /// Cells for the tokens of sequences `seqs` (one seq bit per token): free cells placed as
    /// [`Cells::find_free_ordered`] places them (so while nothing has slid out of the window the
    /// layout, and hence the arithmetic, equals a full cache), else free or stale cells walking
    /// from the head as llama.cpp's `find_slot` does. False when even that is not enough.
    pub fn find_slot_swa(&mut self, n_swa: usize, seqs: &[u64], out: &mut Vec<u32>) -> bool {
        if self.find_free_ordered(seqs, out) {
            return true;
        }
        out.clear();
        let pos_max = self.seq_pos_max_all();
        let size = self.size();
        let start = self.head();
        for k in 0..size {
            let i = (start + k) % size;
            if self.is_stale(i, n_swa, &pos_max) {
                out.push(i as u32);
                if out.len() == seqs.len() {
                    return true;
                }
            }
        }
        false
    }

    /// Stores tokens (`pos[k]` of `seqs[k]`) into `cells` from [`Cells::find_slot_swa`]: stale
    /// occupants are evicted first, and every sequence that lost a cell also drops its positions
    /// up to the newest evicted one (llama.cpp's purge in `apply_ubatch`), so what a sequence
    /// holds stays one contiguous run of positions and `seq_pos_min` tells what can be reused.
    pub fn assign_swa(&mut self, cells: &[u32], pos: &[i32], seqs: &[u64]) {
        let mut rm_max = [-1i32; MAX_SEQ as usize];
        for &c in cells {
            let i = c as usize;
            let mut bits = self.seq_mask(i);
            while bits != 0 {
                let s = bits.trailing_zeros() as usize;
                rm_max[s] = rm_max[s].max(self.pos(i));
                bits &= bits - 1;
            }
            self.evict(i);
        }
        for (s, &p) in rm_max.iter().enumerate() {
            if p >= 0 {
                // Drops positions `<= p` of `s` (the cells just evicted are already empty).
                self.rm_mask(1u64 << s, i32::MIN, p.saturating_add(1));
            }
        }
        for ((&c, &p), &bit) in cells.iter().zip(pos).zip(seqs) {
            self.assign(c as usize, p, bit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv_cache::SeqId;

    /// Places `n` tokens of sequence `seq` at positions `p0..` through the SWA path.
    fn push(c: &mut Cells, n_swa: usize, seq: SeqId, p0: i32, n: usize) -> Vec<u32> {
        let seqs = vec![1u64 << seq; n];
        let pos: Vec<i32> = (p0..p0 + n as i32).collect();
        let mut out = Vec::new();
        assert!(c.find_slot_swa(n_swa, &seqs, &mut out), "no room");
        c.assign_swa(&out, &pos, &seqs);
        out
    }

    #[test]
    fn size_follows_llama_cpp() {
        // gemma-3-270m: n_swa 512, one sequence, 512-token micro-batches.
        assert_eq!(swa_cache_size(4096, 512, 1, 512), 1024);
        assert_eq!(swa_cache_size(512, 512, 1, 512), 512);
        assert_eq!(swa_cache_size(8192, 512, 4, 512), 2560);
        assert_eq!(swa_cache_size(600, 100, 1, 32), 256);
    }

    #[test]
    fn cells_outside_the_window_are_reused_and_older_positions_purged() {
        let mut c = Cells::new(8);
        assert_eq!(push(&mut c, 4, 0, 0, 8), (0..8).collect::<Vec<_>>());
        // The next token (8) sees 5, 6, 7 and itself: cells of positions 0..=4 are stale.
        let got = push(&mut c, 4, 0, 8, 2);
        assert_eq!(
            got,
            vec![0, 1],
            "reuse from the head, like llama.cpp's find_slot"
        );
        // Evicting positions 0 and 1 purges nothing else yet (they were the oldest).
        assert_eq!(c.seq_pos_min(0), Some(2));
        assert_eq!(c.seq_pos_max(0), Some(9));
        assert_eq!(c.used(), 8);
        // A cell not yet out of the window of its sequence is never taken.
        let mut out = Vec::new();
        assert!(!c.find_slot_swa(4, &[1; 7], &mut out));
        // Positions 10..=12 take the cells of 2, 3 and 4.
        push(&mut c, 4, 0, 10, 3);
        assert_eq!(c.seq_pos_min(0), Some(5));
        assert_eq!(c.seq_len(0), 8);
    }

    #[test]
    fn evicting_a_newer_position_purges_the_older_ones() {
        // Cells 0..4 hold positions 2, 0, 1, 3 of seq 0 (filled out of order), head at cell 0.
        let mut c = Cells::new(4);
        for (cell, pos) in [(1, 0), (2, 1), (0, 2), (3, 3)] {
            c.assign(cell, pos, 1);
        }
        // Position 4 with a window of 2 may evict 0, 1 or 2; the walk from the head takes 2.
        assert_eq!(push(&mut c, 2, 0, 4, 1), vec![0]);
        // Positions 0 and 1 go too, or seq 0 would hold 0, 1, 3, 4 with a hole at 2.
        assert_eq!(c.seq_pos_min(0), Some(3));
        assert_eq!(c.seq_len(0), 2);
        assert_eq!(c.used(), 2);
    }

    #[test]
    fn a_shared_cell_is_reused_only_when_every_owner_slid_past_it() {
        let mut c = Cells::new(6);
        push(&mut c, 2, 0, 0, 3); // seq 0: positions 0, 1, 2 in cells 0..3
        c.seq_cp(0, 1, None, Some(2)).unwrap(); // seq 1 shares positions 0, 1
        push(&mut c, 2, 0, 3, 3); // seq 0 fills cells 3..6
                                  // Seq 0 has slid past 0..=3, but seq 1 (max 1) still sees position 1 from position 2.
        let mut out = Vec::new();
        assert!(c.find_slot_swa(2, &[1], &mut out));
        assert_eq!(out, vec![0], "position 0 is stale for both");
        c.assign_swa(&out, &[6], &[1]);
        // Seq 1 lost position 0, so it is purged there; it still holds position 1.
        assert_eq!(c.seq_pos_min(1), Some(1));
        assert_eq!(c.seq_len(1), 1);
        assert!(c.find_slot_swa(2, &[1], &mut out));
        assert_ne!(out, vec![1], "position 1 is still visible to seq 1");
        // Removing seq 1 makes its cell reusable for seq 0.
        c.seq_rm(Some(1), None, None).unwrap();
        assert!(c.find_slot_swa(2, &[1], &mut out));
        assert_eq!(out, vec![1]);
    }

    #[test]
    fn free_cells_keep_the_full_cache_layout() {
        let mut full = Cells::new(16);
        let mut swa = Cells::new(16);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for (seq, p0, n) in [(0u32, 0, 3), (1, 0, 2), (0, 3, 2), (1, 2, 4)] {
            let seqs = vec![1u64 << seq; n];
            assert!(full.find_free_ordered(&seqs, &mut a));
            assert!(swa.find_slot_swa(8, &seqs, &mut b));
            assert_eq!(a, b);
            let pos: Vec<i32> = (p0..p0 + n as i32).collect();
            for ((&i, &p), &bit) in a.iter().zip(&pos).zip(&seqs) {
                full.assign(i as usize, p, bit);
            }
            swa.assign_swa(&b, &pos, &seqs);
        }
    }
}
