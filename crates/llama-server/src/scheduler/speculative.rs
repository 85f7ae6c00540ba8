//! Speculative decoding without a draft model: llama.cpp's `ngram-simple` drafter
//! (`common/ngram-map.cpp`, `common_ngram_simple_draft`) looks up the last `size_n` tokens of a
//! request's own context (prompt + generated) earlier in that context and proposes the up to
//! `size_m` tokens that followed them; the engine verifies the draft in one decode call
//! (`engine/speculative.rs`). Plus this server's own throttle ([`Throttle`]): drafts that keep
//! being rejected cost a wide decode call each, so a request whose drafts fail backs off.

/// `--spec-type` values and sizes (llama.cpp's `common_params_speculative_ngram_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecConfig {
    /// Tokens looked up (`--spec-ngram-simple-size-n`, default 12).
    pub size_n: usize,
    /// Most tokens drafted (`--spec-ngram-simple-size-m`, default 48).
    pub size_m: usize,
}

impl Default for SpecConfig {
    fn default() -> Self {
        SpecConfig {
            size_n: 12,
            size_m: 48,
        }
    }
}

/// llama.cpp's `common_ngram_simple_draft`: `tokens` is what the slot's cache holds (prompt and
/// generated tokens decoded so far), `sampled` the token sampled last, not decoded yet. The
/// pattern is the last `size_n - 1` cached tokens plus `sampled`; the latest earlier occurrence
/// (never at position 0, which llama.cpp reads as "no match") gives the draft: the tokens after
/// it, at most `size_m`, and nothing when fewer than `size_n` follow.
pub fn ngram_simple_draft(cfg: SpecConfig, tokens: &[u32], sampled: u32) -> Vec<u32> {
    let (n, m) = (cfg.size_n, cfg.size_m);
    let len = tokens.len();
    if n == 0 || len <= n + m + 1 {
        return Vec::new();
    }
    let mut pattern: Vec<u32> = tokens[len - n + 1..].to_vec();
    pattern.push(sampled);
    let found = (1..len - n)
        .rev()
        .find(|&j| tokens[j..j + n] == pattern[..]);
    let Some(at) = found else {
        return Vec::new();
    };
    let copy = m.min(len - (at + n));
    if copy < n {
        return Vec::new();
    }
    tokens[at + n..at + n + copy].to_vec()
}

/// Per-request drafting statistics (llama.cpp's `draft_n`, `draft_n_accepted` and verification
/// steps) and the back-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpecStats {
    /// Draft tokens verified.
    pub drafted: usize,
    /// Draft tokens the model agreed with.
    pub accepted: usize,
    /// Verification decode calls.
    pub steps: usize,
}

/// Longest pause, in generated tokens, after drafts that were wholly rejected.
const MAX_PAUSE: usize = 64;

/// Adaptive drafting (this server's, not llama.cpp's, which drafts whenever the n-gram
/// matches): a verification that accepts nothing doubles a pause (1, 2, 4, … up to
/// [`MAX_PAUSE`] generated tokens) during which the request does not draft, and caps the next
/// draft at a quarter of `size_m`; one that accepts something clears the pause and lets the
/// next draft be twice as long as what was accepted, up to `size_m`. So text that does not
/// repeat itself costs at most a few wide decode calls, and a request copying its prompt drafts
/// at full length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttle {
    misses: u32,
    /// Generated tokens still to go before drafting again.
    pause: usize,
    /// Most tokens the next draft may have (0: not limited yet).
    cap: usize,
}

impl Throttle {
    /// Most tokens to draft now (0: do not draft); counts one generated token of a pause.
    pub fn allowance(&mut self, size_m: usize) -> usize {
        if self.pause > 0 {
            self.pause -= 1;
            return 0;
        }
        if self.cap == 0 {
            size_m
        } else {
            self.cap.min(size_m)
        }
    }

    /// A draft of `drafted` tokens had its first `accepted` confirmed.
    pub fn verified(&mut self, drafted: usize, accepted: usize, size_m: usize) {
        if accepted == 0 {
            self.misses = (self.misses + 1).min(6);
            self.pause = (1usize << self.misses).min(MAX_PAUSE);
            self.cap = (size_m / 4).max(1);
        } else {
            self.misses = 0;
            self.pause = 0;
            self.cap = if accepted == drafted {
                size_m
            } else {
                (2 * accepted).max(1)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: SpecConfig = SpecConfig {
        size_n: 2,
        size_m: 3,
    };

    #[test]
    fn drafts_what_followed_the_last_earlier_occurrence() {
        // Pattern: [tokens[len-1], sampled] = [1, 2]; latest earlier [1, 2] is at 5.
        let tokens = [9, 1, 2, 3, 4, 1, 2, 7, 8, 6, 5, 1];
        assert_eq!(ngram_simple_draft(SMALL, &tokens, 2), vec![7, 8, 6]);
        // Fewer than size_m follow: draft what there is, if at least size_n.
        let tokens = [9, 9, 9, 9, 9, 9, 9, 1, 2, 7, 1];
        assert_eq!(ngram_simple_draft(SMALL, &tokens, 2), vec![7, 1]);
    }

    #[test]
    fn no_draft_without_a_match_or_context() {
        let tokens = [9, 1, 2, 3, 4, 5, 6, 7, 8, 1];
        assert!(ngram_simple_draft(SMALL, &tokens, 9).is_empty());
        // A match at position 0 counts as none (llama.cpp).
        let tokens = [1, 2, 5, 6, 7, 8, 9, 9, 1];
        assert!(ngram_simple_draft(SMALL, &tokens, 2).is_empty());
        // Too short: len must exceed size_n + size_m + 1.
        assert!(ngram_simple_draft(SMALL, &[1, 2, 3, 4, 5, 1], 2).is_empty());
    }

    #[test]
    fn matches_llama_cpp_on_a_repeated_sequence() {
        let cfg = SpecConfig {
            size_n: 3,
            size_m: 4,
        };
        let seq: Vec<u32> = (10..20).chain(10..13).collect();
        // Pattern [11, 12, 13]: at 1, followed by 14.. (4 tokens).
        assert_eq!(ngram_simple_draft(cfg, &seq, 13), vec![14, 15, 16, 17]);
    }

    #[test]
    fn rejected_drafts_back_off_and_accepted_ones_restore() {
        let mut t = Throttle::default();
        assert_eq!(t.allowance(48), 48);
        t.verified(48, 0, 48);
        assert_eq!(t.allowance(48), 0);
        assert_eq!(t.allowance(48), 0);
        assert_eq!(t.allowance(48), 12);
        t.verified(12, 0, 48);
        assert_eq!((0..4).map(|_| t.allowance(48)).sum::<usize>(), 0);
        assert_eq!(t.allowance(48), 12);
        t.verified(12, 3, 48);
        assert_eq!(t.allowance(48), 6);
        t.verified(6, 6, 48);
        assert_eq!(t.allowance(48), 48);
        for _ in 0..20 {
            t.verified(1, 0, 48);
        }
        assert_eq!(t.pause, MAX_PAUSE);
    }
}
