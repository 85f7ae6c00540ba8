//! The `Vocab`: construction from `VocabParts` with llama.cpp's defaults, accessors, and
//! `tokenize`.

use std::collections::{BTreeSet, HashMap};

use super::bpe::BpeModel;
use super::pretok::PreTokenizer;
use super::pretok_names::PreSettings;
use super::special::{self, Detector, Fragment, SpecialIds};
use super::spm::SpmVocab;
use super::types::{TokenAttr, TokenType, VocabKind, VocabParts};
use super::wpm::{WpmSettings, WpmTokenizer};
use crate::error::{Error, Result};

/// A loaded tokenizer vocabulary. Immutable and `Send + Sync`; share it behind an `Arc`.
#[derive(Debug)]
pub struct Vocab {
    pub(crate) kind: VocabKind,
    pub(crate) pre: PreSettings,
    pub(crate) texts: Vec<String>,
    pub(crate) scores: Vec<f32>,
    pub(crate) types: Vec<TokenType>,
    pub(crate) attrs: Vec<TokenAttr>,
    pub(crate) token_to_id: HashMap<String, u32>,
    pub(crate) bpe: Option<BpeModel>,
    pub(crate) specials: Vec<u32>,
    pub(crate) bos: Option<u32>,
    pub(crate) eos: Option<u32>,
    pub(crate) eot: Option<u32>,
    pub(crate) eom: Option<u32>,
    pub(crate) unk: Option<u32>,
    pub(crate) pad: Option<u32>,
    /// Separator appended by WordPiece vocabularies when adding special tokens.
    pub(crate) sep: Option<u32>,
    pub(crate) wpm: Option<WpmSettings>,
    pub(crate) eog: BTreeSet<u32>,
    pub(crate) add_bos: bool,
    pub(crate) add_eos: bool,
    pub(crate) add_space_prefix: bool,
    pub(crate) pieces: Vec<Box<[u8]>>,
    /// llguidance's token trie for constrained sampling, built at first use.
    pub(crate) constraint_env: std::sync::OnceLock<std::sync::Arc<crate::sampling::ConstraintEnv>>,
}

/// Picks a special-token id: the given one when in range, else llama.cpp's per-family default
/// (itself dropped when out of range). llama.cpp also ignores out-of-range ids with a warning.
fn special_id(given: Option<u32>, default: Option<u32>, n: usize) -> Option<u32> {
    let in_range = |id: &u32| (*id as usize) < n;
    given.filter(in_range).or(default.filter(in_range))
}

fn token_texts(tokens: Vec<String>) -> Result<(Vec<String>, HashMap<String, u32>)> {
    let mut texts = Vec::with_capacity(tokens.len());
    let mut token_to_id = HashMap::with_capacity(tokens.len());
    for (i, text) in tokens.into_iter().enumerate() {
        // llama.cpp renames empty tokens so that they can never match text.
        let text = if text.is_empty() {
            format!("[EMPTY_{i}]")
        } else {
            text
        };
        let id = u32::try_from(i)
            .map_err(|_| Error::VocabInvalid(format!("{i} tokens exceed the u32 id range")))?;
        if let Some(prev) = token_to_id.insert(text.clone(), id) {
            return Err(Error::VocabInvalid(format!(
                "duplicate token '{text}' has ids {prev} and {id}"
            )));
        }
        texts.push(text);
    }
    Ok((texts, token_to_id))
}

fn per_token<T: Copy>(what: &str, values: Option<Vec<T>>, n: usize, default: T) -> Result<Vec<T>> {
    match values {
        None => Ok(vec![default; n]),
        Some(v) if v.len() < n => Err(Error::VocabInvalid(format!(
            "{what} has {} entries for {n} tokens",
            v.len()
        ))),
        Some(mut v) => {
            v.truncate(n);
            Ok(v)
        }
    }
}

/// llama.cpp's per-family defaults for keys absent from the GGUF file.
struct FamilyDefaults {
    pre: PreSettings,
    bos: Option<u32>,
    eos: Option<u32>,
    unk: Option<u32>,
    sep: Option<u32>,
    pad: Option<u32>,
    add_space_prefix: bool,
}

