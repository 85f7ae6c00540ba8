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
            },
        }
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
    }
}
