//! DRY ("Don't Repeat Yourself", llama.cpp's `dry` sampler, from koboldcpp): penalizes tokens
//! that would extend a sequence already repeated in the recent context, exponentially in its
//! length, except across sequence breakers.

use std::collections::{HashMap, VecDeque};

use super::candidates::Candidates;
use crate::vocab::Vocab;

/// Breaker strings are cut to this many bytes (llama.cpp's `MAX_CHAR_LEN`).
const MAX_BREAKER_CHARS: usize = 40;
/// Breaker tails are cut to this many tokens (llama.cpp's `MAX_SEQ_LEN`).
const MAX_BREAKER_TOKENS: usize = 20;
/// ln(f32::MAX): caps the exponent so that `base^exp` stays finite.
const FLOAT_MAX_LOG: f32 = 88.722_84;

/// DRY settings (llama.cpp's `dry_*` fields).
#[derive(Clone, Debug, PartialEq)]
pub struct DryParams {
    pub multiplier: f32,
    pub base: f32,
    pub allowed_length: i32,
    pub penalty_last_n: i32,
}

/// The DRY sampler: a window of accepted tokens and the processed sequence breakers, each a
/// head token with the token tails that complete the breaker after it.
#[derive(Clone, Debug)]
pub struct Dry {
    p: DryParams,
    window: usize,
    breakers: HashMap<u32, Vec<Vec<u32>>>,
    last: VecDeque<u32>,
}

impl Dry {
    /// Breakers are given as token sequences (llama.cpp's `llama_sampler_init_dry_testing`).
    pub fn with_token_breakers(p: DryParams, breakers: &[Vec<u32>]) -> Self {
        let mut map: HashMap<u32, Vec<Vec<u32>>> = HashMap::new();
        for b in breakers {
            if let Some((&head, tail)) = b.split_first() {
                let tail: Vec<u32> = tail.iter().take(MAX_BREAKER_TOKENS).copied().collect();
                let tails = map.entry(head).or_default();
                if !tails.contains(&tail) {
                    tails.push(tail);
                }
            }
        }
        Self::from_map(p, map)
    }

    /// Breakers as strings, matched against every token that contains them or starts one of
    /// them (llama.cpp's `get_overlapping_token_sequences`).
    pub fn new(p: DryParams, vocab: &Vocab, breakers: &[String]) -> Self {
        let mut map: HashMap<u32, Vec<Vec<u32>>> = HashMap::new();
        if enabled(&p) {
            for b in breakers.iter().filter(|b| !b.is_empty()) {
                let mut cut = b.len().min(MAX_BREAKER_CHARS);
                while !b.is_char_boundary(cut) {
                    cut -= 1;
                }
                overlapping_sequences(vocab, &b.as_bytes()[..cut], &mut map);
            }
        }
        Self::from_map(p, map)
    }

    fn from_map(p: DryParams, breakers: HashMap<u32, Vec<Vec<u32>>>) -> Self {
        let window = usize::try_from(p.penalty_last_n).unwrap_or(0);
        Self {
            p,
            window,
            breakers,
            last: VecDeque::with_capacity(window.min(4096)),
        }
    }

    /// Whether the sampler can change anything at all.
    pub fn is_active(&self) -> bool {
        enabled(&self.p) && self.window > 0
    }

    /// Whether applying now could change a logit (enough history for a repeat).
    pub fn has_effect(&self) -> bool {
        self.is_active() && self.last.len() > usize::try_from(self.p.allowed_length).unwrap_or(0)
    }

    /// Appends a token to the history the penalty looks back over.
    pub fn accept(&mut self, token: u32) {
        if !self.is_active() {
            return;
        }
        if self.last.len() == self.window {
            self.last.pop_front();
        }
        self.last.push_back(token);
    }

    /// Forgets the token history.
    pub fn reset(&mut self) {
        self.last.clear();
    }

