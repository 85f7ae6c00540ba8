//! Repetition, frequency and presence penalties over a window of accepted tokens.

use std::collections::{HashMap, VecDeque};

use super::candidates::{sanitize, Candidates};

/// llama.cpp's `penalties` sampler: remembers accepted tokens and lowers the logits of those
/// seen in the last `last_n`.
#[derive(Clone, Debug)]
pub struct Penalties {
    /// `None`: every accepted token counts; `Some(0)`: disabled.
    window: Option<usize>,
    repeat: f32,
    freq: f32,
    present: f32,
    recent: VecDeque<u32>,
    counts: HashMap<u32, u32>,
}

impl Penalties {
    /// `last_n`: window length, `0` disables, negative means the whole history.
    pub fn new(last_n: i32, repeat: f32, freq: f32, present: f32) -> Self {
        let window = usize::try_from(last_n).ok();
        Self {
            window,
            repeat,
            freq,
            present,
            recent: VecDeque::with_capacity(window.unwrap_or(0).min(4096)),
            counts: HashMap::new(),
        }
    }

    /// Whether applying can change any logit at all.
    pub fn is_active(&self) -> bool {
        self.window != Some(0) && (self.repeat != 1.0 || self.freq != 0.0 || self.present != 0.0)
    }

    /// Whether applying now would change anything (active and with a non-empty history).
    pub fn has_effect(&self) -> bool {
        self.is_active() && !self.counts.is_empty()
    }

    /// Records a token, evicting the oldest once the window is full.
    pub fn accept(&mut self, token: u32) {
        match self.window {
            Some(0) => return,
            Some(n) if self.recent.len() >= n => {
                if let Some(old) = self.recent.pop_front() {
                    self.forget(old);
                }
            }
            _ => {}
        }
        *self.counts.entry(token).or_insert(0) += 1;
        // With an unbounded window nothing is ever evicted, so the tokens need not be kept.
        if self.window.is_some() {
            self.recent.push_back(token);
        }
    }

