//! The token trie llguidance computes masks over, built once per vocabulary and shared.

use std::fmt;
use std::sync::Arc;

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv, TokRxInfo, TokTrie};
use llguidance::{Matcher, ParserFactory};

use crate::error::{Error, Result};
use crate::vocab::Vocab;

/// Everything per-vocabulary llguidance needs: the token trie (each token's bytes) and the
/// parser factory with its precomputed token slices. Building it walks the whole vocabulary
/// (tens of milliseconds for 150k tokens), so [`Vocab::constraint_env`] caches one.
pub struct ConstraintEnv {
    factory: ParserFactory,
    n_vocab: usize,
}

impl fmt::Debug for ConstraintEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConstraintEnv")
            .field("n_vocab", &self.n_vocab)
            .finish_non_exhaustive()
    }
}

impl ConstraintEnv {
    /// Builds the trie for `n_vocab` logits (the model's output width, which may exceed the
    /// vocabulary: ids past it get no bytes and are never allowed).
    ///
    /// Token bytes follow llama.cpp's `common/llguidance.cpp`: the piece without special
    /// rendering, or, for control tokens (empty without it), `0xFF` followed by the token's
    /// text, which is how llguidance recognises special tokens such as `<|im_end|>`. Unlike
    /// llama.cpp we use the raw piece, not `llama_detokenize`, which would strip the leading
    /// space of SentencePiece pieces.
    pub fn new(vocab: &Vocab, n_vocab: usize) -> Result<Self> {
        let words: Vec<Vec<u8>> = (0..n_vocab).map(|id| token_bytes(vocab, id)).collect();
        let eog: Vec<u32> = vocab
            .eot()
            .or(vocab.eos())
            .into_iter()
            .chain(vocab.eog_tokens())
            .filter(|&t| (t as usize) < n_vocab)
            .collect();
        let Some(&tok_eos) = eog.first() else {
            return Err(Error::Constraint(
                "the vocabulary has no end-of-generation token".into(),
            ));
        };
        let info = TokRxInfo {
            vocab_size: n_vocab as u32,
            tok_eos,
            tok_bos: vocab.bos(),
            tok_pad: vocab.pad(),
            tok_unk: vocab.unk(),
            tok_end_of_turn: vocab.eot(),
        };
        let mut eos_tokens = eog;
        eos_tokens.dedup();
        let trie = TokTrie::from(&info, &words).with_eos_tokens(&eos_tokens);
        // Tokenization is only used by llguidance to force whole tokens; the trie's greedy
        // tokenizer is enough and keeps the environment independent of the vocabulary.
        let env: TokEnv = Arc::new(ApproximateTokEnv::new(trie));
        let mut factory =
            ParserFactory::new_simple(&env).map_err(|e| Error::Constraint(e.to_string()))?;
        factory.quiet();
        Ok(Self { factory, n_vocab })
    }

    /// Width of the masks (the model's logit count).
    pub fn n_vocab(&self) -> usize {
        self.n_vocab
    }

    /// The end-of-generation tokens the grammar allows once it accepts.
    pub fn eos_tokens(&self) -> &[u32] {
        self.factory.tok_env().tok_trie().eos_tokens()
    }

    /// The byte string the trie holds for `token` (control tokens start with `0xFF`).
    pub fn token_bytes(&self, token: u32) -> &[u8] {
        self.factory.tok_env().tok_trie().token(token)
    }

    /// Tokens for `bytes` (greedy over the trie; `0xFF`-marked special tokens as themselves):
    /// any tokenization of the bytes is accepted by a grammar that accepts the bytes.
    pub(super) fn tokenize(&self, bytes: &[u8]) -> Vec<u32> {
        self.factory.tok_env().tokenize_bytes_marker(bytes).0
    }

    /// Compiles a grammar into a fresh matcher; `kind` names the input in errors.
    pub(super) fn matcher(&self, grammar: TopLevelGrammar, kind: &'static str) -> Result<Matcher> {
        let parser = self
            .factory
            .create_parser(grammar)
            .map_err(|e| Error::InvalidConstraint {
                kind,
                reason: e.to_string(),
            })?;
        Ok(Matcher::new(Ok(parser)))
    }
}

fn token_bytes(vocab: &Vocab, id: usize) -> Vec<u8> {
    if id >= vocab.n_tokens() {
        return Vec::new();
    }
    let id = id as u32;
    let plain = vocab.token_to_piece(id, false);
    if !plain.is_empty() {
        return plain.to_vec();
    }
    let special = vocab.token_to_piece(id, true);
    if special.is_empty() {
        return Vec::new();
    }
    let mut bytes = Vec::with_capacity(special.len() + 1);
    bytes.push(TokTrie::SPECIAL_TOKEN_MARKER);
    bytes.extend_from_slice(special);
    bytes
}

impl Vocab {
    /// The constraint environment for masks `n_vocab` wide, built at first use and cached
    /// (a different width builds an uncached one).
    pub fn constraint_env(&self, n_vocab: usize) -> Result<Arc<ConstraintEnv>> {
        if let Some(env) = self.constraint_env.get() {
            if env.n_vocab == n_vocab {
                return Ok(env.clone());
            }
            return Ok(Arc::new(ConstraintEnv::new(self, n_vocab)?));
        }
        let env = Arc::new(ConstraintEnv::new(self, n_vocab)?);
        let cached = self.constraint_env.get_or_init(|| env.clone());
        // Another thread may have cached a different width first.
        Ok(if cached.n_vocab == n_vocab {
            cached.clone()
        } else {
            env
        })
    }
}

impl crate::Model {
    /// The constraint environment for this model's logits (cached on its vocabulary).
    pub fn constraint_env(&self) -> Result<Arc<ConstraintEnv>> {
        self.vocab().constraint_env(self.hparams().n_vocab)
    }
}
