//! Plain data types of the vocabulary: the constructor input (`VocabParts`), token types and
//! token attributes.

use serde::Deserialize;

/// Everything needed to build a [`Vocab`](super::Vocab), as stored under the GGUF
/// `tokenizer.ggml.*` keys. `None` means "key absent": llama.cpp's defaults then apply.
///
/// | field | GGUF key |
/// |---|---|
/// | `model` | `tokenizer.ggml.model` (`"gpt2"` or `"llama"`) |
/// | `pre` | `tokenizer.ggml.pre` |
/// | `tokens` | `tokenizer.ggml.tokens` |
/// | `scores` | `tokenizer.ggml.scores` |
/// | `token_types` | `tokenizer.ggml.token_type` |
/// | `merges` | `tokenizer.ggml.merges` |
/// | `bos` / `eos` / `eot` / `eom` | `tokenizer.ggml.{bos,eos,eot,eom}_token_id` |
/// | `unk` / `pad` | `tokenizer.ggml.unknown_token_id` / `tokenizer.ggml.padding_token_id` |
/// | `add_bos` / `add_eos` | `tokenizer.ggml.add_bos_token` / `tokenizer.ggml.add_eos_token` |
/// | `add_space_prefix` | `tokenizer.ggml.add_space_prefix` |
/// | `model_name` / `architecture` | `general.name` / `general.architecture` (llama.cpp sets some
///   token attributes by name, e.g. right-stripping special tokens for Phi-3) |
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct VocabParts {
    pub model: String,
    pub pre: Option<String>,
    pub tokens: Vec<String>,
    pub scores: Option<Vec<f32>>,
    pub token_types: Option<Vec<i32>>,
    pub merges: Option<Vec<String>>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub unk: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: Option<bool>,
    pub add_eos: Option<bool>,
    pub add_space_prefix: Option<bool>,
    pub model_name: Option<String>,
    pub architecture: Option<String>,
}

/// Tokenizer family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// SentencePiece-style (`tokenizer.ggml.model = "llama"`).
    Spm,
    /// GPT-2 byte-level BPE (`tokenizer.ggml.model = "gpt2"`).
    Bpe,
}

/// Token type as stored in `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Undefined,
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    /// Maps the GGUF integer (0..=6); anything else is `Undefined`, as in llama.cpp.
    pub fn from_gguf(value: i32) -> Self {
        match value {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }

    pub(crate) fn attr(self) -> TokenAttr {
        match self {
            TokenType::Undefined => TokenAttr::UNDEFINED,
            TokenType::Normal => TokenAttr::NORMAL,
            TokenType::Unknown => TokenAttr::UNKNOWN,
            TokenType::Control => TokenAttr::CONTROL,
            TokenType::UserDefined => TokenAttr::USER_DEFINED,
            TokenType::Unused => TokenAttr::UNUSED,
            TokenType::Byte => TokenAttr::BYTE,
        }
    }
}

/// Effective token attributes (llama.cpp's `llama_token_attr` bit set). They start from the
/// token type and are adjusted at load time, e.g. end-of-generation tokens gain `CONTROL`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TokenAttr(pub u32);

impl TokenAttr {
    pub const UNDEFINED: TokenAttr = TokenAttr(0);
    pub const UNKNOWN: TokenAttr = TokenAttr(1 << 0);
    pub const UNUSED: TokenAttr = TokenAttr(1 << 1);
    pub const NORMAL: TokenAttr = TokenAttr(1 << 2);
    pub const CONTROL: TokenAttr = TokenAttr(1 << 3);
    pub const USER_DEFINED: TokenAttr = TokenAttr(1 << 4);
    pub const BYTE: TokenAttr = TokenAttr(1 << 5);
    /// Whitespace before the token's text is removed when it is split out of raw text.
    pub const LSTRIP: TokenAttr = TokenAttr(1 << 7);
    /// Whitespace after the token's text is removed when it is split out of raw text.
    pub const RSTRIP: TokenAttr = TokenAttr(1 << 8);

    /// True when any bit of `other` is set in `self`.
    pub fn intersects(self, other: TokenAttr) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` with the bits of `other` added.
    pub fn with(self, other: TokenAttr) -> TokenAttr {
        TokenAttr(self.0 | other.0)
    }

    /// `self` with the bits of `other` removed.
    pub fn without(self, other: TokenAttr) -> TokenAttr {
        TokenAttr(self.0 & !other.0)
    }
}

impl std::ops::BitOr for TokenAttr {
    type Output = TokenAttr;
    fn bitor(self, rhs: TokenAttr) -> TokenAttr {
        self.with(rhs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gguf_token_types_map_to_attributes() {
        assert_eq!(TokenType::from_gguf(3), TokenType::Control);
        assert_eq!(TokenType::from_gguf(42), TokenType::Undefined);
        assert!(TokenType::Control
            .attr()
            .intersects(TokenAttr::CONTROL | TokenAttr::UNKNOWN));
        assert!(!TokenType::Normal.attr().intersects(TokenAttr::CONTROL));
        assert_eq!(TokenType::Undefined.attr(), TokenAttr::UNDEFINED);
    }

    #[test]
    fn parts_deserialize_with_missing_fields_as_none() {
        let parts: VocabParts =
            serde_json::from_str(r#"{"model":"gpt2","tokens":["a"],"bos":null}"#).unwrap();
        assert_eq!(parts.model, "gpt2");
        assert_eq!(parts.tokens, ["a"]);
        assert!(parts.bos.is_none() && parts.merges.is_none() && parts.add_bos.is_none());
    }
}
