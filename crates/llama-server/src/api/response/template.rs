//! llama.cpp's `/apply-template` answer.

use serde::Serialize;

/// `{"prompt": "..."}`: the rendered conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplatePrompt {
    pub prompt: String,
}
