//! Mirostat 1 and 2 (llama.cpp's `mirostat` / `mirostat-v2` samplers): pick a token while
//! steering the observed surprise towards `tau` with learning rate `eta`.

use super::candidates::Candidates;
use super::filters::discrete;
use super::rng::Mt19937;

/// How many top tokens mirostat 1 fits its Zipf exponent on (llama.cpp's `m`, fixed by
/// `common_sampler_init`).
pub const MIROSTAT_M: usize = 100;

/// State shared by both versions: the target, the learning rate and the running `mu`.
#[derive(Clone, Debug)]
pub struct Mirostat {
    version: u8,
    tau: f32,
    eta: f32,
    mu: f32,
    n_vocab: usize,
}

impl Mirostat {
    /// `version` 1 or 2; `n_vocab` is the vocabulary size (used by version 1's estimate).
    pub fn new(version: u8, tau: f32, eta: f32, n_vocab: usize) -> Self {
        Self {
            version,
            tau,
            eta,
            mu: 2.0 * tau,
            n_vocab,
        }
    }

    /// The current target surprise bound (llama.cpp's `mu`).
    pub fn mu(&self) -> f32 {
        self.mu
    }

    /// Back to the initial `mu = 2·tau`.
    pub fn reset(&mut self) {
        self.mu = 2.0 * self.tau;
    }

    /// Chooses a candidate index and updates `mu`; `None` only for an empty array.
    pub fn sample(&mut self, c: &mut Candidates, rng: &mut Mt19937) -> Option<usize> {
        if c.is_empty() {
            return None;
        }
        sorted_softmax(c);
        if self.version == 1 {
            let k = self.zipf_k(c);
            c.keep_top(k);
        } else {
            let keep = c
                .data
                .iter()
                .position(|t| -t.p.log2() > self.mu)
                .unwrap_or(c.len());
            c.data.truncate(keep.max(1));
        }
        sorted_softmax(c);
        let idx = discrete(c, rng)?;
        let observed = -c.data[idx].p.log2();
        self.mu -= self.eta * (observed - self.tau);
        Some(idx)
    }

    /// Version 1's top-k: fit the Zipf exponent `s` on the `m` best tokens, then
    /// `k = (ε 2^μ / (1 - N^-ε))^(1/s)` with `ε = s - 1`, at least 1.
    fn zipf_k(&self, c: &Candidates) -> usize {
        let mut sum_ti_bi = 0.0f32;
        let mut sum_ti_sq = 0.0f32;
        for i in 0..(MIROSTAT_M - 1).min(c.len() - 1) {
            let t_i = ((i + 2) as f32 / (i + 1) as f32).ln();
            let b_i = (c.data[i].p / c.data[i + 1].p).ln();
            sum_ti_bi += t_i * b_i;
            sum_ti_sq += t_i * t_i;
        }
        let s_hat = sum_ti_bi / sum_ti_sq;
        let epsilon_hat = s_hat - 1.0;
        let k = ((epsilon_hat * 2f32.powf(self.mu))
            / (1.0 - (self.n_vocab as f32).powf(-epsilon_hat)))
        .powf(1.0 / s_hat);
        // C++ `int(k)` then `max(.., 1)`; NaN and negatives become 1 here.
        if k.is_finite() && k >= 1.0 {
            (k as usize).min(c.len())
        } else if k.is_infinite() && k > 0.0 {
            c.len()
        } else {
            1
        }
    }
}

fn sorted_softmax(c: &mut Candidates) {
    c.keep_top(c.len());
    c.softmax();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(logits: &[f32]) -> Candidates {
        let e: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(i, &l)| (i as u32, l))
            .collect();
        Candidates::from_entries(&e)
    }

    #[test]
    fn v2_truncates_at_surprise_mu_and_updates_mu_by_hand() {
        // p = [0.5, 0.25, 0.125, 0.125]: surprises 1, 2, 3, 3 bits. tau 1 → mu 2: keep 2.
        let logits = [0.5f32.ln(), 0.25f32.ln(), 0.125f32.ln(), 0.125f32.ln()];
        let mut m = Mirostat::new(2, 1.0, 0.1, 4);
        let mut c = cands(&logits);
        let mut rng = Mt19937::new(3);
        let u = Mt19937::new(3).next_f64();
        let idx = m.sample(&mut c, &mut rng).unwrap();
        assert_eq!(c.ids(), [0, 1]);
        // Renormalized: [2/3, 1/3].
        let want = usize::from(u > 2.0 / 3.0);
        assert_eq!(idx, want);
        let p: f32 = if want == 0 { 2.0 / 3.0 } else { 1.0 / 3.0 };
        let mu = 2.0 - 0.1 * (-p.log2() - 1.0);
        assert!((m.mu() - mu).abs() < 1e-6, "{} vs {mu}", m.mu());
    }

    #[test]
    fn v2_keeps_at_least_one_token() {
        let mut m = Mirostat::new(2, 0.01, 0.1, 3);
        let mut c = cands(&[0.0, 0.0, 0.0]);
        assert_eq!(m.sample(&mut c, &mut Mt19937::new(1)), Some(0));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn v1_k_follows_zipf_estimate_by_hand() {
        // Zipf with s = 1.5 over 50 tokens: p_i ∝ i^-1.5, so every b_i/t_i ratio is 1.5 and
        // s_hat = 1.5. mu = 2 tau = 4: k = (0.5 * 16 / (1 - 50^-0.5))^(1/1.5) ≈ 4.56 → 4.
        let logits: Vec<f32> = (1..=50).map(|i| -1.5 * (i as f32).ln()).collect();
        let m = Mirostat::new(1, 2.0, 0.1, 50);
        let mut c = cands(&logits);
        sorted_softmax(&mut c);
        let want = (0.5f32 * 16.0 / (1.0 - 50f32.powf(-0.5))).powf(1.0 / 1.5) as usize;
        assert_eq!(want, 4);
        assert_eq!(m.zipf_k(&c), want);
        let mut m = m;
        let idx = m.sample(&mut c, &mut Mt19937::new(9)).unwrap();
        assert_eq!(c.len(), 4);
        assert!(idx < 4);
        m.reset();
        assert_eq!(m.mu(), 4.0);
    }
}
