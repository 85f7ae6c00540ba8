//! llama.cpp's less common chain stages: logit bias, locally typical sampling, top-n-sigma and
//! XTC, plus the `std::discrete_distribution` draw that mirostat uses. Each is a transcription
//! of the sampler of the same name in llama.cpp's `src/llama-sampler.cpp`.

use super::candidates::Candidates;
use super::rng::Mt19937;

/// Adds each `(token, bias)` to that token's logit (llama.cpp's `logit_bias` sampler; a bias of
/// -inf bans the token). Several entries for one token add up.
pub fn logit_bias(c: &mut Candidates, biases: &[(u32, f32)]) {
    for &(token, bias) in biases {
        // Candidates are usually still in vocabulary order, where the index is the id.
        match c.data.get_mut(token as usize) {
            Some(t) if t.id == token => t.logit += bias,
            _ => {
                if let Some(t) = c.data.iter_mut().find(|t| t.id == token) {
                    t.logit += bias;
                }
            }
        }
    }
}

/// Sorts by logit (descending) and sets `p` to the softmax, as `llama_sampler_softmax_impl(cur_p,
/// true)` does.
fn sorted_softmax(c: &mut Candidates) {
    c.keep_top(c.len());
    c.softmax();
}

/// Locally typical sampling: keeps the tokens whose surprise `-ln p` is closest to the
/// distribution's entropy until their mass exceeds `p`; `p >= 1` is a no-op.
pub fn typical(c: &mut Candidates, p: f32, min_keep: usize) {
    if p >= 1.0 || c.is_empty() {
        return;
    }
    sorted_softmax(c);
    let entropy: f32 = c.data.iter().map(|t| -t.p * t.p.ln()).sum();
    let shifted: Vec<f32> = c.data.iter().map(|t| (-t.p.ln() - entropy).abs()).collect();
    let mut order: Vec<usize> = (0..c.len()).collect();
    // llama.cpp uses std::sort (unstable); a stable sort keeps the logit order on ties.
    order.sort_by(|&a, &b| shifted[a].total_cmp(&shifted[b]));
    let mut cum = 0.0f32;
    let mut last = order.len();
    for (i, &idx) in order.iter().enumerate() {
        cum += c.data[idx].p;
        if cum > p && (min_keep == 0 || i + 1 >= min_keep) {
            last = i + 1;
            break;
        }
    }
    let kept: Vec<_> = order[..last].iter().map(|&i| c.data[i]).collect();
    c.data = kept;
    c.sorted = false;
}

/// Top-n-sigma: sets to -inf every logit more than `n` standard deviations below the maximum
/// (mean and deviation over the finite logits); `n <= 0` is a no-op.
pub fn top_n_sigma(c: &mut Candidates, n: f32) {
    if n <= 0.0 || c.len() <= 1 {
        return;
    }
    let mut max = c.data[0].logit;
    let mut sum = 0.0f32;
    let mut count = 0usize;
    for t in c.data.iter().filter(|t| t.logit != f32::NEG_INFINITY) {
        max = max.max(t.logit);
        sum += t.logit;
        count += 1;
    }
    let mean = if count > 0 { sum / count as f32 } else { 0.0 };
    let acc: f32 = c
        .data
        .iter()
        .filter(|t| t.logit != f32::NEG_INFINITY)
        // llama.cpp's `pow(double, int)` rounded back into a float accumulator.
        .map(|t| f64::from(t.logit - mean).powi(2) as f32)
        .sum();
    let std = if count > 0 {
        (acc / count as f32).sqrt()
    } else {
        0.0
    };
    let cut = max - n * std;
    for t in &mut c.data {
        if t.logit < cut {
            t.logit = f32::NEG_INFINITY;
        }
    }
}

/// Exclude Top Choices: with chance `probability`, drops every token at or above `threshold`
/// probability except the least likely of them. Draws one float from `rng` whenever enabled
/// (`probability > 0`, `threshold <= 0.5`, two or more candidates).
pub fn xtc(
    c: &mut Candidates,
    probability: f32,
    threshold: f32,
    min_keep: usize,
    rng: &mut Mt19937,
) {
    if probability <= 0.0 || threshold > 0.5 || c.len() < 2 {
        return;
    }
    if uniform_f32(rng) > probability {
        return;
    }
    sorted_softmax(c);
    let pos_last = c
        .data
        .iter()
        .take_while(|t| t.p >= threshold)
        .count()
        .saturating_sub(1);
    if c.len() - pos_last >= min_keep && pos_last > 0 {
        c.data.drain(..pos_last);
    }
}

/// libstdc++'s `uniform_real_distribution<float>(0, 1)` on `std::mt19937`: one 32-bit draw
/// divided by 2^32 in float, clamped below 1.
pub fn uniform_f32(rng: &mut Mt19937) -> f32 {
    let r = rng.next_u32() as f32 / 4_294_967_296.0f32;
    if r >= 1.0 {
        1.0 - f32::EPSILON / 2.0
    } else {
        r
    }
}