impl FamilyDefaults {
    fn new(kind: VocabKind, pre_name: Option<&str>) -> Self {
        match kind {
            VocabKind::Spm => {
                let mut pre = PreSettings::for_name(None);
                pre.clean_spaces = false;
                pre.add_bos = true;
                FamilyDefaults {
                    pre,
                    bos: Some(1),
                    eos: Some(2),
                    unk: Some(0),
                    sep: None,
                    pad: None,
                    add_space_prefix: true,
                }
            }
            VocabKind::Bpe => {
                let pre = PreSettings::for_name(pre_name);
                FamilyDefaults {
                    pre,
                    bos: (!pre.no_default_bos).then_some(11),
                    eos: Some(11),
                    unk: None,
                    sep: None,
                    pad: None,
                    add_space_prefix: false,
                }
            }
            VocabKind::Wpm => {
                let mut pre = PreSettings::for_name(None);
                pre.add_bos = true;
                FamilyDefaults {
                    pre,
                    bos: Some(101),
                    eos: None,
                    unk: Some(100),
                    sep: Some(102),
                    pad: Some(0),
                    add_space_prefix: false,
                }
            }
        }
    }
}

impl Vocab {
    /// Builds a vocabulary, applying llama.cpp's defaults for absent keys:
    /// - SPM (`"llama"`): BOS 1, EOS 2, UNK 0, `add_bos` true, `add_space_prefix` true.
    /// - BPE (`"gpt2"`): BOS and EOS 11 (sic, llama.cpp's default), `add_bos` false except for
    ///   the Llama-3 family, `add_space_prefix` false; `merges` is required.
    /// - WordPiece (`"bert"`): BOS (CLS) 101, UNK 100, SEP 102, PAD 0; adding special tokens
    ///   puts BOS first and SEP last; lowercasing and accent stripping on unless the file says no.
    /// - `add_eos` false. EOT/EOM and the end-of-generation set are detected from token texts.
    ///
    /// Fails for other tokenizer models, duplicate tokens, short `scores`/`token_types`, a
    /// missing merge list, or `add_bos`/`add_eos` without the corresponding token.
    pub fn from_parts(parts: VocabParts) -> Result<Vocab> {
        let kind = match parts.model.as_str() {
            "llama" => VocabKind::Spm,
            "gpt2" => VocabKind::Bpe,
            "bert" => VocabKind::Wpm,
            other => return Err(Error::VocabUnsupportedModel(other.to_string())),
        };
        if parts.tokens.is_empty() {
            return Err(Error::VocabInvalid("the token list is empty".into()));
        }
        let n = parts.tokens.len();
        let scores = per_token("scores", parts.scores, n, 0.0)?;
        let raw_types = per_token("token_types", parts.token_types, n, 1)?;
        let types: Vec<TokenType> = raw_types.into_iter().map(TokenType::from_gguf).collect();
        let mut attrs: Vec<TokenAttr> = types.iter().map(|t| t.attr()).collect();
        let (texts, token_to_id) = token_texts(parts.tokens)?;

        let defaults = FamilyDefaults::new(kind, parts.pre.as_deref());
        let bpe = match (kind, &parts.merges) {
            (VocabKind::Bpe, None) => {
                return Err(Error::VocabInvalid("BPE vocabulary without merges".into()))
            }
            (VocabKind::Bpe, Some(merges)) => Some(BpeModel::new(merges, &token_to_id)),
            (VocabKind::Spm | VocabKind::Wpm, _) => None,
        };

        let mut ids = SpecialIds {
            eos: special_id(parts.eos, defaults.eos, n),
            eot: special_id(parts.eot, None, n),
            eom: special_id(parts.eom, None, n),
        };
        let eog = Detector {
            texts: &texts,
            attrs: &mut attrs,
        }
        .detect(&mut ids);
        let specials = special::special_token_cache(&texts, &attrs);
        special::set_attrs_by_name(
            &special::NamedModel {
                pre: parts.pre.as_deref(),
                name: parts.model_name.as_deref(),
                architecture: parts.architecture.as_deref(),
            },
            &specials,
            &token_to_id,
            &mut attrs,
        );

        let mut vocab = Vocab {
            kind,
            pre: defaults.pre,
            bos: special_id(parts.bos, defaults.bos, n),
            eos: ids.eos,
            eot: ids.eot,
            eom: ids.eom,
            unk: special_id(parts.unk, defaults.unk, n),
            pad: special_id(parts.pad, defaults.pad, n),
            sep: special_id(parts.sep, defaults.sep, n),
            wpm: (kind == VocabKind::Wpm)
                .then(|| WpmSettings::new(parts.lowercase, parts.strip_accents, &texts)),
            eog,
            add_bos: parts.add_bos.unwrap_or(defaults.pre.add_bos),
            add_eos: parts.add_eos.unwrap_or(false),
            add_space_prefix: parts.add_space_prefix.unwrap_or(defaults.add_space_prefix),
            specials,
            texts,
            scores,
            types,
            attrs,
            token_to_id,
            bpe,
            pieces: Vec::new(),
            constraint_env: Default::default(),
        };
        vocab.check_add_flags()?;
        vocab.pieces = (0..n as u32).map(|id| vocab.build_piece(id)).collect();
        Ok(vocab)
    }

