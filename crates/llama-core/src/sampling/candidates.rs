//! The candidate array the sampling stages filter and reorder (llama.cpp's `llama_token_data_array`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Up to this k, top-k selection streams through a k-sized heap instead of partitioning.
const HEAP_SELECT_MAX_K: usize = 256;

/// One vocabulary entry under consideration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TokenData {
    pub id: u32,
    pub logit: f32,
    /// Probability, valid only after a stage that computes a softmax.
    pub p: f32,
}

/// Candidates plus whether they are known to be in [`by_logit_desc`] order.
///
/// Several stages behave like llama.cpp only if they see the same order it would (the
/// distribution sampler walks the array cumulatively), so the flag is kept the way llama.cpp
/// keeps `sorted`: unsorted arrays stay in vocabulary order.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    pub data: Vec<TokenData>,
    pub sorted: bool,
    /// Reused by selection so that sampling a token allocates nothing after warm-up.
    heap_buf: Vec<(u64, u32)>,
    gather_buf: Vec<TokenData>,
}

/// Descending logit, ties by ascending id: a total order, so every selection is deterministic.
#[inline]
pub fn by_logit_desc(a: &TokenData, b: &TokenData) -> Ordering {
    sort_key(a).cmp(&sort_key(b))
}

/// An integer key whose ascending order is [`by_logit_desc`]; one u64 comparison is much
/// cheaper than a float comparison plus a tie-break.
#[inline]
pub fn sort_key(t: &TokenData) -> u64 {
    let bits = t.logit.to_bits();
    // Same order as f32::total_cmp: negatives reversed below positives.
    let ascending = if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    (u64::from(!ascending) << 32) | u64::from(t.id)
}

/// Maps NaN to -inf (never chosen) and -0.0 to +0.0 (so `total_cmp` treats zeros as equal).
#[inline]
pub fn sanitize(logit: f32) -> f32 {
    if logit.is_nan() {
        f32::NEG_INFINITY
    } else {
        logit + 0.0
    }
}

impl Candidates {
    /// Refills from raw logits in vocabulary order, reusing the allocation; returns the max
    /// logit (-inf if every logit is NaN or -inf).
    pub fn fill(&mut self, logits: &[f32]) -> f32 {
        self.data.clear();
        self.data
            .extend(logits.iter().enumerate().map(|(i, &l)| TokenData {
                id: i as u32,
                logit: sanitize(l),
                p: 0.0,
            }));
        self.sorted = false;
        max_logit(logits)
    }

    /// Wraps an existing array; `sorted` must only be true if it is in [`by_logit_desc`] order.
    pub fn new(data: Vec<TokenData>, sorted: bool) -> Self {
        Self {
            data,
            sorted,
            ..Self::default()
        }
    }

    /// Builds candidates from explicit entries (mainly for tests and callers with sparse logits).
    pub fn from_entries(entries: &[(u32, f32)]) -> Self {
        let data = entries
            .iter()
            .map(|&(id, logit)| TokenData {
                id,
                logit: sanitize(logit),
                p: 0.0,
            })
            .collect();
        Self {
            data,
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn ids(&self) -> Vec<u32> {
        self.data.iter().map(|t| t.id).collect()
    }

    pub fn max_logit(&self) -> f32 {
        if self.sorted {
            return self.data.first().map_or(f32::NEG_INFINITY, |t| t.logit);
        }
        let mut lanes = [f32::NEG_INFINITY; 8];
        let chunks = self.data.chunks_exact(8);
        let tail = chunks.remainder();
        for chunk in chunks {
            for (lane, t) in lanes.iter_mut().zip(chunk) {
                if t.logit > *lane {
                    *lane = t.logit;
                }
            }
        }
        let lane_max = lanes.iter().fold(f32::NEG_INFINITY, |m, &l| m.max(l));
        tail.iter().fold(lane_max, |m, t| m.max(t.logit))
    }

    /// Moves the `k` best candidates to the front in sorted order and drops the rest.
    /// Selection first, so the cost is O(n + k log k) rather than a full sort.
    pub fn keep_top(&mut self, k: usize) {
        let k = k.min(self.data.len());
        if !self.sorted {
            if k <= HEAP_SELECT_MAX_K && self.data.len() >= 4 * k {
                self.select_top_streaming(k);
            } else {
                self.sort_next(0, k);
            }
        }
        self.data.truncate(k);
        self.sorted = true;
    }

    /// Given that `data[..from]` is sorted and no worse than anything after it, makes
    /// `data[from..from + k]` the next `k` best in order (the tail stays unsorted behind them).
    pub fn sort_next(&mut self, from: usize, k: usize) {
        let from = from.min(self.data.len());
        let rest = &mut self.data[from..];
        let k = k.min(rest.len());
        if k == 0 {
            return;
        }
        if k < rest.len() {
            rest.select_nth_unstable_by_key(k - 1, sort_key);
        }
        rest[..k].sort_unstable_by_key(sort_key);
    }

    /// One pass keeping the `k` best in a max-heap of keys (root = worst kept), so most
    /// candidates cost a single integer comparison; leaves exactly `k` entries, sorted.
    fn select_top_streaming(&mut self, k: usize) {
        if k == 0 {
            self.data.clear();
            return;
        }
        let mut heap = BinaryHeap::from(std::mem::take(&mut self.heap_buf));
        heap.clear();
        let mut worst_kept = u64::MAX;
        for (i, t) in self.data.iter().enumerate() {
            let key = sort_key(t);
            if heap.len() < k {
                heap.push((key, i as u32));
                if heap.len() == k {
                    worst_kept = heap.peek().map_or(u64::MAX, |e| e.0);
                }
            } else if key < worst_kept {
                if let Some(mut root) = heap.peek_mut() {
                    *root = (key, i as u32);
                }
                worst_kept = heap.peek().map_or(u64::MAX, |e| e.0);
            }
        }
        let best = heap.into_sorted_vec();
        self.gather_buf.clear();
        let data = &self.data;
        self.gather_buf
            .extend(best.iter().map(|&(_, i)| data[i as usize]));
        self.data.clear();
        self.data.extend_from_slice(&self.gather_buf);
        self.heap_buf = best;
    }

    /// Sets `p` to the softmax of the logits in array order, like llama.cpp's
    /// `llama_sampler_softmax_impl(cur_p, false)`: f32 terms, f32 running sum.
    pub fn softmax(&mut self) {
        let max = self.max_logit();
        let mut sum = 0.0f32;
        for t in &mut self.data {
            t.p = shifted_exp(t.logit, max);
            sum += t.p;
        }
        for t in &mut self.data {
            t.p /= sum;
        }
    }
}

/// Largest logit, NaN ignored (-inf if nothing else). Eight independent running maxima let
/// the compiler vectorize the scan, which matters at 50k entries per token.
pub fn max_logit(logits: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = logits.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, &l) in lanes.iter_mut().zip(chunk) {
            if l > *lane {
                *lane = l;
            }
        }
    }
    lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m })
}

