//! Serde shapes of the request bodies. Unknown fields are ignored; `null` counts as absent.

use serde::Deserialize;

/// `stop`: one string or several.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StopField {
    One(String),
    Many(Vec<String>),
}

/// `logprobs`: a flag (chat) or a count of alternatives (legacy completions).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum LogprobsField {
    Flag(bool),
    Count(i64),
}

/// `stream_options`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct StreamOptions {
    pub include_usage: Option<bool>,
}

/// Generation fields shared by every completion endpoint (OpenAI and llama.cpp spellings).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct GenerationFields {
    pub model: Option<String>,
    pub max_tokens: Option<i64>,
    pub max_completion_tokens: Option<i64>,
    pub n_predict: Option<i64>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<i32>,
    pub min_p: Option<f32>,
    pub seed: Option<i64>,
    pub stop: Option<StopField>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub repeat_last_n: Option<i32>,
    pub logprobs: Option<LogprobsField>,
    pub top_logprobs: Option<i64>,
    pub n_probs: Option<i64>,
    pub ignore_eos: Option<bool>,
    pub stream: Option<bool>,
    pub stream_options: Option<StreamOptions>,
    pub cache_prompt: Option<bool>,
    /// llama.cpp's slot pinning: -1 (or absent) any slot.
    pub id_slot: Option<i64>,
    pub n: Option<i64>,
    /// Structured output (see `api::constraint`).
    pub response_format: Option<serde_json::Value>,
    pub json_schema: Option<serde_json::Value>,
    pub grammar: Option<String>,
    /// llama.cpp's extra sampler fields (see `api::constraint::extra_sampling`).
    pub typical_p: Option<f32>,
    pub top_n_sigma: Option<f32>,
    pub xtc_probability: Option<f32>,
    pub xtc_threshold: Option<f32>,
    pub mirostat: Option<i64>,
    pub mirostat_tau: Option<f32>,
    pub mirostat_eta: Option<f32>,
    pub dry_multiplier: Option<f32>,
    pub dry_base: Option<f32>,
    pub dry_allowed_length: Option<i32>,
    pub dry_penalty_last_n: Option<i32>,
    pub dry_sequence_breakers: Option<Vec<String>>,
    pub min_keep: Option<i64>,
    pub logit_bias: Option<serde_json::Value>,
    /// OpenAI fields this server refuses when they would change the answer.
    #[serde(flatten)]
    pub unsupported: super::unsupported::Unsupported,
    /// llama.cpp's `verbose`: add the `__verbose` debug object to an OpenAI response.
    pub verbose: Option<bool>,
    /// llama.cpp's `post_sampling_probs`: token probabilities after the sampler chain.
    pub post_sampling_probs: Option<bool>,
    /// llama.cpp's `return_progress`: `prompt_progress` events while a stream's prompt runs.
    pub return_progress: Option<bool>,
}

impl GenerationFields {
    pub fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// A content part of a chat message.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// Message content: a string or an array of parts.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// `function` of a tool call in an assistant message.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CalledFunction {
    pub name: String,
    /// JSON text (OpenAI) or a JSON object.
    #[serde(default)]
    pub arguments: serde_json::Value,
}

/// A tool call in an assistant message.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct MessageToolCall {
    #[serde(default)]
    pub id: Option<String>,
    /// `function` (the only kind there is).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub function: CalledFunction,
}

/// One chat message.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    /// An assistant message's calls.
    #[serde(default)]
    pub tool_calls: Option<Vec<MessageToolCall>>,
    /// A `tool` message: the call it answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
    /// A `tool` (or `function`) message: the function's name.
    #[serde(default)]
    pub name: Option<String>,
    /// An earlier answer's thoughts (templates that replay them).
    #[serde(default)]
    pub reasoning_content: Option<String>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// OpenAI function tools (validated in `api::tools`).
    #[serde(default)]
    pub tools: Option<serde_json::Value>,
    /// `auto`, `none`, `required` or `{"type": "function", "function": {"name": ...}}`.
    #[serde(default)]
    pub tool_choice: Option<serde_json::Value>,
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// Open the assistant's turn at the end of the prompt (default true).
    #[serde(default)]
    pub add_generation_prompt: Option<bool>,
    /// Continue the final message: `true`, `"content"` or `"reasoning_content"`.
    #[serde(default)]
    pub continue_final_message: Option<serde_json::Value>,
    #[serde(flatten)]
    pub fields: GenerationFields,
}

/// `POST /v1/completions` and `POST /completion`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct CompletionRequest {
    pub prompt: serde_json::Value,
    /// llama.cpp's `return_tokens`: the generated ids in a non-streamed `/completion` response.
    #[serde(default)]
    pub return_tokens: Option<bool>,
    #[serde(flatten)]
    pub fields: GenerationFields,
}

/// `POST /tokenize`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TokenizeRequest {
    pub content: String,
    #[serde(default)]
    pub add_special: bool,
    #[serde(default = "yes")]
    pub parse_special: bool,
    #[serde(default)]
    pub with_pieces: bool,
}

fn yes() -> bool {
    true
}

/// `POST /detokenize`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct DetokenizeRequest {
    pub tokens: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_request_accepts_parts_nulls_and_unknown_fields() {
        let body = r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]},
            {"role":"assistant","content":null}],"temperature":0,"stop":"\n","frobnicate":{"x":1},
            "top_p":null,"stream":true,"stream_options":{"include_usage":true},"logprobs":true}"#;
        let req: ChatRequest = serde_json::from_str(body).expect("parses");
        assert_eq!(req.messages.len(), 2);
        assert_eq!(req.fields.temperature, Some(0.0));
        assert_eq!(req.fields.top_p, None);
        assert_eq!(req.fields.stop, Some(StopField::One("\n".into())));
        assert!(req.fields.stream() && req.fields.include_usage());
        assert_eq!(req.fields.logprobs, Some(LogprobsField::Flag(true)));
    }

    #[test]
    fn wrong_types_and_missing_fields_are_errors() {
        assert!(
            serde_json::from_str::<ChatRequest>(r#"{"messages":[],"temperature":"hot"}"#).is_err()
        );
        assert!(serde_json::from_str::<ChatRequest>(r#"{"model":"m"}"#).is_err());
        assert!(serde_json::from_str::<ChatRequest>(r#"{"messages":"hi"}"#).is_err());
        assert!(serde_json::from_str::<CompletionRequest>(r#"{"max_tokens":3}"#).is_err());
        assert!(
            serde_json::from_str::<CompletionRequest>(r#"{"prompt":"x","max_tokens":1.5}"#)
                .is_err()
        );
    }

    #[test]
    fn tokenize_defaults_follow_llama_cpp() {
        let req: TokenizeRequest = serde_json::from_str(r#"{"content":"a"}"#).expect("parses");
        assert!(!req.add_special && req.parse_special && !req.with_pieces);
    }
}
