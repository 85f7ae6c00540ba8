//! The built-in live view: `GET /` (and `/index.html`) serves one self-contained page compiled
//! into the binary (no external assets, no build step), open without the API key as llama.cpp
//! leaves its web UI; `GET /debug/traces?limit=N` serves the last traces of the in-process
//! buffer as OTLP/JSON, behind the API key like every other endpoint.

use crate::error::ServerError;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// The page: HTML, CSS and JavaScript in one file.
pub const PAGE: &str = include_str!("../../webui/index.html");

/// Traces `/debug/traces` returns without a `limit`.
pub const DEFAULT_LIMIT: usize = 20;

/// What `/debug/traces` answers when nothing records traces.
pub const NO_TRACES_OTEL_OFF: &str =
    "no traces: this server was built without the `otel` feature (cargo build --features otel)";
/// The same, for an `otel` build whose SDK is off.
pub const NO_TRACES_SDK_OFF: &str = "no traces: telemetry is disabled (OTEL_SDK_DISABLED)";

/// `GET /` and `GET /index.html`.
pub async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// The `limit` parameter of a query string, if present (the last one wins, as in most
/// frameworks).
fn limit_param(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .filter_map(|pair| pair.strip_prefix("limit="))
        .next_back()
}

fn parse_limit(raw: Option<&str>) -> Result<usize, ServerError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n.min(llama_otel::TRACE_BUFFER_TRACES)),
        _ => Err(ServerError::BadRequest(format!(
            "limit must be an integer from 1 to {} (got {raw:?})",
            llama_otel::TRACE_BUFFER_TRACES
        ))),
    }
}

/// `GET /debug/traces?limit=N`: an OTLP/JSON `ExportTraceServiceRequest`, one `resourceSpans`
/// entry per trace (newest first) with the `llama.decode` steps linked to it. 404 with a
/// message when nothing records traces (no `otel` feature, or the SDK disabled).
pub async fn traces(uri: Uri) -> Result<Response, ServerError> {
    let limit = parse_limit(limit_param(uri.query()))?;
    let Some(body) = llama_otel::recent_traces_otlp_json(limit) else {
        let message = if llama_otel::ENABLED {
            NO_TRACES_SDK_OFF
        } else {
            NO_TRACES_OTEL_OFF
        };
        let body = serde_json::json!({"error": {
            "message": message, "type": "not_found_error", "code": 404,
        }});
        return Ok((StatusCode::NOT_FOUND, axum::Json(body)).into_response());
    };
    let stats = llama_otel::trace_buffer_stats().unwrap_or_default();
    let bound = format!(
        "traces={}, spans-per-trace={}, value-chars={}, max-bytes={}; held: traces={}, spans={}, bytes={}; skipped-spans={}, evicted-traces={}",
        llama_otel::TRACE_BUFFER_TRACES,
        llama_otel::TRACE_BUFFER_SPANS_PER_TRACE,
        llama_otel::TRACE_BUFFER_VALUE_CHARS,
        llama_otel::TRACE_BUFFER_BYTES,
        stats.traces,
        stats.spans,
        stats.bytes,
        stats.skipped_spans,
        stats.evicted_traces,
    );
    Ok((
        [
            (header::CONTENT_TYPE.as_str(), "application/json"),
            (header::CACHE_CONTROL.as_str(), "no-store"),
            ("x-trace-buffer", bound.as_str()),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_clamps_and_refuses_nonsense() {
        assert_eq!(parse_limit(None).ok(), Some(DEFAULT_LIMIT));
        assert_eq!(parse_limit(Some("3")).ok(), Some(3));
        assert_eq!(
            parse_limit(Some("100000")).ok(),
            Some(llama_otel::TRACE_BUFFER_TRACES)
        );
        for bad in ["0", "-1", "x", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(limit_param(Some("a=1&limit=7")), Some("7"));
        assert_eq!(limit_param(Some("a=1")), None);
        assert_eq!(limit_param(None), None);
    }

    #[test]
    fn the_page_is_self_contained() {
        assert!(PAGE.starts_with("<!doctype html>"));
        for external in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!PAGE.contains(external), "the page refers to {external}");
        }
        // The one link: an empty icon, so browsers do not ask for /favicon.ico.
        assert_eq!(PAGE.matches("href=").count(), 1);
        assert!(PAGE.contains(r#"<link rel="icon" href="data:,">"#));
    }
}
