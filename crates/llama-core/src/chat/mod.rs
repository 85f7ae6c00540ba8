//! Chat templates: HuggingFace-compatible rendering of `tokenizer.chat_template` (Jinja).
mod json;
mod strftime;
mod template;

pub use template::{ChatMessage, ChatTemplate};
