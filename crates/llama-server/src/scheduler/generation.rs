//! The values one generation is described by: its validated settings ([`GenParams`]) and
//! what it produces (chunks of text with token probabilities, then a [`Summary`]).

use llama_core::chat::ChatMessage;
use llama_core::sampling::constraint::ConstraintSpec;
use llama_core::sampling::SamplingParams;
use std::time::Duration;

/// Generation settings of one request, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct GenParams {
    pub sampling: SamplingParams,
    /// Most tokens to generate; `None`: until the slot's context is full.
    pub max_tokens: Option<usize>,
    pub stop: Vec<String>,
    pub ignore_eos: bool,
    /// With `ignore_eos`: the end-of-generation tokens it bans, for reporting (the token picker
    /// masks them; kept out of the sampler's `logit_bias` so greedy stays on its fast path).
    pub eog_banned: Vec<u32>,
    pub cache_prompt: bool,
    /// The slot this request must run in (llama.cpp's `id_slot`, taken modulo the slot count);
    /// `None`: any.
    pub id_slot: Option<usize>,
    /// Report the chosen token's log-probability.
    pub logprobs: bool,
    /// Report this many most likely alternatives per token.
    pub top_logprobs: usize,
    /// Probabilities after the sampler chain instead of log-probabilities of the raw logits.
    pub post_sampling_probs: bool,
    /// Report prompt-processing progress (llama.cpp's `return_progress`, streamed requests).
    pub return_progress: bool,
    /// What the output must match (compiled once per request, at submission).
    pub constraint: Option<ConstraintSpec>,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams {
            sampling: SamplingParams::default(),
            max_tokens: None,
            stop: Vec::new(),
            ignore_eos: false,
            eog_banned: Vec::new(),
            cache_prompt: true,
            id_slot: None,
            logprobs: false,
            top_logprobs: 0,
            post_sampling_probs: false,
            return_progress: false,
            constraint: None,
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// End-of-generation token.
    Eog,
    /// A stop string matched.
    Word,
    /// `max_tokens` reached or the slot's context is full.
    Length,
}

impl FinishReason {
    /// OpenAI's `finish_reason`.
    pub fn openai(self) -> &'static str {
        match self {
            FinishReason::Eog | FinishReason::Word => "stop",
            FinishReason::Length => "length",
        }
    }

    /// llama.cpp's `stop_type`.
    pub fn llama(self) -> &'static str {
        match self {
            FinishReason::Eog => "eos",
            FinishReason::Word => "word",
            FinishReason::Length => "limit",
        }
    }
}

/// A generated token with the probabilities the request asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: u32,
    /// Log-probability, or with `post_sampling` the probability after the sampler chain.
    pub logprob: Option<f32>,
    pub top: Vec<(u32, f32)>,
    /// `logprob` and `top` hold probabilities (llama.cpp's `post_sampling_probs`).
    pub post_sampling: bool,
}

/// Text released to the client in one step (held-back partial stop matches are not in it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub tokens: Vec<TokenInfo>,
}

impl Chunk {
    /// Nothing worth sending: no text, and no token probabilities the client asked for.
    pub fn is_silent(&self, with_probs: bool) -> bool {
        self.text.is_empty() && (!with_probs || self.tokens.is_empty())
    }
}

/// llama.cpp's `prompt_progress`: prompt tokens in all, taken from the slot's cache, and
/// processed so far (cached ones included); milliseconds since the prompt started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    pub total: usize,
    pub cache: usize,
    pub processed: usize,
    pub time_ms: u64,
}

/// Token counts of a finished request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Prompt tokens reused from the slot's cache.
    pub cached_tokens: usize,
}

/// llama.cpp's `timings`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub prompt: Duration,
    pub predicted: Duration,
    /// Speculative decoding: draft tokens verified (`draft_n`) and accepted.
    pub draft_n: usize,
    pub draft_n_accepted: usize,
}

/// The end of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub finish: FinishReason,
    pub stop_word: Option<String>,
    pub usage: Usage,
    pub timings: Timings,
    pub slot: usize,
    /// Stopped because the slot's context is full (llama.cpp's `truncated`).
    pub truncated: bool,
    /// A chat request's output read as a message (see `super::chat_output`); boxed to keep
    /// `Event` small.
    pub message: Option<Box<ChatMessage>>,
}

impl Summary {
    /// OpenAI's `finish_reason`: as [`FinishReason::openai`], but `tool_calls` when the answer
    /// ended by itself with tool calls (llama.cpp `to_json_oaicompat_chat`).
    pub fn openai_finish(&self) -> &'static str {
        let calls = self
            .message
            .as_ref()
            .is_some_and(|m| !m.tool_calls.is_empty());
        match self.finish {
            FinishReason::Eog | FinishReason::Word if calls => "tool_calls",
            other => other.openai(),
        }
    }
}
