//! llama-core: GGUF loading, the llama model graph on ggml, KV cache, batching, tokenizer, chat
//! templates and sampling, behind a safe API.

pub mod batch;
pub mod chat;
pub mod context;
pub mod devices;
pub mod embed;
pub mod error;
// Public (unlisted) only so that its doc-tests can prove, as a user of the crate, that tensor
// handles cannot outlive their context; not an API other crates should build on.
#[doc(hidden)]
pub mod ggml;
pub mod gguf;
pub mod kv_cache;
pub mod memory;
pub mod model;
pub mod sampling;
pub mod tiny;
pub mod vocab;

pub use batch::Batch;
pub use context::{Context, ContextParams, DecodeStats};
pub use embed::{Encoder, EncoderParams, Pooling};
pub use error::{Error, Result};
pub use model::{Model, ModelInfo, ModelParams};
