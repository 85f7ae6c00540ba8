//! API keys (`--api-key` / `LLAMA_API_KEY`): `Authorization: Bearer KEY` or `X-Api-Key: KEY`,
//! compared in constant time.

use super::AppState;
use crate::error::ServerError;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The key a request presents, if any.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let (scheme, key) = auth.trim().split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| key.trim());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when no key is configured or the request presents one of them.
pub fn authorized(keys: &[String], headers: &HeaderMap) -> bool {
    if keys.is_empty() {
        return true;
    }
    presented_key(headers).is_some_and(|k| {
        keys.iter()
            .any(|key| constant_time_eq(key.as_bytes(), k.as_bytes()))
    })
}

/// Middleware: 401 unless [`authorized`].
pub async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if authorized(&state.config().api_keys, req.headers()) {
        next.run(req).await
    } else {
        ServerError::Unauthorized.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn bearer_and_x_api_key_are_accepted() {
        let keys = vec!["k1".to_string(), "k2".to_string()];
        assert!(authorized(
            &keys,
            &headers(&[("authorization", "Bearer k1")])
        ));
        assert!(authorized(
            &keys,
            &headers(&[("authorization", "bearer k2")])
        ));
        assert!(authorized(&keys, &headers(&[("x-api-key", "k2")])));
        assert!(!authorized(
            &keys,
            &headers(&[("authorization", "Bearer k3")])
        ));
        assert!(!authorized(
            &keys,
            &headers(&[("authorization", "Basic k1")])
        ));
        assert!(!authorized(&keys, &headers(&[])));
        assert!(authorized(&[], &headers(&[])));
    }
}
