//! llama.cpp's own response shapes (`tools/server/server-task.cpp`, `server-context.cpp`):
//! `/completion` and its stream chunks, `timings`, `generation_settings`, `/tokenize`,
//! `/detokenize`, `/health`, `/slots` and `/embedding`.

use super::logprobs::TokenProbability;
use crate::scheduler::job::{GenParams, Summary};
use crate::scheduler::SlotInfo;
use serde::Serialize;

/// `timings`, on the last object of every completion (streamed or not, both APIs). `prompt_*`
/// count only the prompt tokens evaluated (not those reused from the cache, `cache_n`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Timings {
    pub cache_n: usize,
    pub prompt_n: usize,
    pub prompt_ms: f64,
    pub prompt_per_token_ms: f64,
    pub prompt_per_second: f64,
    pub predicted_n: usize,
    pub predicted_ms: f64,
    pub predicted_per_token_ms: f64,
    pub predicted_per_second: f64,
    /// Speculative decoding: draft tokens verified and accepted, present only when the
    /// request drafted (llama.cpp's `result_timings::to_json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_n: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_n_accepted: Option<usize>,
}

impl Timings {
    pub fn new(s: &Summary) -> Self {
        let prompt_n = s.usage.prompt_tokens - s.usage.cached_tokens;
        let predicted_n = s.usage.completion_tokens;
        let prompt_ms = s.timings.prompt.as_secs_f64() * 1e3;
        let predicted_ms = s.timings.predicted.as_secs_f64() * 1e3;
        let per_token = |ms: f64, n: usize| if n == 0 { 0.0 } else { ms / n as f64 };
        let per_second = |ms: f64, n: usize| if ms <= 0.0 { 0.0 } else { 1e3 * n as f64 / ms };
        Timings {
            cache_n: s.usage.cached_tokens,
            prompt_n,
            prompt_ms,
            prompt_per_token_ms: per_token(prompt_ms, prompt_n),
            prompt_per_second: per_second(prompt_ms, prompt_n),
            predicted_n,
            predicted_ms,
            predicted_per_token_ms: per_token(predicted_ms, predicted_n),
            predicted_per_second: per_second(predicted_ms, predicted_n),
            draft_n: (s.timings.draft_n > 0).then_some(s.timings.draft_n),
            draft_n_accepted: (s.timings.draft_n > 0).then_some(s.timings.draft_n_accepted),
        }
    }
}

/// `generation_settings` of a completion and `params` of a busy slot. Sampling values are `f32`
/// written as `f64`, as llama.cpp does (`0.8` reads `0.800000011920929`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationSettings {
    pub n_ctx: usize,
    /// `-1`: no limit but the context.
    pub n_predict: i64,
    pub model: String,
    /// `4294967295` (llama.cpp's `LLAMA_DEFAULT_SEED`) when the request set none.
    pub seed: u64,
    pub temperature: f64,
    pub top_k: i32,
    pub top_p: f64,
    pub min_p: f64,
    pub repeat_penalty: f64,
    pub repeat_last_n: i32,
    pub presence_penalty: f64,
    pub frequency_penalty: f64,
    pub stop: Vec<String>,
    pub ignore_eos: bool,
    /// The request's `logit_bias`, then the EOG tokens' `-inf` with `ignore_eos` (llama.cpp).
    pub logit_bias: Vec<LogitBias>,
    pub n_probs: usize,
    pub cache_prompt: bool,
}

/// One `logit_bias` entry as llama.cpp writes it: `-inf` (a banned token) is JSON `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogitBias {
    pub bias: Option<f64>,
    pub token: u32,
}

impl GenerationSettings {
    pub fn new(p: &GenParams, model: &str, n_ctx_slot: usize) -> Self {
        let s = &p.sampling;
        GenerationSettings {
            n_ctx: n_ctx_slot,
            n_predict: p.max_tokens.map_or(-1, |n| n as i64),
            model: model.to_owned(),
            seed: s.seed.unwrap_or(0xFFFF_FFFF),
            temperature: f64::from(s.temperature),
            top_k: s.top_k,
            top_p: f64::from(s.top_p),
            min_p: f64::from(s.min_p),
            repeat_penalty: f64::from(s.repeat_penalty),
            repeat_last_n: s.penalty_last_n,
            presence_penalty: f64::from(s.presence_penalty),
            frequency_penalty: f64::from(s.frequency_penalty),
            stop: p.stop.clone(),
            ignore_eos: p.ignore_eos,
            logit_bias: (s.logit_bias.iter().copied())
                .chain(p.eog_banned.iter().map(|&t| (t, f32::NEG_INFINITY)))
                .map(|(token, b)| LogitBias {
                    bias: b.is_finite().then_some(f64::from(b)),
                    token,
                })
                .collect(),
            n_probs: p.top_logprobs,
            cache_prompt: p.cache_prompt,
        }
    }
}

/// A streamed `/completion` chunk before the last: new text and the ids of its tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompletionChunk {
    pub index: usize,
    pub content: String,
    pub tokens: Vec<u32>,
    /// Always false (the last object, [`Completion`], says true).
    pub stop: bool,
    /// `-1`: llama.cpp reports the slot only on the last object.
    pub id_slot: i64,
    /// Tokens generated so far.
    pub tokens_predicted: usize,
    pub tokens_evaluated: usize,
    /// With `n_probs` (or `logprobs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_probabilities: Option<Vec<TokenProbability>>,
    /// llama.cpp's `prompt_progress` (`return_progress`), on progress chunks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_progress: Option<crate::scheduler::job::Progress>,
}

