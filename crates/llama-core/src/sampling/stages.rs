//! The individual sampling stages, each a transcription of the matching llama.cpp sampler.

use super::candidates::{shifted_exp, Candidates};
use super::rng::Mt19937;

/// How many candidates top-p sorts before it knows whether it needs the rest (llama.cpp's value).
const TOP_P_FIRST_CHUNK: usize = 256;
/// Below this size top-p just sorts everything (llama.cpp's value).
const TOP_P_SMALL: usize = 1024;

/// Keeps the `k` highest-logit candidates, sorted; `k <= 0` leaves the array untouched.
pub fn top_k(c: &mut Candidates, k: i32) {
    if k <= 0 {
        return;
    }
    c.keep_top(k as usize);
}

/// Keeps the smallest sorted prefix whose probability mass reaches `p` (at least `min_keep`
/// entries); `p >= 1` is a no-op. Probabilities are left set from the softmax over the input.
pub fn top_p(c: &mut Candidates, p: f32, min_keep: usize) {
    if p >= 1.0 || c.is_empty() {
        return;
    }
    c.softmax();
    // Most of the mass usually sits in a few hundred tokens, so sort only those at first and
    // extend the sorted prefix geometrically. llama.cpp sorts everything once the first chunk
    // falls short; the kept prefix is the same either way.
    let n = c.len();
    let mut n_sorted = n;
    if !c.sorted {
        n_sorted = if n > TOP_P_SMALL {
            TOP_P_FIRST_CHUNK
        } else {
            n
        };
        c.sort_next(0, n_sorted);
    }
    let mut cum = 0.0f32;
    let mut keep = n;
    for i in 0..n {
        if i == n_sorted {
            c.sort_next(n_sorted, n_sorted * 3);
            n_sorted = (n_sorted * 4).min(n);
        }
        cum += c.data[i].p;
        if cum >= p && i + 1 >= min_keep {
            keep = i + 1;
            break;
        }
    }
    c.data.truncate(keep);
    c.sorted = true;
}

/// Drops candidates whose probability is below `p` times the best one's, i.e. whose logit is
/// below `max + ln(p)`; `p <= 0` is a no-op. Order is preserved.
pub fn min_p(c: &mut Candidates, p: f32, min_keep: usize) {
    if p <= 0.0 || c.is_empty() {
        return;
    }
    let min_logit = c.max_logit() + p.ln();
    if c.sorted {
        // The first token always stays, as in llama.cpp.
        let keep = (1..c.len())
            .find(|&i| c.data[i].logit < min_logit && i >= min_keep)
            .unwrap_or(c.len());
        c.data.truncate(keep);
        return;
    }
    let n_pass = c.data.iter().filter(|t| t.logit >= min_logit).count();
    if n_pass > 0 && n_pass >= min_keep {
        c.data.retain(|t| t.logit >= min_logit);
        return;
    }
    // Too few pass: fall back to keeping the `min_keep` best, like llama.cpp's sorted path.
    c.keep_top(c.len());
    min_p(c, p, min_keep);
}

/// Divides logits by `temp`; for `temp <= 0` keeps only the first maximal logit (others -inf),
/// which is llama.cpp's way of making the following `dist` stage greedy.
pub fn temperature(c: &mut Candidates, temp: f32) {
    if temp <= 0.0 {
        if let Some(best) = argmax(c) {
            for (i, t) in c.data.iter_mut().enumerate() {
                if i != best {
                    t.logit = f32::NEG_INFINITY;
                }
            }
        }
        return;
    }
    for t in &mut c.data {
        t.logit /= temp;
    }
}

/// Index of the first candidate with the highest logit (lowest index on ties); NaN never wins.
pub fn argmax(c: &Candidates) -> Option<usize> {
    let max = c.max_logit();
    c.data.iter().position(|t| t.logit == max)
}