    /// `i`-th most recent token (llama.cpp's `ring_buffer::rat`).
    fn rat(&self, i: usize) -> u32 {
        self.last[self.last.len() - 1 - i]
    }

    /// Lowers the logits of tokens that would extend a repeated sequence (llama.cpp's DRY).
    pub fn apply(&self, c: &mut Candidates) {
        if !self.is_active() {
            return;
        }
        let n = self.last.len().min(self.window);
        let allowed = self.p.allowed_length;
        if n as i64 <= i64::from(allowed) {
            return;
        }
        let rep_limit = self.rep_limit(n);
        if (rep_limit as i64) < i64::from(allowed) {
            return;
        }
        let counts = self.repeat_counts(n, rep_limit);
        let mut max_repeat: HashMap<u32, usize> = HashMap::new();
        for (i, &len) in counts.iter().enumerate().take(n - 1) {
            if len as i64 >= i64::from(allowed) {
                let token = self.rat(n - 2 - i);
                let e = max_repeat.entry(token).or_insert(len);
                *e = (*e).max(len);
            }
        }
        let max_exp = if self.p.base > 1.000_001 {
            (FLOAT_MAX_LOG / self.p.base.ln()) as i64
        } else {
            0
        };
        for t in &mut c.data {
            let Some(&len) = max_repeat.get(&t.id) else {
                continue;
            };
            let single_breaker = self
                .breakers
                .get(&t.id)
                .is_some_and(|tails| tails.iter().any(|tail| tail.is_empty()));
            if single_breaker {
                continue;
            }
            let mut exp = len as i64 - i64::from(allowed);
            if max_exp > 0 && exp > max_exp {
                exp = max_exp;
            }
            t.logit -= self.p.multiplier * self.p.base.powi(exp as i32);
        }
        c.sorted = false;
    }

    /// Step 1: the most recent breaker limits how far back a repeat may reach.
    fn rep_limit(&self, n: usize) -> usize {
        for i in 0..n {
            let Some(tails) = self.breakers.get(&self.rat(i)) else {
                continue;
            };
            let mut longest: Option<usize> = None;
            for tail in tails {
                let len = tail.len();
                if longest.is_none_or(|l| len > l)
                    && len <= i
                    && (0..len).all(|o| tail[o] == self.rat(i - o - 1))
                {
                    longest = Some(len);
                }
            }
            if let Some(len) = longest {
                return i - len;
            }
        }
        n
    }

    /// Step 2: reverse Z-algorithm; `counts[last - k]` is how many of the most recent tokens
    /// also end `k` positions earlier, capped at `rep_limit`.
    fn repeat_counts(&self, n: usize, rep_limit: usize) -> Vec<usize> {
        let mut counts = vec![0usize; n];
        let last = n - 1;
        let (mut lt, mut rt) = (0usize, 0usize);
        for k in 1..n {
            if k > rt {
                let mut m = 0;
                while m + k < n && self.rat(m) == self.rat(m + k) {
                    m += 1;
                }
                counts[last - k] = m.min(rep_limit);
                if m > 0 {
                    lt = k;
                    rt = k + m - 1;
                }
            } else {
                let p = k - lt;
                let right_part_len = rt - k + 1;
                if counts[last - p] < right_part_len {
                    counts[last - k] = counts[last - p].min(rep_limit);
                } else {
                    let mut i = rt + 1;
                    while i < n && self.rat(i) == self.rat(i - k) {
                        i += 1;
                    }
                    counts[last - k] = (i - k).min(rep_limit);
                    lt = k;
                    rt = i - 1;
                }
            }
        }
        counts
    }
}

fn enabled(p: &DryParams) -> bool {
    p.multiplier != 0.0 && p.base >= 1.0 && p.penalty_last_n > 0
}

