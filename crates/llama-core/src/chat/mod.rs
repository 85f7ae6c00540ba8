//! Chat templates: llama.cpp-compatible rendering of `tokenizer.chat_template` (Jinja).
mod apply;
mod builtin;
mod caps;
mod continuation;
mod continuation_families;
mod families;
mod json;
mod message;
mod pycompat;
mod strftime;
mod template;
mod thinking;
pub mod toolcall;
mod undefined_concat;

pub use apply::ChatInputs;
pub use builtin::BUILTIN_NAMES;
pub use caps::TemplateCaps;
pub use continuation::Continuation;
pub use message::{ChatMessage, ChatTool, ContentPart, ToolCall};
pub use template::ChatTemplate;
