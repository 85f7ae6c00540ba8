//! WordPiece (BERT) tokenization as llama.cpp's `llm_tokenizer_wpm_session` does it: BertNormalizer-
//! style preprocessing (lowercasing, accent stripping through a one-code-point NFD, splitting on
//! whitespace, punctuation, ASCII symbols and CJK ideographs), then greedy longest-match of each
//! word, prefixed with the phantom space `▁`, against the vocabulary.

use std::collections::HashMap;

use super::unicode::{category, Category};
use super::wpm_nfd::NFD_RANGES;

/// The phantom space the GGUF conversion puts in front of every word-initial WordPiece token.
const PHANTOM_SPACE: char = '\u{2581}';

/// llama.cpp's `normalizer_options` (`tokenizer.ggml.normalizer.*`; both default to true, and
/// `strip_accents` defaults to `lowercase` when only that is given).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WpmSettings {
    pub lowercase: bool,
    pub strip_accents: bool,
    /// Longest token text in bytes: bounds the match search.
    pub max_token_len: usize,
}

impl WpmSettings {
    pub(crate) fn new(
        lowercase: Option<bool>,
        strip_accents: Option<bool>,
        texts: &[String],
    ) -> Self {
        let lowercase = lowercase.unwrap_or(true);
        WpmSettings {
            lowercase,
            strip_accents: strip_accents.unwrap_or(lowercase),
            max_token_len: texts.iter().map(String::len).max().unwrap_or(0),
        }
    }
}

/// One WordPiece pass over a fragment of raw text (special tokens already split out).
pub(crate) struct WpmTokenizer<'a> {
    pub settings: WpmSettings,
    pub token_to_id: &'a HashMap<String, u32>,
    pub unk: Option<u32>,
}

impl WpmTokenizer<'_> {
    /// Appends the tokens of `text` to `out`.
    pub(crate) fn tokenize(&self, text: &str, out: &mut Vec<u32>) {
        let mut word1 = String::new();
        for word in preprocess(text, self.settings) {
            word1.clear();
            word1.push(PHANTOM_SPACE);
            word1.push_str(&word);
            let before = out.len();
            if !self.longest_matches(&word1, out) {
                // One unmatched position discards the whole word, as in llama.cpp.
                out.truncate(before);
            }
            if out.len() == before {
                out.extend(self.unk);
            }
        }
    }

    /// Greedy longest-prefix matching from each position; false when some position matches
    /// nothing. Positions advance by whole tokens, so they stay on char boundaries.
    fn longest_matches(&self, word: &str, out: &mut Vec<u32>) -> bool {
        let n = word.len();
        let mut i = 0;
        while i < n {
            let longest = n.min(i + self.settings.max_token_len + 1);
            let hit = (i + 1..=longest).rev().find_map(|j| {
                let id = word.get(i..j).and_then(|s| self.token_to_id.get(s))?;
                Some((j, *id))
            });
            match hit {
                Some((j, id)) => {
                    out.push(id);
                    i = j;
                }
                None => return false,
            }
        }
        true
    }
}

/// llama.cpp's `preprocess`: normalized words, with punctuation, ASCII symbols and CJK
/// ideographs as words of their own.
fn preprocess(text: &str, settings: WpmSettings) -> Vec<String> {
    let mut words = vec![String::new()];
    for c in text.chars() {
        let c = if settings.strip_accents {
            nfd_first(c)
        } else {
            c
        };
        if c.is_whitespace() {
            if !words.last().is_some_and(String::is_empty) {
                words.push(String::new());
            }
            continue;
        }
        let cat = category(c);
        if c == '\0' || c == '\u{FFFD}' || cat == Category::Control {
            continue;
        }
        if settings.strip_accents && cat == Category::Mark {
            continue;
        }
        let lc = if settings.lowercase { to_lower(c) } else { c };
        let last = words.len() - 1;
        if cat == Category::Punctuation
            || (u32::from(c) < 0x7F && cat == Category::Symbol)
            || is_chinese_char(c)
        {
            if !words[last].is_empty() {
                words.push(String::new());
            }
            let last = words.len() - 1;
            words[last].push(lc);
            words.push(String::new());
        } else {
            words[last].push(lc);
        }
    }
    if words.last().is_some_and(String::is_empty) {
        words.pop();
    }
    words
}

/// The first code point of `c`'s NFD decomposition (llama.cpp's `unicode_cpts_normalize_nfd`).
fn nfd_first(c: char) -> char {
    let cp = u32::from(c);
    let idx = NFD_RANGES.partition_point(|&(first, _, _)| first <= cp);
    match idx.checked_sub(1).map(|i| NFD_RANGES[i]) {
        Some((first, last, nfd)) if first <= cp && cp <= last => char::from_u32(nfd).unwrap_or(c),
        _ => c,
    }
}

/// llama.cpp's `unicode_tolower`: one code point, the first of the full lowercase mapping.
fn to_lower(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// CJK ideograph blocks (llama.cpp's list, including its `0x2B920` quirk copied from HF).
fn is_chinese_char(c: char) -> bool {
    matches!(u32::from(c),
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let s = WpmSettings {
            lowercase: true,
            strip_accents: true,
            max_token_len: 8,
        };
        preprocess(text, s)
    }

    #[test]
    fn preprocessing_lowercases_strips_accents_and_splits_punctuation() {
        assert_eq!(words("Äpfel, CAFÉ!"), ["apfel", ",", "cafe", "!"]);
        assert_eq!(words("  a\tb\n"), ["a", "b"]);
        assert_eq!(words("x+y"), ["x", "+", "y"]);
        assert_eq!(words("中文"), ["中", "文"]);
        assert!(words("\u{0}\u{7}").is_empty());
    }

    #[test]
    fn nfd_keeps_the_base_letter() {
        assert_eq!(nfd_first('é'), 'e');
        assert_eq!(nfd_first('a'), 'a');
        assert_eq!(nfd_first('Å'), 'A');
    }

    #[test]
    fn unmatched_words_become_unk() {
        let ids: HashMap<String, u32> = [("▁hel", 1), ("lo", 2), ("▁a", 3)]
            .into_iter()
            .map(|(t, i)| (t.to_string(), i))
            .collect();
        let texts: Vec<String> = ids.keys().cloned().collect();
        let t = WpmTokenizer {
            settings: WpmSettings::new(None, None, &texts),
            token_to_id: &ids,
            unk: Some(0),
        };
        let mut out = Vec::new();
        t.tokenize("Hello a hex", &mut out);
        assert_eq!(out, [1, 2, 3, 0]);
    }
}
