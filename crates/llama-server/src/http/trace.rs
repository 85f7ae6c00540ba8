//! The HTTP server span of every request: `{METHOD} {route}`, continuing the caller's trace
//! (`traceparent` / `tracestate`), with a `traceresponse` header on the response when a trace is
//! active. Handlers get the span's context through the [`HttpTrace`] extension.
//!
//! For streamed responses the span ends when the response head is sent; the GenAI span below
//! it lasts until the last token.

use super::errors::ErrorReason;
use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use llama_otel::{semconv, set_attr, span, SpanGuard, TraceContext};

/// The HTTP span's context, for the GenAI span's parent.
#[derive(Debug, Clone, Default)]
pub struct HttpTrace(pub TraceContext);

/// The server span for `req` (the request is only borrowed here: its body is not `Sync`).
fn start_span(req: &Request, port: u16) -> SpanGuard {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let parent = llama_otel::extract_w3c(header("traceparent"), header("tracestate"));
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let span = span!(format!("{method} {}", route.as_deref().unwrap_or("")).trim_end().to_owned(),
        parent: &parent, kind: Server,
        [semconv::HTTP_REQUEST_METHOD] = method,
        "url.path" = req.uri().path().to_owned(),
        [semconv::SERVER_PORT] = port);
    // Absent values are left out, never recorded as empty strings.
    if let Some(route) = route {
        set_attr!(span, [semconv::HTTP_ROUTE] = route);
    }
    if let Some(agent) = header("user-agent").filter(|a| !a.is_empty()) {
        set_attr!(span, "user_agent.original" = agent.to_owned());
    }
    span
}

/// Middleware: wraps the request in its server span.
pub async fn http_span(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let span = start_span(&req, state.config().port);
    req.extensions_mut().insert(HttpTrace(span.context()));
    let mut response = next.run(req).await;
    set_attr!(
        span,
        [semconv::HTTP_RESPONSE_STATUS_CODE] = response.status().as_u16()
    );
    if let Some(ErrorReason(reason)) = response.extensions().get::<ErrorReason>().copied() {
        set_attr!(span, [semconv::ERROR_TYPE] = reason);
        if response.status().is_server_error() {
            span.set_error(reason);
        }
    }
    if let Some(value) = span
        .traceresponse()
        .and_then(|v| HeaderValue::from_str(&v).ok())
    {
        response.headers_mut().insert("traceresponse", value);
    }
    response
}