/// Every token that contains `s` gets an empty tail; every token whose end starts `s` gets
/// the tokenization of the rest of `s` as a tail.
fn overlapping_sequences(vocab: &Vocab, s: &[u8], map: &mut HashMap<u32, Vec<Vec<u32>>>) {
    for id in 0..vocab.n_tokens() as u32 {
        let word = vocab.token_to_piece(id, true);
        if contains(word, s) {
            map.entry(id).or_default().push(Vec::new());
            continue;
        }
        for pos in (0..word.len()).filter(|&p| word[p] == s[0]) {
            let overlap = (word.len() - pos).min(s.len());
            if word[pos..pos + overlap] != s[..overlap] {
                continue;
            }
            let rest = String::from_utf8_lossy(&s[overlap..]);
            let mut tail = vocab.tokenize(&rest, false, false);
            tail.truncate(MAX_BREAKER_TOKENS);
            let tails = map.entry(id).or_default();
            if !tails.contains(&tail) {
                tails.push(tail);
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_probs(probs: &[f32]) -> Candidates {
        let e: Vec<(u32, f32)> = probs
            .iter()
            .enumerate()
            .map(|(i, &p)| (i as u32, p.ln()))
            .collect();
        Candidates::from_entries(&e)
    }

    /// tests/test-sampling.cpp `test_dry`: probabilities after DRY and a softmax.
    fn check(
        probs: &[f32],
        history: &[u32],
        want: &[f32],
        (multiplier, base, allowed_length, penalty_last_n): (f32, f32, i32, i32),
        breakers: &[Vec<u32>],
    ) {
        let p = DryParams {
            multiplier,
            base,
            allowed_length,
            penalty_last_n,
        };
        let mut dry = Dry::with_token_breakers(p, breakers);
        for &t in history {
            dry.accept(t);
        }
        let mut c = from_probs(probs);
        dry.apply(&mut c);
        c.softmax();
        for (t, w) in c.data.iter().zip(want) {
            assert!((t.p - w).abs() < 1e-5, "{history:?}: {} vs {w}", t.p);
        }
    }

    #[test]
    fn dry_matches_llama_cpp_test_cases() {
        let q = [0.25f32; 4];
        let f = [0.2f32; 5];
        check(&q, &[0, 1], &q, (1.0, 1.1, 2, 4), &[]);
        check(
            &q,
            &[0, 1, 2, 0, 1],
            &[0.296923, 0.296923, 0.109232, 0.296923],
            (1.0, 1.1, 2, 5),
            &[],
        );
        check(&f, &[0, 1, 3, 4, 0, 1], &f, (1.0, 1.1, 2, 6), &[vec![3]]);
        check(
            &f,
            &[0, 1, 2, 0, 1],
            &[0.241818, 0.241818, 0.032727, 0.241818, 0.241818],
            (2.0, 1.1, 2, 5),
            &[],
        );
        check(&f, &[0, 1, 2, 3, 4, 0, 1], &f, (1.0, 1.1, 4, 7), &[]);
    }

    #[test]
    fn penalty_grows_with_repeat_length_by_hand() {
        // History a b c a b: the next `c` would extend the 2-long repeat "a b" → exponent
        // 2 - allowed(1) = 1: penalty 1.0 * 2^1 = 2. Window 4 (b c a b) sees only the repeat "b"
        // (length 1, exponent 0: penalty 1); window 3 (c a b) sees no repeat at all.
        for (window, want) in [(5, 2.0f32), (4, 1.0), (3, 0.0)] {
            let p = DryParams {
                multiplier: 1.0,
                base: 2.0,
                allowed_length: 1,
                penalty_last_n: window,
            };
            let mut dry = Dry::with_token_breakers(p, &[]);
            for t in [0, 1, 2, 0, 1] {
                dry.accept(t);
            }
            let mut c = Candidates::from_entries(&[(0, 0.0), (1, 0.0), (2, 0.0)]);
            dry.apply(&mut c);
            assert_eq!(c.data[2].logit, -want, "window {window}");
            assert_eq!(c.data[0].logit, 0.0);
        }
    }
}