    fn forget(&mut self, token: u32) {
        if let Some(c) = self.counts.get_mut(&token) {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(&token);
            }
        }
    }

    pub fn reset(&mut self) {
        self.recent.clear();
        self.counts.clear();
    }

    /// Occurrences of `token` in the current window.
    pub fn count(&self, token: u32) -> u32 {
        self.counts.get(&token).copied().unwrap_or(0)
    }

    /// The penalised value of one logit seen `count > 0` times (llama.cpp's arithmetic, in f32).
    pub fn penalize(&self, logit: f32, count: u32) -> f32 {
        // Dividing a negative logit would raise its probability, hence multiply there.
        let scaled = if logit <= 0.0 {
            logit * self.repeat
        } else {
            logit / self.repeat
        };
        scaled - (count as f32 * self.freq + self.present)
    }

    /// Applies the penalties to every candidate seen in the window, in any candidate order.
    pub fn apply(&self, c: &mut Candidates) {
        if !self.has_effect() {
            return;
        }
        for t in &mut c.data {
            if let Some(&count) = self.counts.get(&t.id) {
                t.logit = sanitize(self.penalize(t.logit, count));
            }
        }
        c.sorted = false;
    }

    /// Same as [`apply`](Self::apply) for candidates fresh from [`Candidates::fill`], where
    /// index == token id: touches only the remembered tokens instead of scanning the vocabulary.
    /// Entries whose id does not match their index are skipped, never misattributed.
    pub fn apply_vocab_order(&self, c: &mut Candidates) {
        if !self.has_effect() {
            return;
        }
        for (&id, &count) in &self.counts {
            if let Some(t) = c.data.get_mut(id as usize).filter(|t| t.id == id) {
                t.logit = sanitize(self.penalize(t.logit, count));
            }
        }
        c.sorted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs both application paths and checks they agree.
    fn logits_after(p: &Penalties, logits: &[f32]) -> Vec<f32> {
        let mut c = Candidates::default();
        c.fill(logits);
        let mut scanned = c.clone();
        p.apply_vocab_order(&mut c);
        p.apply(&mut scanned);
        assert_eq!(c.data, scanned.data);
        c.data.iter().map(|t| t.logit).collect()
    }

    #[test]
    fn repeat_penalty_divides_positive_and_multiplies_negative_logits() {
        let mut p = Penalties::new(64, 2.0, 0.0, 0.0);
        for t in [0, 1, 2] {
            p.accept(t);
        }
        let out = logits_after(&p, &[3.0, -3.0, 0.0, 5.0]);
        // 3/2, -3*2, 0*2 (non-positive branch), token 3 never seen.
        assert_eq!(out, [1.5, -6.0, 0.0, 5.0]);
    }

    #[test]
    fn frequency_penalty_scales_with_count() {
        let mut p = Penalties::new(64, 1.0, 0.5, 0.0);
        for t in [1, 1, 1, 2] {
            p.accept(t);
        }
        let out = logits_after(&p, &[1.0, 1.0, 1.0]);
        assert_eq!(out, [1.0, 1.0 - 3.0 * 0.5, 1.0 - 0.5]);
    }

    #[test]
    fn presence_penalty_is_flat_once_seen() {
        let mut p = Penalties::new(64, 1.0, 0.0, 0.75);
        for t in [0, 0, 0, 0, 2] {
            p.accept(t);
        }
        let out = logits_after(&p, &[2.0, 2.0, -1.0]);
        assert_eq!(out, [1.25, 2.0, -1.75]);
    }

    #[test]
    fn combined_penalties_apply_repeat_then_subtract() {
        let mut p = Penalties::new(64, 1.25, 0.1, 0.2);
        for t in [0, 0, 1] {
            p.accept(t);
        }
        let out = logits_after(&p, &[2.5, -0.8]);
        let want0 = 2.5f32 / 1.25 - (2.0 * 0.1 + 0.2);
        let want1 = -0.8f32 * 1.25 - (0.1 + 0.2);
        assert_eq!(out, [want0, want1]);
    }

    #[test]
    fn penalty_window_respects_last_n() {
        let mut p = Penalties::new(3, 1.0, 1.0, 0.0);
        for t in [0, 0, 1, 2, 2] {
            p.accept(t);
        }
        // Window holds [1, 2, 2]: token 0 has left it.
        assert_eq!((p.count(0), p.count(1), p.count(2)), (0, 1, 2));
        assert_eq!(logits_after(&p, &[0.0, 0.0, 0.0]), [0.0, -1.0, -2.0]);
    }

    #[test]
    fn negative_last_n_counts_whole_history_and_zero_disables() {
        let mut all = Penalties::new(-1, 1.0, 1.0, 0.0);
        let mut off = Penalties::new(0, 1.0, 1.0, 0.0);
        for _ in 0..1000 {
            all.accept(5);
            off.accept(5);
        }
        assert_eq!(all.count(5), 1000);
        assert_eq!(off.count(5), 0);
        assert!(!off.is_active());
    }

    #[test]
    fn apply_works_on_reordered_candidates_and_ignores_out_of_vocab_tokens() {
        let mut p = Penalties::new(8, 1.0, 1.0, 0.0);
        p.accept(1);
        p.accept(1_000_000);
        let mut c = Candidates::from_entries(&[(2, 0.0), (1, 0.0), (0, 0.0)]);
        p.apply(&mut c);
        let out: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
        assert_eq!(out, [0.0, -1.0, 0.0]);
    }

    #[test]
    fn vocab_order_path_never_penalises_the_wrong_token() {
        let mut p = Penalties::new(8, 1.0, 1.0, 0.0);
        p.accept(0);
        p.accept(1);
        // Index 0 holds id 2, so token 0 must be skipped there; index 1 holds id 1.
        let mut c = Candidates::from_entries(&[(2, 0.0), (1, 0.0), (0, 0.0)]);
        p.apply_vocab_order(&mut c);
        let out: Vec<f32> = c.data.iter().map(|t| t.logit).collect();
        assert_eq!(out, [0.0, -1.0, 0.0]);
    }

    #[test]
    fn reset_forgets_history() {
        let mut p = Penalties::new(8, 2.0, 0.0, 0.0);
        p.accept(0);
        p.reset();
        assert_eq!(logits_after(&p, &[4.0]), [4.0]);
    }
}
