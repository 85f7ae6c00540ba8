//! Tile-aligned cell placement: the token at position `p` goes into a cell whose index is `p`
//! modulo the attention tile, in a tile whose cells from there on are free, so that each tile a
//! sequence touches holds the same positions, at the same offsets, as when the sequence ran
//! alone on an empty cache (where cell = position).
//!
//! Why: ggml's CPU flash attention walks the cache in tiles of `GGML_FA_TILE_KV` (64) cells for
//! micro-batches of 64+ tokens, skipping tiles that are fully masked and updating its online
//! softmax once per tile. Which positions share a tile therefore changes the rounding; with
//! this placement a sequence sharing a prefix with another one (a reused prompt), or running
//! beside others, computes the same bits as alone, whole-tile gaps aside (masked tiles are
//! skipped exactly).

use super::Cells;

/// ggml-cpu's `GGML_FA_TILE_KV`: the flash-attention KV tile (cells).
pub const ATTN_TILE: usize = 64;

impl Cells {
    /// Cells for tokens of sequences `seqs` (one seq bit per token, in batch order) at
    /// `positions`, tile-aligned (module docs) and after every cell the token's sequence
    /// holds. False when some token has no such cell (the caller falls back to
    /// [`Cells::find_free_ordered`]); `out` then holds nothing useful.
    pub fn find_free_tiled(&mut self, seqs: &[u64], positions: &[i32], out: &mut Vec<u32>) -> bool {
        out.clear();
        if seqs.len() != positions.len() || seqs.len() > self.size() - self.used {
            return false;
        }
        self.pick_per_token(seqs, out, |cells, from, k| {
            let phase = usize::try_from(positions[k]).unwrap_or(0) % ATTN_TILE;
            cells.tiled_cell(from, phase)
        })
    }

    /// The cell for a token of phase `phase` whose sequence's cells end before `from`: `from`
    /// itself when it continues the sequence's tile at that phase, else the first cell of that
    /// phase, at or after `from`, in a tile free from there to its end.
    fn tiled_cell(&self, from: usize, phase: usize) -> Option<usize> {
        let free = |i: usize| self.seqs[i] == 0 && !self.taken[i];
        if phase != 0 && from % ATTN_TILE == phase && from < self.size() && free(from) {
            return Some(from);
        }
        // The first tile whose cell of this phase is at or after `from`.
        let first_tile = from.saturating_sub(phase).div_ceil(ATTN_TILE);
        (first_tile..self.size().div_ceil(ATTN_TILE))
            .map(|t| t * ATTN_TILE)
            .find(|&t0| {
                let end = (t0 + ATTN_TILE).min(self.size());
                t0 + phase < end && (t0 + phase..end).all(free)
            })
            .map(|t0| t0 + phase)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(range: std::ops::Range<i32>) -> Vec<i32> {
        range.collect()
    }

    #[test]
    fn alone_a_sequence_gets_cell_equals_position() {
        let mut c = Cells::new(256);
        let mut out = Vec::new();
        assert!(c.find_free_tiled(&[1; 100], &pos(0..100), &mut out));
        assert_eq!(out, (0..100).collect::<Vec<u32>>());
    }

    #[test]
    fn a_continuation_after_a_shared_prefix_starts_a_tile_of_its_own() {
        let mut c = Cells::new(512);
        // Seq 0 holds positions 0..150 in cells 0..150; seq 1 shares 0..128 of them.
        for i in 0..150 {
            c.assign(i, i as i32, 1);
        }
        c.seq_cp(0, 1, Some(0), Some(128)).unwrap();
        let mut out = Vec::new();
        // Seq 1 continues at position 128: the tile of cells 128.. is partly taken by seq 0.
        assert!(c.find_free_tiled(&[2; 70], &pos(128..198), &mut out));
        assert_eq!(out[0], 192, "first free whole tile");
        assert_eq!(out[69], 192 + 69);
        // Seq 0 continues in its own tile: position 150 at cell 150.
        assert!(c.find_free_tiled(&[1], &[150], &mut out));
        assert_eq!(out, vec![150]);
    }

    #[test]
    fn mid_tile_positions_keep_their_phase() {
        let mut c = Cells::new(256);
        c.assign(0, 0, 1);
        c.assign(1, 0, 2);
        let mut out = Vec::new();
        // Seq 0's position 1 would go to cell 1, which seq 1 holds: next tile, phase 1.
        assert!(c.find_free_tiled(&[1], &[1], &mut out));
        assert_eq!(out, vec![65]);
    }

    #[test]
    fn no_room_at_the_right_phase_is_reported() {
        let mut c = Cells::new(64);
        c.assign(0, 0, 1);
        let mut out = Vec::new();
        assert!(!c.find_free_tiled(&[2], &[0], &mut out));
        assert!(c.find_free_tiled(&[2], &[5], &mut out));
        assert_eq!(out, vec![5]);
    }
}