    fn check_add_flags(&self) -> Result<()> {
        if self.add_bos && self.bos.is_none() {
            return Err(Error::VocabInvalid(
                "add_bos is set but there is no BOS token".into(),
            ));
        }
        if self.add_eos && self.eos.is_none() {
            return Err(Error::VocabInvalid(
                "add_eos is set but there is no EOS token".into(),
            ));
        }
        Ok(())
    }

    /// Tokenizes `text` like `llama_tokenize`. `add_special` adds BOS/EOS as `add_bos`/`add_eos`
    /// say; `parse_special` turns the text of CONTROL/UNKNOWN tokens (e.g. `<|im_start|>`) into
    /// those tokens (USER_DEFINED tokens are always recognized).
    pub fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let frags = special::partition(
            text,
            &self.specials,
            &self.texts,
            &self.attrs,
            parse_special,
        );
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if let Some(settings) = self.wpm {
            self.tokenize_wpm(settings, &frags, add_special, &mut out);
            return out;
        }
        if add_special && self.add_bos {
            out.extend(self.bos);
        }
        match (self.kind, &self.bpe) {
            (VocabKind::Bpe, Some(bpe)) => self.tokenize_bpe(bpe, &frags, &mut out),
            _ => self.tokenize_spm(&frags, &mut out),
        }
        if add_special && self.add_eos {
            out.extend(self.eos);
        }
        out
    }

    fn tokenize_bpe(&self, bpe: &BpeModel, frags: &[Fragment<'_>], out: &mut Vec<u32>) {
        for frag in frags {
            match *frag {
                Fragment::Token(id) => out.push(id),
                Fragment::Text(text) => {
                    for word in self.pre.pre.split(text) {
                        bpe.encode_word(word, self.pre.ignore_merges, &self.token_to_id, out);
                    }
                }
            }
        }
    }

    /// WordPiece: BOS and SEP surround the text when adding special tokens, whatever `add_bos`
    /// says (llama.cpp's `LLAMA_VOCAB_TYPE_WPM` case).
    fn tokenize_wpm(
        &self,
        settings: WpmSettings,
        frags: &[Fragment<'_>],
        add_special: bool,
        out: &mut Vec<u32>,
    ) {
        let wpm = WpmTokenizer {
            settings,
            token_to_id: &self.token_to_id,
            unk: self.unk,
        };
        if add_special {
            out.extend(self.bos);
        }
        for frag in frags {
            match *frag {
                Fragment::Token(id) => out.push(id),
                Fragment::Text(text) => wpm.tokenize(text, out),
            }
        }
        if add_special {
            out.extend(self.sep);
        }
    }

    fn tokenize_spm(&self, frags: &[Fragment<'_>], out: &mut Vec<u32>) {
        let spm = SpmVocab {
            token_to_id: &self.token_to_id,
            scores: &self.scores,
            unk: self.unk,
        };
        // A space prefix goes before the first text and before any text following a special token.
        let mut prev_special = true;
        for frag in frags {
            match *frag {
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
                Fragment::Text(text) => {
                    let mut s = String::with_capacity(text.len() + 1);
                    if self.add_space_prefix && prev_special {
                        s.push(' ');
                    }
                    s.push_str(text);
                    spm.tokenize(&s.replace(' ', "\u{2581}"), out);
                    prev_special = false;
                }
            }
        }
    }

    /// Tokenizer family.
    pub fn kind(&self) -> VocabKind {
        self.kind
    }
    /// Pre-tokenizer in use (BPE; `Default` for SPM, where it is unused).
    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre.pre
    }
    /// Number of tokens.
    pub fn n_tokens(&self) -> usize {
        self.texts.len()
    }
    /// Number of BPE merge rules kept (0 for SPM).
    pub fn n_merges(&self) -> usize {
        self.bpe.as_ref().map_or(0, BpeModel::n_merges)
    }
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }
    /// End-of-turn token: given, or detected by text (`<|eot_id|>`, `<|im_end|>`, ...; lowest id).
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }
    pub fn eom(&self) -> Option<u32> {
        self.eom
    }
    pub fn unk(&self) -> Option<u32> {
        self.unk
    }
    pub fn pad(&self) -> Option<u32> {
        self.pad
    }
    /// Separator (WordPiece `[SEP]`), appended after the text when adding special tokens.
    pub fn sep(&self) -> Option<u32> {
        self.sep
    }
    /// Whether `tokenize(.., add_special = true, ..)` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }
    /// Whether `tokenize(.., add_special = true, ..)` appends EOS.
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }
    /// True for tokens that end generation: EOS, EOT, EOM, FIM pad/repo/file-sep and tokens
    /// named like `<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, `</s>`, ... (llama.cpp's list).
    pub fn is_eog(&self, id: u32) -> bool {
        self.eog.contains(&id)
    }
    /// All end-of-generation ids, ascending.
    pub fn eog_tokens(&self) -> impl Iterator<Item = u32> + '_ {
        self.eog.iter().copied()
    }
    /// The token's vocabulary string (byte-level encoded for BPE, `▁` for spaces in SPM).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.texts.get(id as usize).map(String::as_str)
    }
    pub fn token_score(&self, id: u32) -> Option<f32> {
        self.scores.get(id as usize).copied()
    }
    /// Type as given in `tokenizer.ggml.token_type` (`Normal` when that key is absent).
    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }
    /// Effective attributes after llama.cpp's load-time adjustments.
    pub fn token_attr(&self, id: u32) -> Option<TokenAttr> {
        self.attrs.get(id as usize).copied()
    }
    /// True when the token is CONTROL (after adjustments), e.g. `<|im_start|>`.
    pub fn is_control(&self, id: u32) -> bool {
        self.token_attr(id)
            .is_some_and(|a| a.intersects(TokenAttr::CONTROL))
    }
    /// Exact lookup of a vocabulary string.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.token_to_id.get(text).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::test_support::spm_test_parts as spm_parts;

    #[test]
    fn spm_adds_bos_and_space_prefix_by_default() {
        let v = Vocab::from_parts(spm_parts()).unwrap();
        assert_eq!((v.bos(), v.eos(), v.unk()), (Some(1), Some(2), Some(0)));
        assert_eq!(v.tokenize("hi", true, false), [1, 10]);
        assert_eq!(v.tokenize("hi hi", false, false), [10, 10]);
        assert_eq!(v.tokenize("hi\né", false, false), [10, 3, 4, 5]);
    }

    #[test]
    fn spm_space_prefix_restarts_after_special_tokens() {
        let v = Vocab::from_parts(spm_parts()).unwrap();
        assert_eq!(v.tokenize("hi</s>hi", false, true), [10, 2, 10]);
        // Without parse_special the user-defined <tool> is still split out, while control text
        // is ordinary text (here its bytes have no tokens and fall back to <unk>).
        assert_eq!(v.tokenize("hi<tool>hi", false, false), [10, 11, 10]);
        assert_eq!(v.tokenize("</s>", false, false), [6, 0, 0, 0, 0]);
    }

    #[test]
    fn spm_respects_explicit_flags() {
        let mut parts = spm_parts();
        parts.add_space_prefix = Some(false);
        parts.add_bos = Some(false);
        parts.add_eos = Some(true);
        let v = Vocab::from_parts(parts).unwrap();
        assert_eq!(v.tokenize("hi", true, false), [7, 8, 2]);
        assert!(v.is_eog(2));
    }

    #[test]
    fn unsupported_models_and_bad_parts_are_rejected() {
        let mut parts = spm_parts();
        parts.model = "unigram".into();
        assert!(matches!(
            Vocab::from_parts(parts),
            Err(Error::VocabUnsupportedModel(_))
        ));
        let mut parts = spm_parts();
        parts.tokens[3] = "h".into();
        assert!(matches!(
            Vocab::from_parts(parts),
            Err(Error::VocabInvalid(_))
        ));
        let mut parts = spm_parts();
        parts.scores = Some(vec![0.0]);
        assert!(Vocab::from_parts(parts).is_err());
        let mut parts = spm_parts();
        parts.model = "gpt2".into();
        assert!(Vocab::from_parts(parts).is_err(), "BPE needs merges");
    }

    #[test]
    fn out_of_range_special_ids_fall_back_to_defaults() {
        let mut parts = spm_parts();
        parts.bos = Some(999);
        parts.pad = Some(999);
        let v = Vocab::from_parts(parts).unwrap();
        assert_eq!(v.bos(), Some(1));
        assert_eq!(v.pad(), None);
    }

    #[test]
    fn bpe_without_bos_cannot_add_bos() {
        let parts = VocabParts {
            model: "gpt2".into(),
            pre: Some("llama-bpe".into()),
            tokens: vec!["a".into()],
            merges: Some(vec![]),
            ..Default::default()
        };
        assert!(
            Vocab::from_parts(parts).is_err(),
            "llama3 defaults add_bos, id 11 is out of range"
        );
    }
}
