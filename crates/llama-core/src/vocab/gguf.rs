//! Reads a vocabulary's parts from GGUF metadata (`tokenizer.ggml.*` keys).

use super::{Vocab, VocabParts};
use crate::error::{Error, Result};
use crate::gguf::GgufFile;

impl VocabParts {
    /// Collects the tokenizer keys of `file`; absent optional keys stay `None`.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let mut parts = Self::from_gguf_without_tables(file)?;
        let md = file.metadata();
        parts.tokens = md.require_str_array("tokenizer.ggml.tokens")?.to_vec();
        parts.merges = md
            .get_str_array("tokenizer.ggml.merges")?
            .map(<[String]>::to_vec);
        Ok(parts)
    }

    /// Everything but the token and merge tables (left empty / `None`).
    fn from_gguf_without_tables(file: &GgufFile) -> Result<Self> {
        let md = file.metadata();
        let id = |k: &str| md.get_u32(&format!("tokenizer.ggml.{k}"));
        let flag = |k: &str| md.get_bool(&format!("tokenizer.ggml.{k}"));
        let model = md.require_str("tokenizer.ggml.model")?.to_string();
        Ok(VocabParts {
            model,
            pre: md.get_str("tokenizer.ggml.pre")?.map(str::to_string),
            tokens: Vec::new(),
            scores: md
                .get_f32_array("tokenizer.ggml.scores")?
                .map(|c| c.into_owned()),
            token_types: md
                .get_i32_array("tokenizer.ggml.token_type")?
                .map(|c| c.into_owned()),
            merges: md
                .get_str_array("tokenizer.ggml.merges")?
                .map(<[String]>::to_vec),
            bos: id("bos_token_id")?,
            eos: id("eos_token_id")?,
            eot: id("eot_token_id")?,
            eom: id("eom_token_id")?,
            unk: id("unknown_token_id")?,
            pad: id("padding_token_id")?,
            add_bos: flag("add_bos_token")?,
            add_eos: flag("add_eos_token")?,
            add_space_prefix: flag("add_space_prefix")?,
            model_name: md.get_str("general.name")?.map(str::to_string),
            architecture: md.get_str("general.architecture")?.map(str::to_string),
        })
    }
}

impl Vocab {
    /// The vocabulary of a GGUF model file.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        Self::from_parts_checked(VocabParts::from_gguf(file)?)
    }

    /// Like [`Vocab::from_gguf`], but moves the token and merge tables out of the file's metadata
    /// instead of copying them (they are the bulk of a vocabulary's memory).
    pub fn take_from_gguf(file: &mut GgufFile) -> Result<Self> {
        let md = file.metadata_mut();
        let tokens = md.take_str_array("tokenizer.ggml.tokens");
        let merges = md.take_str_array("tokenizer.ggml.merges");
        let mut parts = VocabParts::from_gguf_without_tables(file)?;
        parts.tokens = tokens.unwrap_or_default();
        parts.merges = merges.filter(|m| !m.is_empty()).or(parts.merges);
        Self::from_parts_checked(parts)
    }

    fn from_parts_checked(parts: VocabParts) -> Result<Self> {
        let n = parts.tokens.len();
        if n == 0 {
            return Err(Error::VocabInvalid("tokenizer.ggml.tokens is empty".into()));
        }
        Vocab::from_parts(parts)
    }
}
