//! Byte-level BPE (GPT-2 style): merge ranks and llama.cpp's rank-ordered merge loop.
//!
//! Each pre-tokenized word is turned into one symbol per UTF-8 byte (the byte's GPT-2 char), then
//! the adjacent pair with the lowest merge rank (ties: leftmost) is merged until no ranked pair
//! is left. Symbol strings are interned at load time so the loop works on integer ids.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::unicode::BYTE_TO_CHAR;

/// Multiplicative hasher for the packed `(left, right)` symbol-pair keys; SipHash is needlessly
/// slow for these trusted integer keys.
#[derive(Default)]
struct PairHasher(u64);

impl Hasher for PairHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type PairMap = HashMap<u64, Merge, BuildHasherDefault<PairHasher>>;

#[derive(Clone, Copy, Debug)]
struct Merge {
    rank: u32,
    result: u32,
}

fn pair_key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

/// Merge table of a byte-level BPE vocabulary.
#[derive(Debug)]
pub(crate) struct BpeModel {
    sym_ids: HashMap<Box<str>, u32>,
    sym_text: Vec<Box<str>>,
    sym_token: Vec<Option<u32>>,
    pairs: PairMap,
    byte_sym: [u32; 256],
}

/// One symbol of the word being merged; `len == 0` marks a symbol merged into its left neighbour.
#[derive(Clone, Copy)]
struct Sym {
    id: u32,
    len: usize,
    prev: usize,
    next: usize,
}

const NONE: usize = usize::MAX;

