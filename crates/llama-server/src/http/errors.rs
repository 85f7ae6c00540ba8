//! The one HTTP mapping of [`ServerError`]: status, OpenAI-style body
//! `{"error": {"message", "type", "code"}}` and `Retry-After` where it helps — a pure mapping.
//! The response carries its [`ErrorReason`], by which the HTTP middleware (`http::trace`)
//! labels its span and counts the rejection.

use crate::api::response::error::{ErrorBody, ErrorCode};
use crate::error::ServerError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use llama_otel::names::RejectReason;

/// Put on error responses so the HTTP middleware can record `error.type` and count the
/// rejection.
#[derive(Debug, Clone, Copy)]
pub struct ErrorReason(pub &'static str);

impl ServerError {
    pub fn status(&self) -> StatusCode {
        match self {
            ServerError::InvalidJson(_)
            | ServerError::BadRequest(_)
            | ServerError::ContextExceeded { .. } => StatusCode::BAD_REQUEST,
            ServerError::RouteNotFound => StatusCode::NOT_FOUND,
            ServerError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ServerError::Unauthorized => StatusCode::UNAUTHORIZED,
            ServerError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServerError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ServerError::Loading | ServerError::QueueFull(_) | ServerError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ServerError::NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            ServerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body's `type` (llama.cpp's names, which follow OpenAI's).
    pub fn error_type(&self) -> &'static str {
        match self {
            ServerError::ContextExceeded { .. } => "exceed_context_size_error",
            ServerError::RouteNotFound => "not_found_error",
            ServerError::Unauthorized => "authentication_error",
            ServerError::Loading | ServerError::QueueFull(_) | ServerError::ShuttingDown => {
                "unavailable_error"
            }
            ServerError::NotSupported(_) => "not_supported_error",
            ServerError::Internal(_) => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The body's `code`: OpenAI's string where it defines one, else the HTTP status.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServerError::Unauthorized => ErrorCode::Name("invalid_api_key"),
            ServerError::ContextExceeded { .. } => ErrorCode::Name("context_length_exceeded"),
            _ => ErrorCode::Status(self.status().as_u16()),
        }
    }

    /// Low-cardinality label for metrics and `error.type` (one of
    /// `llama_otel::names::REJECTION_REASONS`).
    pub fn reason(&self) -> &'static str {
        let reason = match self {
            ServerError::InvalidJson(_) => RejectReason::InvalidJson,
            ServerError::BadRequest(_) => RejectReason::BadRequest,
            ServerError::ContextExceeded { .. } => RejectReason::ContextExceeded,
            ServerError::RouteNotFound => RejectReason::RouteNotFound,
            ServerError::MethodNotAllowed => RejectReason::MethodNotAllowed,
            ServerError::Unauthorized => RejectReason::Unauthorized,
            ServerError::PayloadTooLarge(_) => RejectReason::PayloadTooLarge,
            ServerError::Timeout(_) => RejectReason::Timeout,
            ServerError::Loading => RejectReason::Loading,
            ServerError::QueueFull(_) => RejectReason::QueueFull,
            ServerError::ShuttingDown => RejectReason::ShuttingDown,
            ServerError::NotSupported(_) => RejectReason::NotSupported,
            ServerError::Internal(_) => RejectReason::Internal,
        };
        reason.as_str()
    }

    /// `{"error": {...}}`, with `n_prompt_tokens` and `n_ctx` when the prompt does not fit
    /// (llama.cpp's `server_task_result_error::to_json`).
    pub fn body(&self) -> ErrorBody {
        let body = ErrorBody::new(self.code(), self.to_string(), self.error_type());
        match self {
            ServerError::ContextExceeded {
                n_prompt,
                n_ctx_slot,
            } => body.with_context_sizes(*n_prompt, *n_ctx_slot),
            _ => body,
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(
            self,
            ServerError::QueueFull(_) | ServerError::Loading | ServerError::ShuttingDown
        ) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response.extensions_mut().insert(ErrorReason(self.reason()));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_a_4xx_or_5xx_with_a_known_reason() {
        let all = [
            ServerError::InvalidJson("x".into()),
            ServerError::BadRequest("x".into()),
            ServerError::ContextExceeded {
                n_prompt: 9,
                n_ctx_slot: 8,
            },
            ServerError::RouteNotFound,
            ServerError::MethodNotAllowed,
            ServerError::Unauthorized,
            ServerError::PayloadTooLarge(1),
            ServerError::Timeout(1),
            ServerError::Loading,
            ServerError::QueueFull(1),
            ServerError::ShuttingDown,
            ServerError::NotSupported("x".into()),
            ServerError::Internal("x".into()),
        ];
        for e in all {
            assert!(
                e.status().is_client_error() || e.status().is_server_error(),
                "{e:?}"
            );
            assert!(
                llama_otel::names::REJECTION_REASONS.contains(&e.reason()),
                "{e:?}"
            );
            let body = serde_json::to_value(e.body()).unwrap();
            assert!(
                body["error"]["message"].is_string() && body["error"]["type"].is_string(),
                "{body}"
            );
        }
    }

    #[test]
    fn loading_body_matches_llama_cpp() {
        let body = serde_json::to_value(ServerError::Loading.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})
        );
    }

    #[test]
    fn openai_codes_for_key_and_queue_errors() {
        assert_eq!(ServerError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        let response = ServerError::QueueFull(4).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
    }
}
