//! Log-probabilities of the raw (unfiltered, untempered) distribution, for reporting.

use super::candidates::{max_logit, sanitize, Candidates};

/// Max logit and `ln(sum(exp(logit - max)))`, NaN counted as -inf; `None` if nothing is above
/// -inf. Terms are f32 (fast), the sum f64 so a 50k-entry vocabulary loses no precision.
fn log_normalizer(logits: &[f32]) -> Option<(f32, f64)> {
    let max = max_logit(logits);
    if max == f32::NEG_INFINITY {
        return None;
    }
    if max == f32::INFINITY {
        let n_inf = logits.iter().filter(|&&l| l == f32::INFINITY).count();
        return Some((max, (n_inf as f64).ln()));
    }
    let sum: f64 = logits
        .iter()
        .map(|&l| f64::from((sanitize(l) - max).exp()))
        .sum();
    Some((max, sum.ln()))
}

fn logprob_with(logit: f32, max: f32, log_sum: f64) -> f32 {
    let logit = sanitize(logit);
    if max == f32::INFINITY {
        return if logit == f32::INFINITY {
            -log_sum as f32
        } else {
            f32::NEG_INFINITY
        };
    }
    (f64::from(logit - max) - log_sum) as f32
}

/// The `n` most likely tokens with their log-probabilities under softmax(logits), most likely
/// first (ties by lower id, the same ranking top-k uses). Empty if `n == 0` or no logit is above -inf.
pub fn top_logprobs(logits: &[f32], n: usize) -> Vec<(u32, f32)> {
    let Some((max, log_sum)) = log_normalizer(logits) else {
        return Vec::new();
    };
    if n == 0 {
        return Vec::new();
    }
    let mut c = Candidates::default();
    c.fill(logits);
    c.keep_top(n);
    c.data
        .iter()
        .map(|t| (t.id, logprob_with(t.logit, max, log_sum)))
        .collect()
}

/// Log-probability of `token` under softmax(logits); `None` if the token is out of range or no
/// logit is above -inf.
pub fn token_logprob(logits: &[f32], token: u32) -> Option<f32> {
    let &logit = logits.get(token as usize)?;
    let (max, log_sum) = log_normalizer(logits)?;
    Some(logprob_with(logit, max, log_sum))
}

/// Log-probabilities of several tokens against one normalizer (one pass over the vocabulary).
pub fn token_logprobs(logits: &[f32], tokens: &[u32]) -> Vec<Option<f32>> {
    let norm = log_normalizer(logits);
    tokens
        .iter()
        .map(|&t| {
            let (max, log_sum) = norm?;
            let &logit = logits.get(t as usize)?;
            Some(logprob_with(logit, max, log_sum))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logprobs_match_hand_computed_values() {
        let logits = [1.0f32, 2.0, 3.0];
        let z = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        let top = top_logprobs(&logits, 3);
        let ids: Vec<u32> = top.iter().map(|x| x.0).collect();
        assert_eq!(ids, [2, 1, 0]);
        for (id, lp) in top {
            let want = f64::from(logits[id as usize]) - z;
            assert!(
                (f64::from(lp) - want).abs() < 1e-6,
                "token {id}: {lp} vs {want}"
            );
        }
        // Known closed form for (1, 2, 3): ln p(3) = -ln(1 + e^-1 + e^-2) ≈ -0.40760596.
        assert!((token_logprob(&logits, 2).unwrap() - (-0.407_605_96)).abs() < 1e-6);
    }

    #[test]
    fn exp_of_all_logprobs_sums_to_one() {
        let logits: Vec<f32> = (0..49_152)
            .map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 10.0)
            .collect();
        let all = top_logprobs(&logits, logits.len());
        assert_eq!(all.len(), logits.len());
        let s: f64 = all.iter().map(|&(_, lp)| f64::from(lp).exp()).sum();
        assert!((s - 1.0).abs() < 1e-4, "sum = {s}");
        assert!(all.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn log_softmax_is_stable_for_huge_logits() {
        let logits = [1000.0f32, 999.0, -1000.0];
        let lp = token_logprob(&logits, 0).unwrap();
        let want = -(1.0f64 + (-1f64).exp()).ln();
        assert!(lp.is_finite() && (f64::from(lp) - want).abs() < 1e-6);
    }

    #[test]
    fn top_logprobs_breaks_ties_by_lower_id_and_truncates() {
        let top = top_logprobs(&[0.5, 2.0, 2.0, 1.0], 2);
        assert_eq!(top.iter().map(|x| x.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(top[0].1, top[1].1);
        assert_eq!(top_logprobs(&[0.5, 2.0], 10).len(), 2);
    }

    #[test]
    fn degenerate_inputs_give_empty_or_none() {
        assert!(top_logprobs(&[], 3).is_empty());
        assert!(top_logprobs(&[f32::NAN, f32::NAN], 1).is_empty());
        assert_eq!(token_logprob(&[1.0], 1), None);
        assert_eq!(token_logprob(&[f32::NEG_INFINITY], 0), None);
        let lp = token_logprobs(&[0.0, 0.0, f32::NAN], &[0, 2, 9]);
        assert!((lp[0].unwrap() - (-(2f32).ln())).abs() < 1e-6);
        assert_eq!(lp[1], Some(f32::NEG_INFINITY));
        assert_eq!(lp[2], None);
    }
}