impl CompletionChunk {
    pub fn new(
        content: String,
        tokens: Vec<u32>,
        tokens_predicted: usize,
        completion_probabilities: Option<Vec<TokenProbability>>,
    ) -> Self {
        CompletionChunk {
            index: 0,
            content,
            tokens,
            stop: false,
            id_slot: -1,
            tokens_predicted,
            tokens_evaluated: 0,
            completion_probabilities,
            prompt_progress: None,
        }
    }
}

/// The `/completion` response, or the last object of its stream (empty `content` and `tokens`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    pub index: usize,
    pub content: String,
    /// The generated ids with `return_tokens` (none when streamed).
    pub tokens: Vec<u32>,
    pub id_slot: usize,
    pub stop: bool,
    pub model: String,
    pub tokens_predicted: usize,
    pub tokens_evaluated: usize,
    pub generation_settings: GenerationSettings,
    pub prompt: String,
    pub has_new_line: bool,
    pub truncated: bool,
    /// `eos`, `word` or `limit`.
    pub stop_type: &'static str,
    pub stopping_word: String,
    pub tokens_cached: usize,
    pub timings: Timings,
    /// With `n_probs` (or `logprobs`), on a non-streamed response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_probabilities: Option<Vec<TokenProbability>>,
}

impl Completion {
    pub fn new(
        content: String,
        tokens: Vec<u32>,
        model: String,
        generation_settings: GenerationSettings,
        s: &Summary,
    ) -> Self {
        Completion {
            index: 0,
            has_new_line: content.contains('\n'),
            content,
            tokens,
            id_slot: s.slot,
            stop: true,
            model,
            tokens_predicted: s.usage.completion_tokens,
            tokens_evaluated: s.usage.prompt_tokens,
            generation_settings,
            prompt: String::new(),
            truncated: s.truncated,
            stop_type: s.finish.llama(),
            stopping_word: s.stop_word.clone().unwrap_or_default(),
            tokens_cached: s.usage.prompt_tokens + s.usage.completion_tokens,
            timings: Timings::new(s),
            completion_probabilities: None,
        }
    }
}

/// What one `/completion` stream sends: chunks, then the final [`Completion`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum CompletionEvent {
    Chunk(CompletionChunk),
    Last(Box<Completion>),
}

/// `/tokenize`: `{"tokens": [ids]}`, or `{"tokens": [{"id", "piece"}]}` with `with_pieces`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tokenize<T> {
    pub tokens: Vec<T>,
}

/// One token of `/tokenize` with `with_pieces`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenPiece {
    pub id: u32,
    pub piece: Piece,
}

/// A piece as text, or as its bytes when they are not valid UTF-8 on their own.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Piece {
    Text(String),
    Bytes(Vec<u8>),
}

impl TokenPiece {
    pub fn new(id: u32, bytes: &[u8]) -> Self {
        let piece = match std::str::from_utf8(bytes) {
            Ok(text) => Piece::Text(text.to_owned()),
            Err(_) => Piece::Bytes(bytes.to_vec()),
        };
        TokenPiece { id, piece }
    }
}

/// `/detokenize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detokenize {
    pub content: String,
}

/// `/health` once the model is loaded: `{"status": "ok"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Health {
    pub status: &'static str,
}

impl Health {
    pub const OK: Health = Health { status: "ok" };
}

/// One element of `/slots`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slot {
    pub id: usize,
    /// `-1` when idle.
    pub id_task: i64,
    pub n_ctx: usize,
    pub speculative: bool,
    pub is_processing: bool,
    pub n_prompt_tokens: usize,
    pub n_cached_tokens: usize,
    /// The running request's settings; `null` when idle.
    pub params: Option<GenerationSettings>,
    pub next_token: NextToken,
}

/// `next_token` of a [`Slot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextToken {
    pub has_next_token: bool,
    pub has_new_line: bool,
    /// Tokens left before `n_predict`; `-1` without a limit.
    pub n_remain: i64,
    pub n_decoded: usize,
    pub stopping_word: String,
}

impl Slot {
    pub fn new(s: &SlotInfo, model: &str) -> Self {
        let n_remain = match s.params.as_ref().and_then(|p| p.max_tokens) {
            Some(max) => max.saturating_sub(s.n_decoded) as i64,
            None => -1,
        };
        Slot {
            id: s.id,
            id_task: s.id_task.map_or(-1, |t| t as i64),
            n_ctx: s.n_ctx,
            speculative: false,
            is_processing: s.id_task.is_some(),
            n_prompt_tokens: s.n_prompt_tokens,
            n_cached_tokens: s.n_cached,
            params: s
                .params
                .as_ref()
                .map(|p| GenerationSettings::new(p, model, s.n_ctx)),
            next_token: NextToken {
                has_next_token: s.id_task.is_some(),
                has_new_line: false,
                n_remain,
                n_decoded: s.n_decoded,
                stopping_word: String::new(),
            },
        }
    }
}

/// One element of the `/embedding` response: the pooled vector, or one per token with
/// `--pooling none`, always as a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Embedding {
    pub index: usize,
    pub embedding: Vec<Vec<f32>>,
}

#[cfg(test)]
#[path = "llamacpp_tests.rs"]
mod tests;
