//! Embedding requests: the body of `/v1/embeddings` (OpenAI) and `/embedding` (llama.cpp), and its
//! inputs turned into token sequences as llama.cpp's `tokenize_input_prompts` does. The responses
//! are in [`crate::api::response`].

use super::prompts;
use crate::error::{Result, ServerError};
use llama_core::vocab::Vocab;
use serde::Deserialize;
use serde_json::Value;

/// The body of every embedding endpoint. Unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EmbeddingsRequest {
    /// OpenAI: a string, an array of strings, an array of token ids, or an array of those.
    pub input: Option<Value>,
    /// llama.cpp: the same shapes under another name (answered in llama.cpp's shape).
    pub content: Option<Value>,
    pub model: Option<String>,
    /// `float` (default) or `base64`.
    pub encoding_format: Option<String>,
    /// A per-request `embd_normalize` (llama.cpp extension).
    pub embd_normalize: Option<i32>,
}

/// How vectors are written in an OpenAI response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingFormat {
    Float,
    Base64,
}

impl EmbeddingsRequest {
    /// The inputs, from `input` or else `content`; true when they came from `content`.
    pub fn prompt(&self) -> Result<(&Value, bool)> {
        match (&self.input, &self.content) {
            (Some(v), _) => Ok((v, false)),
            (None, Some(v)) => Ok((v, true)),
            (None, None) => Err(bad("\"input\" or \"content\" must be provided")),
        }
    }

    pub fn encoding_format(&self) -> Result<EncodingFormat> {
        match self.encoding_format.as_deref() {
            None | Some("float") => Ok(EncodingFormat::Float),
            Some("base64") => Ok(EncodingFormat::Base64),
            Some(_) => Err(bad(
                "The format to return the embeddings in. Can be either float or base64",
            )),
        }
    }
}

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// One token sequence per input, special tokens added (`[CLS] … [SEP]` for BERT vocabularies):
/// llama.cpp's prompt shapes ([`super::prompts`]) plus OpenAI `{"content": [parts]}` objects,
/// whose text parts are joined (`tokenize_oai_content_array`).
pub fn embedding_inputs(prompt: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<Vec<u32>>> {
    let inputs = prompts::input_prompts_with(prompt, |p| match p.get("content") {
        Some(content) if p.is_object() => {
            Ok(vocab.tokenize(&prompts::content_parts_text(content)?, true, true))
        }
        _ => prompts::subprompt(p, vocab, n_vocab),
    })
    .map_err(|e| match e {
        ServerError::BadRequest(m) if m.contains("must not be empty") => {
            bad("\"input\" must not be empty")
        }
        other => other,
    })?;
    if inputs.iter().any(Vec::is_empty) {
        return Err(bad("Input content cannot be empty"));
    }
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_and_formats() {
        let r: EmbeddingsRequest =
            serde_json::from_str(r#"{"content":"x","encoding_format":"base64"}"#).unwrap();
        assert!(
            r.prompt().unwrap().1,
            "content answers in llama.cpp's shape"
        );
        assert_eq!(r.encoding_format().unwrap(), EncodingFormat::Base64);
        let r: EmbeddingsRequest = serde_json::from_str(r#"{"encoding_format":"hex"}"#).unwrap();
        assert!(r.prompt().is_err() && r.encoding_format().is_err());
    }
}
