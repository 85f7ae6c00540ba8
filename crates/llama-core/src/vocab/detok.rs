//! Detokenization: token pieces (llama.cpp's `token_to_piece`), whole-sequence `detokenize`
//! with its space clean-up, and a streaming `Detokenizer` that only emits complete UTF-8.

use super::model::Vocab;
use super::types::{TokenAttr, VocabKind};
use super::unicode::char_to_byte;

impl Vocab {
    /// The bytes a token stands for, with control/unknown tokens rendered as their text
    /// (llama.cpp caches exactly this, `special = true`).
    pub(crate) fn build_piece(&self, id: u32) -> Box<[u8]> {
        let (Some(attr), Some(text)) = (self.token_attr(id), self.token_text(id)) else {
            return Box::default();
        };
        if attr.intersects(TokenAttr::UNKNOWN | TokenAttr::CONTROL | TokenAttr::USER_DEFINED) {
            return text.as_bytes().into();
        }
        if attr.intersects(TokenAttr::NORMAL) {
            return match self.kind {
                // WordPiece pieces carry the phantom space `▁` of the GGUF conversion, too.
                VocabKind::Spm | VocabKind::Wpm => {
                    text.replace('\u{2581}', " ").into_bytes().into()
                }
                VocabKind::Bpe => decode_byte_level(text).into(),
            };
        }
        if attr.intersects(TokenAttr::BYTE) {
            // "<0xNN>"
            let hex = text.get(3..5).and_then(|h| u8::from_str_radix(h, 16).ok());
            return hex.map(|b| Box::from([b])).unwrap_or_default();
        }
        // UNUSED / UNDEFINED tokens render as nothing, as in llama.cpp.
        Box::default()
    }

    /// The bytes of one token. Control and unknown tokens (e.g. `<|im_end|>`) yield their text
    /// only when `special` is set, otherwise nothing; user-defined tokens always yield their
    /// text. Byte-level BPE pieces may be partial UTF-8. Out-of-range ids yield nothing.
    pub fn token_to_piece(&self, id: u32, special: bool) -> &[u8] {
        let Some(attr) = self.token_attr(id) else {
            return &[];
        };
        if !special && attr.intersects(TokenAttr::UNKNOWN | TokenAttr::CONTROL) {
            return &[];
        }
        self.pieces.get(id as usize).map_or(&[], |p| &p[..])
    }

    /// llama.cpp's `llama_detokenize`: concatenated pieces; the first piece loses one leading
    /// space when `add_space_prefix` is set; `remove_special` drops a leading BOS / trailing EOS
    /// (when the vocabulary adds them); and, for BPE vocabularies whose pre-tokenizer asks for
    /// it (not SmolLM / Qwen2), HF's `clean_up_tokenization_spaces` is applied.
    pub fn detokenize_bytes(
        &self,
        tokens: &[u32],
        remove_special: bool,
        unparse_special: bool,
    ) -> Vec<u8> {
        let mut tokens = tokens;
        let mut remove_space = self.add_space_prefix;
        if remove_special && self.add_bos && tokens.first().is_some_and(|&t| Some(t) == self.bos) {
            remove_space = false;
            tokens = &tokens[1..];
        }
        if remove_special && self.add_eos && tokens.last().is_some_and(|&t| Some(t) == self.eos) {
            tokens = &tokens[..tokens.len() - 1];
        }
        let mut out = Vec::with_capacity(tokens.len() * 4);
        for &id in tokens {
            let mut piece = self.token_to_piece(id, unparse_special);
            if remove_space {
                piece = piece.strip_prefix(b" ").unwrap_or(piece);
            }
            remove_space = false;
            out.extend_from_slice(piece);
        }
        if self.pre.clean_spaces {
            clean_up_spaces(&mut out);
        }
        out
    }

    /// Text of `tokens` (`llama_vocab::detokenize(tokens, special = false)`); invalid UTF-8 is
    /// replaced with U+FFFD.
    pub fn detokenize(&self, tokens: &[u32]) -> String {
        self.detokenize_with(tokens, false, false)
    }

    /// [`detokenize_bytes`](Self::detokenize_bytes) as a (lossy) string.
    pub fn detokenize_with(
        &self,
        tokens: &[u32],
        remove_special: bool,
        unparse_special: bool,
    ) -> String {
        String::from_utf8_lossy(&self.detokenize_bytes(tokens, remove_special, unparse_special))
            .into_owned()
    }
}

/// Maps a byte-level BPE token string back to bytes. Chars outside the byte alphabet are
/// rendered as llama.cpp does: `[UNK_BYTE_0x<utf8 hex><token text>]`.
fn decode_byte_level(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                out.extend_from_slice(b"[UNK_BYTE_0x");
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(text.as_bytes());
                out.push(b']');
            }
        }
    }
    out
}

/// The three in-place passes of llama.cpp's `clean_spaces`: drop the space before `?!.,`,
/// drop the spaces around a lone `'`, and drop the space before `'s 'm 're 've`.
fn clean_up_spaces(text: &mut Vec<u8>) {
    let n = text.len();
    let mut total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        text[total] = x;
        total += 1;
    }
    let n = total;
    total = usize::from(n > 0);
    let mut i = 1;
    while i < n {
        let x = text[i];
        if x == b'\'' && i + 1 < n && text[i - 1] == b' ' && text[i + 1] == b' ' {
            total -= 1;
            i += 1;
            text[i] = 0;
        }
        text[total] = x;
        total += 1;
        i += 1;
    }
    let n = total;
    total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && x == b'\'' && i + 1 < n {
            let x1 = text[i + 1];
            let drop = match x1 {
                b't' | b'd' => false,
                b's' | b'm' => true,
                _ => i + 2 < n && matches!((x1, text[i + 2]), (b'r', b'e') | (b'v', b'e')),
            };
            if drop {
                total -= 1;
            }
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
}

