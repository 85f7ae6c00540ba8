//! Every response body and stream chunk the server sends, as typed `Serialize` structs: OpenAI's
//! shapes ([`openai`], the assistant message with tool calls in [`chat_message`]), llama.cpp's ([`llamacpp`]), the token log-probabilities both report
//! ([`logprobs`]) and the error body ([`error`]). Field order is wire order: serde writes fields
//! as they are declared, and clients diff against llama.cpp's output.

pub mod anthropic;
pub mod chat_message;
pub mod error;
pub mod llamacpp;
pub mod logprobs;
pub mod memory;
pub mod openai;
pub mod props;
pub mod responses;
pub mod template;
