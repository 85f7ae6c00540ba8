//! `ApiJson<T>`: a JSON body extractor whose every failure is a [`ServerError`] (so clients get
//! the OpenAI error shape, not axum's plain-text rejections): 413 over the size limit, 408 when
//! the body is too slow, 400 for malformed JSON or wrong field types.

use super::AppState;
use crate::error::ServerError;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use serde::de::DeserializeOwned;

/// A deserialized JSON request body.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ServerError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let config = state.config();
        let limit = config.max_body;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ServerError::PayloadTooLarge(limit));
        }
        let read = axum::body::to_bytes(req.into_body(), limit);
        let bytes = tokio::time::timeout(config.body_timeout, read)
            .await
            .map_err(|_| ServerError::Timeout(config.body_timeout.as_secs()))?
            .map_err(|e| {
                if is_length_limit(&e) {
                    ServerError::PayloadTooLarge(limit)
                } else {
                    ServerError::InvalidJson(format!("cannot read the body: {e}"))
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ServerError::InvalidJson(e.to_string()))
    }
}
