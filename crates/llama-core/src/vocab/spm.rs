//! SentencePiece-style tokenizer (llama.cpp's `llm_tokenizer_spm`): score-ordered bigram merging
//! over UTF-8 characters, with `<0xNN>` byte fallback for pieces that are not tokens.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// The vocabulary data the SPM merge loop needs.
pub(crate) struct SpmVocab<'a> {
    pub token_to_id: &'a HashMap<String, u32>,
    pub scores: &'a [f32],
    pub unk: Option<u32>,
}

#[derive(Clone, Copy)]
struct Sym {
    start: usize,
    len: usize,
    prev: usize,
    next: usize,
}

const NONE: usize = usize::MAX;

/// Queue entry: highest score first, then leftmost.
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl SpmVocab<'_> {
    /// Appends the tokens of `text` (spaces already escaped to `▁`) to `out`.
    pub(crate) fn tokenize(&self, text: &str, out: &mut Vec<u32>) {
        let mut syms: Vec<Sym> = Vec::with_capacity(text.len());
        for (i, (start, c)) in text.char_indices().enumerate() {
            let len = c.len_utf8();
            syms.push(Sym {
                start,
                len,
                prev: if i == 0 { NONE } else { i - 1 },
                next: if start + len == text.len() {
                    NONE
                } else {
                    i + 1
                },
            });
        }
        let mut queue = BinaryHeap::new();
        for i in 1..syms.len() {
            self.try_add_bigram(text, &syms, i - 1, i, &mut queue);
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (syms[b.left], syms[b.right]);
            if l.len == 0 || r.len == 0 || l.len + r.len != b.len {
                continue;
            }
            syms[b.left].len = b.len;
            syms[b.left].next = r.next;
            syms[b.right].len = 0;
            if r.next != NONE {
                syms[r.next].prev = b.left;
            }
            self.try_add_bigram(text, &syms, l.prev, b.left, &mut queue);
            self.try_add_bigram(text, &syms, b.left, r.next, &mut queue);
        }
        for sym in syms.iter().filter(|s| s.len > 0) {
            self.push_piece(&text[sym.start..sym.start + sym.len], out);
        }
    }

    fn try_add_bigram(
        &self,
        text: &str,
        syms: &[Sym],
        left: usize,
        right: usize,
        queue: &mut BinaryHeap<Bigram>,
    ) {
        if left == NONE || right == NONE {
            return;
        }
        let (start, len) = (syms[left].start, syms[left].len + syms[right].len);
        let Some(&id) = self.token_to_id.get(&text[start..start + len]) else {
            return;
        };
        let Some(&score) = self.scores.get(id as usize) else {
            return;
        };
        queue.push(Bigram {
            score,
            left,
            right,
            len,
        });
    }

    /// A final piece: its token, or one byte token per UTF-8 byte (`<0xNN>`, else the raw
    /// single-byte string). llama.cpp aborts when neither exists; here `unk` is used, if any.
    fn push_piece(&self, piece: &str, out: &mut Vec<u32>) {
        if let Some(&id) = self.token_to_id.get(piece) {
            out.push(id);
            return;
        }
        for b in piece.bytes() {
            let hex = format!("<0x{b:02X}>");
            let id = self.token_to_id.get(&hex).copied().or_else(|| {
                let raw = char::from(b);
                b.is_ascii()
                    .then(|| self.token_to_id.get(raw.to_string().as_str()).copied())
                    .flatten()
            });
            if let Some(id) = id.or(self.unk) {
                out.push(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tokens: &[(&str, f32)], text: &str) -> Vec<u32> {
        let t2i: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (t.to_string(), i as u32))
            .collect();
        let scores: Vec<f32> = tokens.iter().map(|(_, s)| *s).collect();
        let spm = SpmVocab {
            token_to_id: &t2i,
            scores: &scores,
            unk: None,
        };
        let mut out = Vec::new();
        spm.tokenize(text, &mut out);
        out
    }

    #[test]
    fn highest_scoring_bigram_merges_first() {
        let toks = [
            ("a", 0.0),
            ("b", 0.0),
            ("c", 0.0),
            ("ab", -5.0),
            ("bc", -1.0),
            ("abc", -9.0),
        ];
        // "bc" outscores "ab"; afterwards "a"+"bc" forms "abc".
        assert_eq!(run(&toks, "abc"), [5]);
        let toks = [
            ("a", 0.0),
            ("b", 0.0),
            ("c", 0.0),
            ("ab", -1.0),
            ("bc", -5.0),
        ];
        assert_eq!(run(&toks, "abc"), [3, 2]);
    }

    #[test]
    fn score_ties_merge_leftmost_first() {
        let toks = [("a", 0.0), ("aa", -1.0)];
        assert_eq!(run(&toks, "aaa"), [1, 0]);
    }

    #[test]
    fn unknown_chars_fall_back_to_byte_tokens() {
        let toks = [("<0xC3>", 0.0), ("<0xA9>", 0.0), ("x", 0.0)];
        assert_eq!(run(&toks, "xé"), [2, 0, 1]);
    }
}
