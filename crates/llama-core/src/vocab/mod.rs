//! Tokenizer: llama.cpp-exact GPT-2 byte-level BPE, SentencePiece and WordPiece vocabularies.
mod bpe;
mod detok;
mod gguf;
mod model;
mod pretok;
mod pretok_custom;
mod pretok_names;
mod pretok_regex;
mod special;
pub use special::{FIM_MID_TEXTS, FIM_PRE_TEXTS, FIM_REP_TEXTS, FIM_SEP_TEXTS, FIM_SUF_TEXTS};
mod spm;
mod types;
mod unicode;
mod wpm;
mod wpm_nfd;

#[cfg(test)]
mod smollm2_tests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod wpm_tests;

pub use detok::Detokenizer;
pub use model::Vocab;
pub use pretok::PreTokenizer;
pub use types::{TokenAttr, TokenType, VocabKind, VocabParts};
