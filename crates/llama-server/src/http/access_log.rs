//! The request log line: one `info` event per HTTP request, written when its response body
//! ends (so a streamed answer is logged with its full duration and token counts), with the
//! request's trace context current — the OTLP record carries its trace and span ids, and the
//! line names the trace id for the console.

use crate::usage::TokenUsage;
use axum::body::Body;
use hyper::body::{Body as HttpBody, Bytes, Frame, SizeHint};
use llama_otel::TraceContext;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

/// What the line reports, gathered while the request is handled.
#[derive(Debug)]
pub struct RequestLine {
    pub method: String,
    /// The matched route (`/v1/chat/completions`), or the path when no route matched.
    pub route: Option<String>,
    pub path: String,
    pub status: u16,
    pub started: Instant,
    /// The HTTP server span's context: current while the line is written.
    pub context: TraceContext,
    pub usage: TokenUsage,
}

/// Paths polled by orchestrators and scrapers, logged at debug level instead of info (the
/// paths llama.cpp's `log_server_request` skips "to avoid log spam").
const PROBES: [&str; 6] = [
    "/health",
    "/v1/health",
    "/models",
    "/v1/models",
    "/props",
    "/metrics",
];

/// The one event, at `$level` (a call site has a fixed level).
macro_rules! request_event {
    ($level:expr, $line:expr, $tokens:expr, $duration_ms:expr, $aborted:expr, $trace_id:expr) => {
        tracing::event!(
            $level,
            http.request.method = %$line.method,
            http.route = $line.route.as_deref(),
            url.path = $line.route.is_none().then_some($line.path.as_str()),
            http.response.status_code = $line.status,
            duration_ms = $duration_ms,
            gen_ai.usage.input_tokens = $tokens.prompt,
            gen_ai.usage.output_tokens = $tokens.completion,
            aborted = $aborted,
            trace_id = $trace_id,
            "request"
        )
    };
}

impl RequestLine {
    /// Writes the line; `complete` is false when the body was dropped before its end (the
    /// client went away mid-stream).
    fn emit(&self, complete: bool) {
        let tokens = self.usage.get();
        let duration_ms = (self.started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        let trace_id = self.context.span_context().trace_id();
        let aborted = (!complete).then_some(true);
        let probe = PROBES.contains(&self.path.as_str());
        self.context.in_scope(|| {
            if probe {
                request_event!(
                    tracing::Level::DEBUG,
                    self,
                    tokens,
                    duration_ms,
                    aborted,
                    trace_id.as_deref()
                );
            } else {
                request_event!(
                    tracing::Level::INFO,
                    self,
                    tokens,
                    duration_ms,
                    aborted,
                    trace_id.as_deref()
                );
            }
        });
    }
}

/// A response body that writes its [`RequestLine`] when it is dropped.
struct LoggedBody {
    inner: Body,
    line: RequestLine,
    ended: bool,
}

impl HttpBody for LoggedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    fn drop(&mut self) {
        let complete = self.ended || self.inner.is_end_stream();
        self.line.emit(complete);
    }
}

/// `body`, logging `line` once it has been sent (or abandoned).
pub fn wrap(body: Body, line: RequestLine) -> Body {
    Body::new(LoggedBody {
        inner: body,
        line,
        ended: false,
    })
}