/// libstdc++'s `std::discrete_distribution<int>` over the candidates' `p`: normalized
/// cumulative sums in double with the last forced to 1, one `generate_canonical<double>`
/// draw, and the first index whose cumulative sum is not below it.
pub fn discrete(c: &Candidates, rng: &mut Mt19937) -> Option<usize> {
    if c.is_empty() {
        return None;
    }
    let total: f64 = c.data.iter().map(|t| f64::from(t.p)).sum();
    let mut cum = Vec::with_capacity(c.len());
    let mut run = 0.0f64;
    for t in &c.data {
        run += f64::from(t.p) / total;
        cum.push(run);
    }
    if let Some(last) = cum.last_mut() {
        *last = 1.0;
    }
    let u = rng.next_f64();
    Some(cum.partition_point(|&x| x < u).min(c.len() - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// llama.cpp's `sampler_tester`: logits `ln p` in vocabulary order.
    fn from_probs(probs: &[f32]) -> Candidates {
        let entries: Vec<(u32, f32)> = probs
            .iter()
            .enumerate()
            .map(|(i, &p)| (i as u32, p.ln()))
            .collect();
        Candidates::from_entries(&entries)
    }

    /// llama.cpp's `dist` after a stage: probabilities of the remaining candidates in order.
    fn probs_after(c: &mut Candidates) -> Vec<f32> {
        c.softmax();
        c.data.iter().map(|t| t.p).collect()
    }

    fn assert_probs(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
        }
    }

    /// tests/test-sampling.cpp: `test_xtc` (probability 0.99, seed 0: the draw passes).
    #[test]
    fn xtc_matches_llama_cpp_test_cases() {
        let probs = [0.4f32, 0.3, 0.2, 0.1];
        let cases: [(f32, &[f32]); 4] = [
            (0.09, &[0.1]),
            (0.19, &[0.2, 0.1]),
            (0.29, &[0.3, 0.2, 0.1]),
            (0.39, &[0.4, 0.3, 0.2, 0.1]),
        ];
        for (threshold, want) in cases {
            let mut c = from_probs(&probs);
            let mut rng = Mt19937::new(0);
            xtc(&mut c, 0.99, threshold, 0, &mut rng);
            // The test reads `p` as the stage leaves it (set by the softmax before the cut).
            let got: Vec<f32> = c.data.iter().map(|t| t.p).collect();
            assert_probs(&got, want);
        }
    }

    #[test]
    fn xtc_skips_when_the_draw_exceeds_probability() {
        let mut rng = Mt19937::new(0);
        let first = uniform_f32(&mut Mt19937::new(0));
        let mut c = from_probs(&[0.4, 0.3, 0.2, 0.1]);
        xtc(&mut c, first * 0.5, 0.09, 0, &mut rng);
        assert_eq!(c.len(), 4);
    }

    /// tests/test-sampling.cpp: `test_typical`.
    #[test]
    fn typical_matches_llama_cpp_test_cases() {
        let mut c = from_probs(&[0.97, 0.01, 0.01, 0.01]);
        typical(&mut c, 0.5, 0);
        assert_probs(&probs_after(&mut c), &[1.0]);
        let mut c = from_probs(&[0.4, 0.2, 0.2, 0.2]);
        typical(&mut c, 0.5, 0);
        assert_eq!(c.ids(), [1, 2, 3]);
        assert_probs(&probs_after(&mut c), &[1.0 / 3.0; 3]);
    }

    #[test]
    fn typical_by_hand_on_skewed_distribution() {
        // p = [0.5, 0.3, 0.2]: H = 1.0297; |-ln p - H| = [0.336, 0.174, 0.580];
        // order 1, 0, 2; mass 0.3, 0.8 > 0.6 → keep [1, 0].
        let mut c = from_probs(&[0.5, 0.3, 0.2]);
        typical(&mut c, 0.6, 0);
        assert_eq!(c.ids(), [1, 0]);
        let mut c = from_probs(&[0.5, 0.3, 0.2]);
        typical(&mut c, 0.6, 3);
        assert_eq!(c.ids(), [1, 0, 2]);
    }

    /// tests/test-sampling.cpp: `test_top_n_sigma`.
    #[test]
    fn top_n_sigma_matches_llama_cpp_test_cases() {
        let probs = [0.1f32, 0.2, 0.3, 0.4];
        let mut c = from_probs(&probs);
        top_n_sigma(&mut c, 1.0);
        assert_probs(&probs_after(&mut c), &[0.0, 0.0, 0.428571, 0.571429]);
        for n in [0.0, 3.0] {
            let mut c = from_probs(&probs);
            top_n_sigma(&mut c, n);
            assert_probs(&probs_after(&mut c), &probs);
        }
    }

    #[test]
    fn logit_bias_adds_to_ids_in_any_order_and_bans_with_neg_inf() {
        let mut c = Candidates::from_entries(&[(0, 1.0), (1, 2.0), (2, 3.0)]);
        logit_bias(
            &mut c,
            &[(2, -1.5), (0, f32::NEG_INFINITY), (2, 0.5), (9, 4.0)],
        );
        let l: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
        assert_eq!(l, [f32::NEG_INFINITY, 2.0, 2.0]);
        let mut sorted = Candidates::from_entries(&[(2, 3.0), (0, 1.0), (1, 2.0)]);
        logit_bias(&mut sorted, &[(1, 10.0)]);
        assert_eq!(sorted.data[2].logit, 12.0);
    }

    #[test]
    fn discrete_walks_normalized_cumulative_sums() {
        let mut c = from_probs(&[0.1, 0.6, 0.3]);
        c.softmax();
        let mut rng = Mt19937::new(5);
        let u = Mt19937::new(5).next_f64();
        let want = if u <= 0.1 {
            0
        } else if u <= 0.7 {
            1
        } else {
            2
        };
        assert_eq!(discrete(&c, &mut rng), Some(want));
    }
}