impl BpeModel {
    /// Builds the merge table. Each merge is `"left right"` split at the first space after the
    /// first byte (as llama.cpp does); lines without such a space are ignored and, for duplicate
    /// pairs, the first (lowest) rank wins.
    pub(crate) fn new(merges: &[String], token_to_id: &HashMap<String, u32>) -> Self {
        let mut model = BpeModel {
            sym_ids: HashMap::new(),
            sym_text: Vec::new(),
            sym_token: Vec::new(),
            pairs: PairMap::default(),
            byte_sym: [0; 256],
        };
        for (b, c) in BYTE_TO_CHAR.iter().enumerate() {
            let mut buf = [0u8; 4];
            model.byte_sym[b] = model.intern(c.encode_utf8(&mut buf), token_to_id);
        }
        for (rank, line) in merges.iter().enumerate() {
            let Some(split) = line.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1) else {
                continue;
            };
            let (first, second) = (&line[..split], &line[split + 1..]);
            let left = model.intern(first, token_to_id);
            let right = model.intern(second, token_to_id);
            let result = model.intern(&[first, second].concat(), token_to_id);
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            model
                .pairs
                .entry(pair_key(left, right))
                .or_insert(Merge { rank, result });
        }
        model
    }

    fn intern(&mut self, text: &str, token_to_id: &HashMap<String, u32>) -> u32 {
        if let Some(&id) = self.sym_ids.get(text) {
            return id;
        }
        let id = self.sym_text.len() as u32;
        self.sym_ids.insert(text.into(), id);
        self.sym_text.push(text.into());
        self.sym_token.push(token_to_id.get(text).copied());
        id
    }

    /// Number of merge rules kept.
    pub(crate) fn n_merges(&self) -> usize {
        self.pairs.len()
    }

    /// Appends the tokens of one pre-tokenized word to `out`.
    pub(crate) fn encode_word(
        &self,
        word: &str,
        ignore_merges: bool,
        token_to_id: &HashMap<String, u32>,
        out: &mut Vec<u32>,
    ) {
        let bytes = word.as_bytes();
        if ignore_merges {
            let encoded: String = bytes.iter().map(|&b| BYTE_TO_CHAR[b as usize]).collect();
            if let Some(&id) = token_to_id.get(&encoded) {
                out.push(id);
                return;
            }
        }
        let n = bytes.len();
        let mut syms: Vec<Sym> = bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| Sym {
                id: self.byte_sym[b as usize],
                len: 1,
                prev: if i == 0 { NONE } else { i - 1 },
                next: if i + 1 == n { NONE } else { i + 1 },
            })
            .collect();
        self.merge(&mut syms);
        for sym in syms.iter().filter(|s| s.len > 0) {
            self.push_symbol(sym.id, token_to_id, out);
        }
    }

    fn merge(&self, syms: &mut [Sym]) {
        // (rank, left, right, combined length); Reverse makes the max-heap pop the lowest rank,
        // then the leftmost pair, like llama.cpp's comparator.
        let mut queue: BinaryHeap<Reverse<(u32, usize, usize, usize)>> = BinaryHeap::new();
        let push = |queue: &mut BinaryHeap<_>, syms: &[Sym], left: usize, right: usize| {
            if left == NONE || right == NONE {
                return;
            }
            if let Some(m) = self.pairs.get(&pair_key(syms[left].id, syms[right].id)) {
                queue.push(Reverse((
                    m.rank,
                    left,
                    right,
                    syms[left].len + syms[right].len,
                )));
            }
        };
        for i in 1..syms.len() {
            push(&mut queue, syms, i - 1, i);
        }
        while let Some(Reverse((_, left, right, len))) = queue.pop() {
            let (l, r) = (syms[left], syms[right]);
            // Stale entry: one side was merged away or grew since the pair was queued.
            if l.len == 0 || r.len == 0 || l.len + r.len != len {
                continue;
            }
            let Some(m) = self.pairs.get(&pair_key(l.id, r.id)) else {
                continue;
            };
            syms[left].id = m.result;
            syms[left].len = len;
            syms[left].next = r.next;
            syms[right].len = 0;
            if r.next != NONE {
                syms[r.next].prev = left;
            }
            push(&mut queue, syms, l.prev, left);
            push(&mut queue, syms, left, r.next);
        }
    }

    /// Emits a final symbol; symbols that are not tokens fall back to their single-byte
    /// characters, which llama.cpp looks up byte by byte (so only ASCII bytes can match).
    fn push_symbol(&self, sym: u32, token_to_id: &HashMap<String, u32>, out: &mut Vec<u32>) {
        let idx = sym as usize;
        if let Some(id) = self.sym_token[idx] {
            out.push(id);
            return;
        }
        for b in self.sym_text[idx].bytes().filter(u8::is_ascii) {
            let mut buf = [0u8; 4];
            if let Some(&id) = token_to_id.get(char::from(b).encode_utf8(&mut buf) as &str) {
                out.push(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(tokens: &[&str]) -> HashMap<String, u32> {
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect()
    }

    fn encode(model: &BpeModel, t2i: &HashMap<String, u32>, word: &str, ignore: bool) -> Vec<u32> {
        let mut out = Vec::new();
        model.encode_word(word, ignore, t2i, &mut out);
        out
    }

    #[test]
    fn merges_apply_in_rank_order_not_left_to_right() {
        let t2i = vocab(&["a", "b", "c", "ab", "bc", "abc"]);
        let merges: Vec<String> = ["b c", "a bc", "a b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let model = BpeModel::new(&merges, &t2i);
        // "b c" has the best rank, so "abc" is built as a + bc, never ab + c.
        assert_eq!(encode(&model, &t2i, "abc", false), [5]);
        assert_eq!(encode(&model, &t2i, "ab", false), [3]);
        assert_eq!(encode(&model, &t2i, "cab", false), [2, 3]);
    }

    #[test]
    fn equal_rank_ties_merge_leftmost_first() {
        let t2i = vocab(&["a", "aa"]);
        let model = BpeModel::new(&["a a".to_string()], &t2i);
        assert_eq!(encode(&model, &t2i, "aaa", false), [1, 0]);
    }

    #[test]
    fn words_are_byte_encoded_before_merging() {
        let t2i = vocab(&["Ġ", "x", "Ġx"]);
        let model = BpeModel::new(&["Ġ x".to_string()], &t2i);
        assert_eq!(encode(&model, &t2i, " x", false), [2]);
    }

    #[test]
    fn ignore_merges_takes_whole_word_tokens_first() {
        let t2i = vocab(&["a", "b", "ab"]);
        let model = BpeModel::new(&[], &t2i);
        assert_eq!(encode(&model, &t2i, "ab", false), [0, 1]);
        assert_eq!(encode(&model, &t2i, "ab", true), [2]);
    }

    #[test]
    fn unknown_symbols_keep_only_ascii_byte_tokens() {
        let t2i = vocab(&["a"]);
        let model = BpeModel::new(&[], &t2i);
        assert_eq!(encode(&model, &t2i, "aé", false), [0]);
        assert_eq!(model.n_merges(), 0);
    }
}
