//! Tokenizer: llama.cpp-exact GPT-2 byte-level BPE and SentencePiece vocabularies.
mod bpe;
mod detok;
mod gguf;
mod model;
mod pretok;
mod pretok_custom;
mod pretok_names;
mod pretok_regex;
mod special;
mod spm;
mod types;
mod unicode;

#[cfg(test)]
mod smollm2_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use detok::Detokenizer;
pub use model::Vocab;
pub use pretok::PreTokenizer;
pub use types::{TokenAttr, TokenType, VocabKind, VocabParts};