/// Draws an index from the softmax of the logits, walking the array in its current order
/// (llama.cpp's single-pass `dist`): f32 terms, f64 sums, one uniform f64 from `rng`.
/// A single candidate is returned without consuming randomness. Sets normalized `p`.
pub fn dist(c: &mut Candidates, rng: &mut Mt19937) -> Option<usize> {
    match c.len() {
        0 => return None,
        1 => {
            c.data[0].p = 1.0;
            return Some(0);
        }
        _ => {}
    }
    let max = c.max_logit();
    let mut total = 0.0f64;
    for t in &mut c.data {
        t.p = shifted_exp(t.logit, max);
        total += f64::from(t.p);
    }
    let target = total * rng.next_f64();
    let mut running = 0.0f64;
    let mut selected = None;
    for (i, t) in c.data.iter_mut().enumerate() {
        if selected.is_none() {
            running += f64::from(t.p);
            if running >= target {
                selected = Some(i);
            }
        }
        t.p = (f64::from(t.p) / total) as f32;
    }
    // Rounding could in principle leave the target unreached; the last token is the fallback.
    Some(selected.unwrap_or(c.len() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::candidates::TokenData;

    fn cands(logits: &[f32]) -> Candidates {
        let entries: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l))
            .collect();
        Candidates::from_entries(&entries)
    }

    fn probs(logits: &[f32]) -> Vec<f32> {
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &l| m.max(l));
        let e: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let s: f32 = e.iter().sum();
        e.iter().map(|x| x / s).collect()
    }

    #[test]
    fn top_k_keeps_k_best_sorted_and_nonpositive_k_disables() {
        let mut c = cands(&[0.1, 0.9, 0.5, 0.7, 0.3]);
        top_k(&mut c, 3);
        assert_eq!(c.ids(), [1, 3, 2]);
        let mut c = cands(&[0.1, 0.9, 0.5]);
        top_k(&mut c, 0);
        assert_eq!(c.ids(), [0, 1, 2]);
        assert!(!c.sorted);
        top_k(&mut c, 10);
        assert_eq!(c.ids(), [1, 2, 0]);
    }

    #[test]
    fn top_p_keeps_smallest_set_reaching_p() {
        let logits = [1.0f32, 3.0, 2.0, 0.0, 2.5];
        let ps = probs(&logits);
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        // For every threshold, the expected set is the shortest prefix with mass >= p.
        for p in [0.1f32, 0.4, 0.6, 0.8, 0.9, 0.99] {
            let mut cum = 0.0;
            let n = order
                .iter()
                .position(|&i| {
                    cum += ps[i];
                    cum >= p
                })
                .unwrap()
                + 1;
            let mut c = cands(&logits);
            top_p(&mut c, p, 0);
            let want: Vec<u32> = order[..n].iter().map(|&i| i as u32).collect();
            assert_eq!(c.ids(), want, "p = {p}");
            let kept: f32 = c.data.iter().map(|t| t.p).sum();
            let without_last = kept - c.data[n - 1].p;
            assert!(kept >= p - 1e-6 && without_last < p, "p = {p}");
        }
    }

    #[test]
    fn top_p_one_is_a_no_op_and_min_keep_is_respected() {
        let mut c = cands(&[5.0, 0.0, 0.0]);
        top_p(&mut c, 1.0, 0);
        assert_eq!(c.len(), 3);
        top_p(&mut c, 0.5, 2);
        assert_eq!(c.ids(), [0, 1]);
    }

    #[test]
    fn top_p_on_large_vocab_extends_past_first_chunk_when_needed() {
        // A flat distribution over 3000 tokens: 0.5 of the mass needs 1500 of them.
        let logits: Vec<f32> = (0..3000)
            .map(|i| if i % 7 == 0 { 0.001 } else { 0.0 })
            .collect();
        let mut c = cands(&logits);
        top_p(&mut c, 0.5, 0);
        assert!(
            c.len() > TOP_P_FIRST_CHUNK && c.len() < 1600,
            "kept {}",
            c.len()
        );
        assert!(c.data.windows(2).all(|w| w[0].logit >= w[1].logit));
        // The multiples of 7 (higher logit) must all come first.
        assert!(c.data[..429].iter().all(|t| t.id % 7 == 0));
    }

    #[test]
    fn min_p_drops_tokens_below_fraction_of_max_prob() {
        let logits = [2.0f32, 1.0, 0.0, -1.0, 1.5];
        let ps = probs(&logits);
        let pmax = ps.iter().cloned().fold(0.0, f32::max);
        for m in [0.05f32, 0.2, 0.4, 0.7] {
            let want: Vec<u32> = (0..logits.len())
                .filter(|&i| ps[i] >= m * pmax)
                .map(|i| i as u32)
                .collect();
            let mut c = cands(&logits);
            min_p(&mut c, m, 0);
            assert_eq!(c.ids(), want, "unsorted, min_p = {m}");
            let mut s = cands(&logits);
            s.keep_top(s.len());
            min_p(&mut s, m, 0);
            let mut sorted_ids = s.ids();
            sorted_ids.sort();
            assert_eq!(sorted_ids, want, "sorted, min_p = {m}");
        }
    }

    #[test]
    fn min_p_zero_disables_and_min_keep_forces_best_tokens() {
        let mut c = cands(&[9.0, 0.0, -5.0]);
        min_p(&mut c, 0.0, 0);
        assert_eq!(c.len(), 3);
        min_p(&mut c, 0.5, 2);
        assert_eq!(c.ids(), [0, 1]);
    }

    #[test]
    fn temperature_scales_logits_and_sharpens_or_flattens() {
        let mut c = cands(&[2.0, 1.0, -1.0]);
        temperature(&mut c, 0.5);
        let l: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
        assert_eq!(l, [4.0, 2.0, -2.0]);
        let base = probs(&[2.0, 1.0, -1.0]);
        let cold = probs(&l);
        let mut hot = cands(&[2.0, 1.0, -1.0]);
        temperature(&mut hot, 2.0);
        let hot: Vec<f32> = probs(&hot.data.iter().map(|t| t.logit).collect::<Vec<_>>());
        assert!(cold[0] > base[0] && base[0] > hot[0]);
    }

    #[test]
    fn zero_temperature_masks_all_but_first_max() {
        let mut c = cands(&[1.0, 3.0, 3.0, 2.0]);
        temperature(&mut c, 0.0);
        let l: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
        assert_eq!(
            l,
            [f32::NEG_INFINITY, 3.0, f32::NEG_INFINITY, f32::NEG_INFINITY]
        );
    }

    #[test]
    fn argmax_picks_first_of_ties_and_none_when_empty() {
        assert_eq!(argmax(&cands(&[0.0, 5.0, 5.0])), Some(1));
        assert_eq!(argmax(&Candidates::default()), None);
    }

    #[test]
    fn dist_follows_cumulative_walk_with_uniform_draw() {
        let logits = [0.3f32, -1.2, 2.0, 0.7];
        let mut c = cands(&logits);
        let mut rng = Mt19937::new(99);
        let mut shadow = Mt19937::new(99);
        let got = dist(&mut c, &mut rng).unwrap();
        let u = shadow.next_f64();
        let e: Vec<f64> = logits
            .iter()
            .map(|&l| f64::from((l - 2.0f32).exp()))
            .collect();
        let total: f64 = e.iter().sum();
        let mut run = 0.0;
        let want = e
            .iter()
            .position(|x| {
                run += x;
                run >= total * u
            })
            .unwrap();
        assert_eq!(got, want);
        let psum: f32 = c.data.iter().map(|t| t.p).sum();
        assert!((psum - 1.0).abs() < 1e-6);
    }

    #[test]
    fn dist_with_single_candidate_consumes_no_randomness() {
        let mut c = Candidates::new(
            vec![TokenData {
                id: 9,
                logit: -3.0,
                p: 0.0,
            }],
            true,
        );
        let mut rng = Mt19937::new(1);
        assert_eq!(dist(&mut c, &mut rng), Some(0));
        assert_eq!(c.data[0].p, 1.0);
        assert_eq!(rng.next_u32(), Mt19937::new(1).next_u32());
    }
}
