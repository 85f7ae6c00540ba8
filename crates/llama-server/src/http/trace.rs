//! The HTTP server span of every request: `{METHOD} {route}`, continuing the caller's trace
//! (`traceparent` / `tracestate`), with a `traceresponse` header on the response when a trace is
//! active, and its `http.server.request.duration`. Handlers get the span's context through the
//! [`HttpTrace`] extension. Health and scrape probes ([`PROBE_ROUTES`]) get no span unless
//! `--otel-trace-probes` is given (their duration is recorded either way).
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
use crate::telemetry::{OutcomeOnce, ServerAddr};
use crate::usage::TokenUsage;
use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use llama_otel::names::Outcome;
use llama_otel::{histogram_record, semconv, set_attr, span, SpanGuard, TraceContext};
use std::time::Instant;

/// Routes orchestrators poll: not traced unless `--otel-trace-probes`.
pub const PROBE_ROUTES: [&str; 4] = ["/health", "/v1/health", "/metrics", "/props"];

/// What a handler gets of its request's HTTP span: the context (the GenAI span's parent), the
/// request's entry in `llama.requests`, and where the server listens.
#[derive(Debug, Clone, Default)]
pub struct HttpTrace {
    pub context: TraceContext,
    pub outcome: OutcomeOnce,
    pub server: ServerAddr,
    /// The request's token counts, for its log line.
    pub usage: TokenUsage,
}

impl HttpTrace {
    /// The plain values an admitted request's telemetry is built from.
    pub fn request(&self, operation: &'static str, model: String, n_prompt: usize) -> RequestInfo {
        RequestInfo {
            parent: self.context.clone(),
            outcome: self.outcome.clone(),
            server: self.server.clone(),
            usage: self.usage.clone(),
            operation,
            model,
            n_prompt,
        }
    }
}

/// The request's method as `http.request.method` records it: a known method as sent, any
/// other as `_OTHER` (the original then goes to `http.request.method_original`).
fn known_method(method: &str) -> &'static str {
    semconv::HTTP_KNOWN_METHODS
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or(semconv::ERROR_TYPE_OTHER)
}

/// What the span and the duration histogram share, read before the request moves on.
struct RequestMeta {
    method: &'static str,
    route: Option<String>,
    started: Instant,
}

/// The server span for `req` (the request is only borrowed here: its body is not `Sync`);
/// `parent` is the caller's context.
fn start_span(
    req: &Request,
    meta: &RequestMeta,
    server: &ServerAddr,
    parent: &TraceContext,
) -> SpanGuard {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    // The HTTP conventions name a span of an unknown method `HTTP {route}`.
    let verb = match meta.method {
        semconv::ERROR_TYPE_OTHER => "HTTP",
        known => known,
    };
    let name = format!("{verb} {}", meta.route.as_deref().unwrap_or(""));
    let span = span!(name.trim_end().to_owned(), parent: parent, kind: Server,
        [semconv::HTTP_REQUEST_METHOD] = meta.method,
        [semconv::URL_PATH] = req.uri().path().to_owned(),
        [semconv::URL_SCHEME] = server.scheme,
        [semconv::SERVER_ADDRESS] = server.address.clone(),
        [semconv::SERVER_PORT] = server.port);
    // Absent values are left out, never recorded as empty strings.
    if meta.method == semconv::ERROR_TYPE_OTHER {
        set_attr!(
            span,
            [semconv::HTTP_REQUEST_METHOD_ORIGINAL] = req.method().as_str().to_owned()
        );
    }
    if let Some(route) = &meta.route {
        set_attr!(span, [semconv::HTTP_ROUTE] = route.clone());
    }
    if let Some(agent) = header("user-agent").filter(|a| !a.is_empty()) {
        set_attr!(span, [semconv::USER_AGENT_ORIGINAL] = agent.to_owned());
    }
    span
}

/// `http.server.request.duration`: one call site per attribute set (an attribute that does not
/// apply is left out, never recorded empty); the request's span is the bucket's exemplar.
fn record_duration(
    span: &SpanGuard,
    meta: RequestMeta,
    scheme: &'static str,
    status: u16,
    error: Option<&'static str>,
) {
    macro_rules! duration {
        ($($attrs:tt)*) => {
            histogram_record!(semconv::HTTP_SERVER_REQUEST_DURATION, meta.started.elapsed().as_secs_f64(),
                unit: semconv::UNIT_SECONDS, description: "Duration of HTTP server requests",
                buckets: &semconv::HTTP_REQUEST_DURATION_BUCKETS, exemplar: span,
                [semconv::HTTP_REQUEST_METHOD] = meta.method, [semconv::URL_SCHEME] = scheme,
                [semconv::HTTP_RESPONSE_STATUS_CODE] = status, $($attrs)*)
        };
    }
    match (meta.route.clone(), error) {
        (Some(route), Some(e)) => {
            duration!([semconv::HTTP_ROUTE] = route, [semconv::ERROR_TYPE] = e)
        }
        (Some(route), None) => duration!([semconv::HTTP_ROUTE] = route),
        (None, Some(e)) => duration!([semconv::ERROR_TYPE] = e),
        (None, None) => duration!(),
    }
}

/// Middleware: wraps the request in its server span and records its duration.
pub async fn http_span(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let meta = RequestMeta {
        method: known_method(req.method().as_str()),
        route: req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned()),
        started: Instant::now(),
    };
    let config = state.config();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let parent = TraceContext::extract(header); // every configured propagator: W3C trace context and baggage
    let probe = meta
        .route
        .as_deref()
        .is_some_and(|r| PROBE_ROUTES.contains(&r));
    let traced = !probe || config.trace_probes;
    let span = if traced {
        start_span(&req, &meta, &config.server, &parent)
    } else {
        SpanGuard::noop()
    };
    let outcome = OutcomeOnce::default();
    let usage = TokenUsage::default();
    let context = if traced { span.context() } else { parent };
    req.extensions_mut().insert(HttpTrace {
        context: context.clone(),
        outcome: outcome.clone(),
        server: config.server.clone(),
        usage: usage.clone(),
    });
    let (method, path) = (
        req.method().as_str().to_owned(),
        req.uri().path().to_owned(),
    );
    let (route, started) = (meta.route.clone(), meta.started);
    let mut response = context.scope(next.run(req)).await;
    let status = response.status().as_u16();
    set_attr!(span, [semconv::HTTP_RESPONSE_STATUS_CODE] = status);
    let reason = response.extensions().get::<ErrorReason>().map(|r| r.0);
    if let Some(reason) = reason {
        crate::metrics::record_rejection(reason);
        outcome.record(Outcome::Rejected, Some(reason), None);
    }
    // HTTP conventions: for a server only a 5xx is an error (span status and `error.type`);
    // a 4xx is the client's, counted with its reason in `llama.requests` above.
    let error = reason.filter(|_| response.status().is_server_error());
    if let Some(error) = error {
        set_attr!(span, [semconv::ERROR_TYPE] = error);
        span.set_error(error);
    }
    record_duration(&span, meta, config.server.scheme, status, error);
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
        status,
        started,
        context,
        usage,
    };
    response.map(|body| access_log::wrap(body, line))
}