/// `exp(logit - max)`, with a +inf max giving its ties all the mass instead of NaN.
#[inline]
pub fn shifted_exp(logit: f32, max: f32) -> f32 {
    if max == f32::INFINITY {
        if logit == f32::INFINITY {
            1.0
        } else {
            0.0
        }
    } else {
        (logit - max).exp()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_maps_nan_to_neg_inf_and_keeps_vocab_order() {
        let mut c = Candidates::default();
        let max = c.fill(&[0.5, f32::NAN, 2.0, -0.0]);
        assert_eq!(max, 2.0);
        assert_eq!(c.ids(), [0, 1, 2, 3]);
        assert_eq!(c.data[1].logit, f32::NEG_INFINITY);
        assert!(c.data[3].logit.is_sign_positive());
        assert!(!c.sorted);
    }

    #[test]
    fn keep_top_selects_best_in_order_with_lowest_id_on_ties() {
        let mut c = Candidates::from_entries(&[(0, 1.0), (1, 3.0), (2, 3.0), (3, -1.0), (4, 2.0)]);
        c.keep_top(3);
        assert_eq!(c.ids(), [1, 2, 4]);
        assert!(c.sorted);
    }

    #[test]
    fn keep_top_on_large_random_array_equals_full_sort_prefix() {
        let mut state = 12345u64;
        let entries: Vec<(u32, f32)> = (0..5000)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Coarse values so that ties occur and the tie rule is exercised.
                (i, ((state >> 33) % 200) as f32 / 10.0)
            })
            .collect();
        let mut full = Candidates::from_entries(&entries);
        full.data.sort_by(by_logit_desc);
        // Small k takes the streaming-heap path, large k the partition path.
        for k in [1, 40, 256, 300, 4999, 5000, 6000] {
            let mut c = Candidates::from_entries(&entries);
            c.keep_top(k);
            assert_eq!(c.ids(), full.ids()[..k.min(5000)].to_vec(), "k = {k}");
        }
    }

    #[test]
    fn softmax_normalizes_and_matches_hand_values() {
        let mut c = Candidates::from_entries(&[(0, 0.0), (1, 1.0), (2, 2.0)]);
        c.softmax();
        let z = 1.0 + 1f32.exp() + 2f32.exp();
        for (t, want) in c.data.iter().zip([1.0 / z, 1f32.exp() / z, 2f32.exp() / z]) {
            assert!((t.p - want).abs() < 1e-6, "{} vs {want}", t.p);
        }
    }

    #[test]
    fn softmax_with_infinite_max_gives_inf_ties_all_mass() {
        let mut c = Candidates::from_entries(&[(0, f32::INFINITY), (1, 5.0), (2, f32::INFINITY)]);
        c.softmax();
        let ps: Vec<f32> = c.data.iter().map(|t| t.p).collect();
        assert_eq!(ps, [0.5, 0.0, 0.5]);
    }
}
