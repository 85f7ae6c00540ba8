//! OpenAI's response shapes, as llama.cpp's server writes them (`server-task.cpp`,
//! `server-common.cpp`): `chat.completion` and `chat.completion.chunk`, `text_completion`
//! (streamed or not), `usage`, the `/v1/models` list and the `/v1/embeddings` list. Completions
//! also carry llama.cpp's `timings` on their last object.

use super::llamacpp::Timings;
use super::logprobs::{ChatLogprobs, LegacyLogprobs};
use crate::api::embed::EncodingFormat;
use crate::scheduler::job;
use serde::Serialize;

/// `system_fingerprint` of every completion object.
pub const FINGERPRINT: &str = concat!("b-llama-rs-", env!("CARGO_PKG_VERSION"));

/// A completion object or stream chunk: `C` is its choice type ([`ChatChoice`], [`ChatDelta`],
/// [`TextChoice`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion<C> {
    pub id: String,
    /// `chat.completion`, `chat.completion.chunk` or `text_completion`.
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub system_fingerprint: &'static str,
    /// One choice; none in the usage chunk of a stream.
    pub choices: Vec<C>,
    /// On a non-streamed response, and on the extra last chunk with `include_usage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// On a non-streamed response, and on the last chunk of a stream (the usage chunk with
    /// `include_usage`, else the one carrying `finish_reason`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
    /// llama.cpp's `__verbose` (the request's `verbose`, or the server's `-v`): the native
    /// `/completion` object of the same answer, its `prompt` the rendered prompt. On a
    /// non-streamed response only.
    #[serde(rename = "__verbose", skip_serializing_if = "Option::is_none")]
    pub verbose: Option<Box<super::llamacpp::Completion>>,
    /// llama.cpp's `prompt_progress` (`return_progress`), on the stream's progress chunks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_progress: Option<crate::scheduler::job::Progress>,
}

/// `/v1/chat/completions/input_tokens` and `/v1/responses/input_tokens`: the prompt tokens a
/// request would take (`object` as llama.cpp writes it for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InputTokens {
    pub input_tokens: usize,
    pub object: &'static str,
}

impl InputTokens {
    pub fn new(input_tokens: usize) -> Self {
        InputTokens {
            input_tokens,
            object: "response.input_tokens",
        }
    }
}

/// The choice of a `chat.completion`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatChoice {
    pub index: usize,
    pub message: ChatMessage,
    /// `null` unless the request asked for `logprobs`.
    pub logprobs: Option<ChatLogprobs>,
    pub finish_reason: &'static str,
}

pub use super::chat_message::{ChatMessage, MessageDelta};

/// The choice of a `chat.completion.chunk`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatDelta {
    pub index: usize,
    pub delta: Delta,
    pub logprobs: Option<ChatLogprobs>,
    /// `null` until the last chunk.
    pub finish_reason: Option<&'static str>,
}

/// What a chunk adds to the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Delta {
    /// The first chunk: `{"role": "assistant", "content": null}`.
    Role {
        role: &'static str,
        content: Option<String>,
    },
    /// `{"content": "..."}`.
    Content { content: String },
    /// Parts of a parsed answer: `reasoning_content`, `content`, `tool_calls`.
    Parsed(MessageDelta),
    /// The chunk with `finish_reason`: `{}`.
    Empty {},
}

impl ChatDelta {
    /// The first chunk of a stream.
    pub fn role() -> Self {
        Self::with(Delta::Role {
            role: "assistant",
            content: None,
        })
    }

    pub fn content(content: String, logprobs: Option<ChatLogprobs>) -> Self {
        ChatDelta {
            logprobs,
            ..Self::with(Delta::Content { content })
        }
    }

    /// Parts of a parsed answer.
    pub fn parsed(delta: MessageDelta, logprobs: Option<ChatLogprobs>) -> Self {
        ChatDelta {
            logprobs,
            ..Self::with(Delta::Parsed(delta))
        }
    }

    /// The chunk that ends the choice.
    pub fn finish(reason: &'static str) -> Self {
        ChatDelta {
            finish_reason: Some(reason),
            ..Self::with(Delta::Empty {})
        }
    }

    fn with(delta: Delta) -> Self {
        ChatDelta {
            index: 0,
            delta,
            logprobs: None,
            finish_reason: None,
        }
    }
}

/// The choice of a `text_completion` (streamed or not).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextChoice {
    pub text: String,
    pub index: usize,
    pub logprobs: Option<LegacyLogprobs>,
    pub finish_reason: Option<&'static str>,
}

/// Token counts; `prompt_tokens_details.cached_tokens` are prompt tokens reused from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
    pub prompt_tokens_details: PromptTokensDetails,
}

/// `usage.prompt_tokens_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PromptTokensDetails {
    pub cached_tokens: usize,
}

impl From<&job::Usage> for Usage {
    fn from(u: &job::Usage) -> Self {
        Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.prompt_tokens + u.completion_tokens,
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens: u.cached_tokens,
            },
        }
    }
}

/// `GET /v1/models`: `{"object": "list", "data": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelEntry>,
}

/// One model of [`ModelList`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelEntry {
    pub id: String,
    /// Every `-a` name (llama.cpp's `aliases`; empty without `-a`).
    pub aliases: Vec<String>,
    pub object: &'static str,
    /// Unix time the model became ready.
    pub created: u64,
    pub owned_by: &'static str,
    pub meta: ModelMeta,
}

/// llama.cpp's `meta` of a listed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelMeta {
    pub n_vocab: usize,
    pub n_ctx_train: usize,
    pub n_embd: usize,
    pub n_params: u64,
    /// File size in bytes.
    pub size: u64,
    pub n_ctx: usize,
    pub n_ctx_slot: usize,
}

impl ModelList {
    /// The list of the one served model, named `id` and `aliases`.
    pub fn single(id: String, aliases: Vec<String>, created: u64, meta: ModelMeta) -> Self {
        let model = ModelEntry {
            id,
            aliases,
            object: "model",
            created,
            owned_by: "llamacpp",
            meta,
        };
        ModelList {
            object: "list",
            data: vec![model],
        }
    }
}

/// `usage` of an embeddings response: every input token, special tokens included.
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
pub struct Embedding {
    pub embedding: EmbeddingValue,
    pub index: usize,
    pub object: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<&'static str>,
}

/// The `/v1/embeddings` response (llama.cpp's `format_embeddings_response_oaicompat`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Embeddings {
    pub model: String,
    pub object: &'static str,
    pub usage: EmbeddingUsage,
    pub data: Vec<Embedding>,
}

impl Embeddings {
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
                Embedding {
                    embedding,
                    index,
                    object: "embedding",
                    encoding_format,
                }
            })
            .collect();
        Embeddings {
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
#[path = "openai_tests.rs"]
mod tests;