/// Incremental detokenizer for streaming: feed token ids one at a time and get back only text
/// that is complete UTF-8. A character split across tokens (e.g. an emoji made of 4 byte
/// tokens) is held back until complete; an invalid sequence is emitted as U+FFFD as soon as it
/// is known to be invalid, and [`finish`](Self::finish) flushes whatever is left.
///
/// Pieces are concatenated as-is (no leading-space removal, no clean-up), like llama.cpp's
/// server streams them.
#[derive(Clone, Debug, Default)]
pub struct Detokenizer {
    pending: Vec<u8>,
    render_special: bool,
}

impl Detokenizer {
    /// `render_special`: emit the text of control tokens such as `<|im_end|>`.
    pub fn new(render_special: bool) -> Self {
        Detokenizer {
            pending: Vec::new(),
            render_special,
        }
    }

    /// Adds one token; returns the newly completed text (possibly empty).
    pub fn push(&mut self, vocab: &Vocab, token: u32) -> String {
        let piece = vocab.token_to_piece(token, self.render_special);
        self.push_bytes(piece)
    }

    /// Adds raw bytes; returns the newly completed text (possibly empty).
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        let mut start = 0;
        while start < self.pending.len() {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    out.push_str(s);
                    start = self.pending.len();
                }
                Err(e) => {
                    let valid = &self.pending[start..start + e.valid_up_to()];
                    out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    start += e.valid_up_to();
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start += bad;
                        }
                        None => break,
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }

    /// Bytes held back waiting for the rest of a character.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// Flushes held-back bytes (an incomplete character becomes U+FFFD) and resets.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::test_support::spm_test_parts;
    use crate::vocab::VocabParts;

    #[test]
    fn spm_pieces_unescape_spaces_and_decode_bytes() {
        let v = Vocab::from_parts(spm_test_parts()).unwrap();
        assert_eq!(v.token_to_piece(10, false), b" hi");
        assert_eq!(v.token_to_piece(4, false), b"\xc3");
        assert_eq!(v.token_to_piece(1, false), b"");
        assert_eq!(v.token_to_piece(1, true), b"<s>");
        assert_eq!(v.token_to_piece(11, false), b"<tool>");
        assert_eq!(v.token_to_piece(999, true), b"");
        assert_eq!(v.detokenize(&[10, 3, 4, 5]), "hi\n\u{e9}");
        // llama.cpp strips the prefix space only from a first token that is not BOS.
        assert_eq!(v.detokenize(&[1, 10, 10]), " hi hi");
        assert_eq!(v.detokenize_with(&[1, 10, 2], true, true), " hi</s>");
        assert_eq!(v.detokenize_with(&[1, 10], false, true), "<s> hi");
        let text = "hi hi\n\u{e9}";
        assert_eq!(v.detokenize(&v.tokenize(text, false, false)), text);
    }

    #[test]
    fn gpt2_detokenize_cleans_up_spaces_when_the_pre_tokenizer_asks() {
        let parts = |pre: &str| VocabParts {
            model: "gpt2".into(),
            pre: Some(pre.into()),
            tokens: ["Hello", "\u{120},", "\u{120}world", "<|endoftext|>"]
                .map(String::from)
                .to_vec(),
            token_types: Some(vec![1, 1, 1, 3]),
            merges: Some(vec![]),
            ..Default::default()
        };
        let gpt2 = Vocab::from_parts(parts("gpt-2")).unwrap();
        assert_eq!(gpt2.detokenize(&[0, 1, 2, 3]), "Hello, world");
        assert_eq!(
            gpt2.detokenize_with(&[0, 1, 2, 3], false, true),
            "Hello, world<|endoftext|>"
        );
        let smollm = Vocab::from_parts(parts("smollm")).unwrap();
        assert_eq!(smollm.detokenize(&[0, 1, 2]), "Hello , world");
        assert!(smollm.is_eog(3));
    }

    fn cleaned(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        clean_up_spaces(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn clean_up_matches_hf_rules() {
        assert_eq!(cleaned("Hello , world !"), "Hello, world!");
        assert_eq!(cleaned("it ' s"), "it's");
        assert_eq!(
            cleaned("I 'm you 're we 've he 'll don 't"),
            "I'm you're we've he 'll don 't"
        );
        assert_eq!(cleaned(""), "");
    }

    #[test]
    fn byte_level_decoding_maps_chars_back_to_bytes() {
        assert_eq!(decode_byte_level("ĠHello"), b" Hello");
        assert_eq!(decode_byte_level("ðŁ¦Ļ"), "🦙".as_bytes());
        assert_eq!(decode_byte_level("日"), b"[UNK_BYTE_0xe697a5\xe6\x97\xa5]");
    }

    #[test]
    fn streaming_holds_incomplete_chars_and_replaces_invalid_ones() {
        let mut d = Detokenizer::new(false);
        let llama = "🦙".as_bytes();
        assert_eq!(d.push_bytes(b"a"), "a");
        assert_eq!(d.push_bytes(&llama[..1]), "");
        assert_eq!(d.push_bytes(&llama[1..3]), "");
        assert_eq!(d.pending().len(), 3);
        assert_eq!(d.push_bytes(&llama[3..]), "🦙");
        assert_eq!(d.push_bytes(b"\xffb"), "\u{fffd}b");
        assert_eq!(d.push_bytes(b"\xe6\x97"), "");
        assert_eq!(d.push_bytes(b"x"), "\u{fffd}x");
        assert_eq!(d.push_bytes(b"\xf0\x9f"), "");
        assert_eq!(d.finish(), "\u{fffd}");
        assert!(d.pending().is_empty());
    }
}
