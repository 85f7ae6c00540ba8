//! Chat templates: llama.cpp-compatible rendering of `tokenizer.chat_template` (Jinja).
mod apply;
mod builtin;
mod caps;
mod families;
mod json;
mod message;
mod pycompat;
mod strftime;
mod template;
mod thinking;
pub mod toolcall;

pub use apply::ChatInputs;
pub use builtin::BUILTIN_NAMES;
pub use caps::TemplateCaps;
pub use message::{ChatMessage, ChatTool, ContentPart, ToolCall};
pub use template::ChatTemplate;
