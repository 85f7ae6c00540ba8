//! Embedding requests and responses: the body of `/v1/embeddings` (OpenAI) and `/embedding`
//! (llama.cpp), its inputs turned into token sequences as llama.cpp's
//! `tokenize_input_prompts` does, and both response shapes as typed, serializable structs.

use crate::error::{Result, ServerError};
use llama_core::vocab::Vocab;
use serde::{Deserialize, Serialize};
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
/// a string, or an array of token ids, is one input; any other array holds one input per element.
pub fn embedding_inputs(prompt: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<Vec<u32>>> {
    let inputs = match prompt {
        Value::Array(items) if !items.iter().any(Value::is_number) => items
            .iter()
            .map(|p| one_input(p, vocab, n_vocab))
            .collect::<Result<Vec<_>>>()?,
        single => vec![one_input(single, vocab, n_vocab)?],
    };
    if inputs.is_empty() {
        return Err(bad("\"input\" must not be empty"));
    }
    if inputs.iter().any(Vec::is_empty) {
        return Err(bad("Input content cannot be empty"));
    }
    Ok(inputs)
}

fn one_input(p: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<u32>> {
    match p {
        Value::String(s) => Ok(vocab.tokenize(s, true, true)),
        Value::Array(ids) => ids
            .iter()
            .map(|v| {
                v.as_u64()
                    .filter(|&t| (t as usize) < n_vocab)
                    .map(|t| t as u32)
                    .ok_or_else(|| {
                        bad(format!(
                            "invalid token id {v}: ids are integers below {n_vocab}"
                        ))
                    })
            })
            .collect(),
        _ => Err(bad("each input must be a string or an array of token ids")),
    }
}

/// `usage` of an OpenAI embeddings response: every input token, special tokens included.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// A vector as floats, or as base64 of its little-endian `f32` bytes.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum EmbeddingValue {
    Float(Vec<f32>),
    Base64(String),
}

/// One element of `data`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenAiEmbedding {
    pub embedding: EmbeddingValue,
    pub index: usize,
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<&'static str>,
}

/// The `/v1/embeddings` response (llama.cpp's `format_embeddings_response_oaicompat`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpenAiEmbeddings {
    pub model: String,
    pub object: &'static str,
    pub usage: EmbeddingUsage,
    pub data: Vec<OpenAiEmbedding>,
}

impl OpenAiEmbeddings {
    /// From one pooled vector per input.
    pub fn new(model: String, vectors: Vec<Vec<f32>>, n_tokens: usize, f: EncodingFormat) -> Self {
        let data = vectors
            .into_iter()
            .enumerate()
            .map(|(index, v)| {
                let (embedding, encoding_format) = match f {
                    EncodingFormat::Float => (EmbeddingValue::Float(v), None),
                    EncodingFormat::Base64 => {
                        (EmbeddingValue::Base64(base64_f32(&v)), Some("base64"))
                    }
                };
                OpenAiEmbedding {
                    embedding,
                    index,
                    object: "embedding",
                    encoding_format,
                }
            })
            .collect();
        OpenAiEmbeddings {
            model,
            object: "list",
            usage: EmbeddingUsage {
                prompt_tokens: n_tokens,
                total_tokens: n_tokens,
            },
            data,
        }
    }
}

/// One element of the `/embedding` response: the pooled vector, or one per token with
/// `--pooling none`, always as a list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LlamaEmbedding {
    pub index: usize,
    pub embedding: Vec<Vec<f32>>,
}

/// Standard base64 (with padding) of the vector's little-endian bytes.
pub fn base64_f32(v: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_standard_alphabet_and_padding() {
        // 1.0f32 = 00 00 80 3f
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[]), "");
        assert_eq!(base64_f32(&[1.0, -2.0, 0.5]).len(), 16);
    }

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

    #[test]
    fn openai_shape_serializes_like_llama_cpp() {
        let r = OpenAiEmbeddings::new("m".into(), vec![vec![0.5]], 3, EncodingFormat::Float);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model": "m", "object": "list",
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
                "data": [{"embedding": [0.5], "index": 0, "object": "embedding"}]})
        );
    }
}
