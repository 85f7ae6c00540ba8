//! The error body every endpoint answers with: `{"error": {"code", "message", "type"}}`
//! (llama.cpp's `format_error_response`, which follows OpenAI's).

use serde::Serialize;

/// `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// The inner object of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// `invalid_request_error`, `unavailable_error`, ...
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The prompt's tokens, on `exceed_context_size_error` only (as llama.cpp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_prompt_tokens: Option<usize>,
    /// A slot's context, on `exceed_context_size_error` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_ctx: Option<usize>,
}

/// OpenAI's string code where it defines one (`invalid_api_key`), else the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ErrorCode {
    Name(&'static str),
    Status(u16),
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: String, kind: &'static str) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message,
                kind,
                n_prompt_tokens: None,
                n_ctx: None,
            },
        }
    }

    /// llama.cpp's `exceed_context_size_error` body: the prompt's size and the slot's context
    /// after the usual fields.
    pub fn with_context_sizes(mut self, n_prompt_tokens: usize, n_ctx: usize) -> Self {
        self.error.n_prompt_tokens = Some(n_prompt_tokens);
        self.error.n_ctx = Some(n_ctx);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pinned from the server before the response types existed (json! literals).
    #[test]
    fn error_bodies_serialize_as_before() {
        let named = ErrorBody::new(
            ErrorCode::Name("invalid_api_key"),
            "Invalid API Key".into(),
            "authentication_error",
        );
        assert_eq!(
            serde_json::to_string(&named).unwrap(),
            r#"{"error":{"code":"invalid_api_key","message":"Invalid API Key","type":"authentication_error"}}"#
        );
        let status = ErrorBody::new(ErrorCode::Status(400), "x".into(), "invalid_request_error");
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"error":{"code":400,"message":"x","type":"invalid_request_error"}}"#
        );
        let ctx = status.with_context_sizes(9, 8);
        assert_eq!(
            serde_json::to_string(&ctx).unwrap(),
            r#"{"error":{"code":400,"message":"x","type":"invalid_request_error","n_prompt_tokens":9,"n_ctx":8}}"#
        );
    }
}
