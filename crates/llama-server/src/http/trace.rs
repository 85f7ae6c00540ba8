//! The HTTP server span of every request: `{METHOD} {route}`, continuing the caller's trace
//! (`traceparent` / `tracestate`), with a `traceresponse` header on the response when a trace is
//! active. Handlers get the span's context through the [`HttpTrace`] extension.
//!
//! For streamed responses the span ends when the response head is sent; the GenAI span below
//! it lasts until the last token.
//!
//! The handler runs with the span's context current (so whatever it logs carries the
//! request's trace and span ids), and the response body writes the request log line when it
//! ends ([`access_log`](super::access_log)).
//!
//! The middleware is also where a request refused with an error answer is counted
//! (`llama.requests{outcome="rejected"}`, `llamacpp:requests_rejected_total`): once per
//! request, through the request's [`OutcomeOnce`], which an admitted request's own telemetry
//! has already used — so a job that failed in the engine is not counted again here.

use super::access_log::{self, RequestLine};
use super::errors::ErrorReason;
use super::AppState;
use crate::scheduler::request::RequestInfo;
use crate::telemetry::OutcomeOnce;
use crate::usage::TokenUsage;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use llama_otel::names::Outcome;
use llama_otel::{semconv, set_attr, span, SpanGuard, TraceContext};

/// What a handler gets of its request's HTTP span: the context (the GenAI span's parent) and
/// the request's entry in `llama.requests`.
#[derive(Debug, Clone, Default)]
pub struct HttpTrace {
    pub context: TraceContext,
    pub outcome: OutcomeOnce,
    /// The request's token counts, for its log line.
    pub usage: TokenUsage,
}

impl HttpTrace {
    /// The plain values an admitted request's telemetry is built from.
    pub fn request(&self, operation: &'static str, model: String, n_prompt: usize) -> RequestInfo {
        RequestInfo {
            parent: self.context.clone(),
            outcome: self.outcome.clone(),
            usage: self.usage.clone(),
            operation,
            model,
            n_prompt,
        }
    }
}

/// The server span for `req` (the request is only borrowed here: its body is not `Sync`).
fn start_span(req: &Request, port: u16) -> SpanGuard {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let parent = TraceContext::extract(header); // every configured propagator: W3C trace context and baggage
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
    let started = std::time::Instant::now();
    let span = start_span(&req, state.config().port);
    let outcome = OutcomeOnce::default();
    let usage = TokenUsage::default();
    let context = span.context();
    req.extensions_mut().insert(HttpTrace {
        context: context.clone(),
        outcome: outcome.clone(),
        usage: usage.clone(),
    });
    let (method, path) = (
        req.method().as_str().to_owned(),
        req.uri().path().to_owned(),
    );
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut response = context.scope(next.run(req)).await;
    set_attr!(
        span,
        [semconv::HTTP_RESPONSE_STATUS_CODE] = response.status().as_u16()
    );
    if let Some(ErrorReason(reason)) = response.extensions().get::<ErrorReason>().copied() {
        crate::metrics::record_rejection(reason);
        outcome.record(Outcome::Rejected, Some(reason), None);
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
    let line = RequestLine {
        method,
        route,
        path,
        status: response.status().as_u16(),
        started,
        context,
        usage,
    };
    response.map(|body| access_log::wrap(body, line))
}
