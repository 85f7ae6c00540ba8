//! A batch of tokens for [`crate::Context::decode`]: each token carries its position, its
//! sequence and whether its logits are wanted.

use crate::kv_cache::SeqId;

/// Tokens to decode together. Tokens of different sequences may be mixed freely.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub(crate) tokens: Vec<u32>,
    pub(crate) pos: Vec<i32>,
    pub(crate) seq: Vec<SeqId>,
    pub(crate) logits: Vec<bool>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Batch {
            tokens: Vec::with_capacity(n),
            pos: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
            logits: Vec::with_capacity(n),
        }
    }

    /// Adds `token` at position `pos` of sequence `seq`; `logits` asks for its output row.
    pub fn add(&mut self, token: u32, pos: i32, seq: SeqId, logits: bool) -> &mut Self {
        self.tokens.push(token);
        self.pos.push(pos);
        self.seq.push(seq);
        self.logits.push(logits);
        self
    }

    /// Adds a run of tokens of one sequence starting at `pos0`, asking logits for the last one only
    /// when `logits_last` is set.
    pub fn add_sequence(
        &mut self,
        tokens: &[u32],
        pos0: i32,
        seq: SeqId,
        logits_last: bool,
    ) -> &mut Self {
        for (i, &t) in tokens.iter().enumerate() {
            let last = i + 1 == tokens.len();
            self.add(t, pos0 + i as i32, seq, logits_last && last);
        }
        self
    }

    pub fn clear(&mut self) {
        self.tokens.clear();
        self.pos.clear();
        self.seq.clear();
        self.logits.clear();
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Number of tokens whose logits were requested.
    pub fn n_outputs(&self) -> usize {
        self.logits.iter().filter(|&&l| l).count()
    }

    /// Distinct sequences present in the batch.
    pub fn n_seqs(&self) -> usize {
        let mut mask = 0u128;
        for &s in &self.seq {
            mask |= 1u128 << (s.min(127));
        }
        mask.count_ones() as usize
    }

    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_sequence_requests_logits_only_for_the_last_token() {
        let mut b = Batch::new();
        b.add_sequence(&[5, 6, 7], 10, 2, true);
        assert_eq!(b.pos, vec![10, 11, 12]);
        assert_eq!(b.logits, vec![false, false, true]);
        assert_eq!(b.n_outputs(), 1);
        assert_eq!(b.n_seqs(), 1);
        b.add(1, 0, 3, true);
        assert_eq!(b.n_seqs(), 2);
    }
}
