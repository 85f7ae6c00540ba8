//! Making a span's context *current* for a stretch of code, so that what is logged there
//! (through `tracing`) carries the span's trace and span ids.
//!
//! Spans from [`span!`](crate::span) never become current on their own (they are handed on
//! explicitly, across tasks and threads). The OTLP log bridge, though, takes a record's trace
//! context from OpenTelemetry's *current* context — the SDK logger fills it in when the record
//! has none — so a request's handler future and the scheduler's per-request work run inside
//! [`TraceContext::scope`] / [`TraceContext::in_scope`]. This works whatever emits the event
//! (our code, llama-core, ggml's log callback) and needs no `tracing` spans at all.

use std::future::Future;

use super::context::TraceContext;
use super::guard::SpanGuard;

impl TraceContext {
    /// Runs `f` with this context current on this thread.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "otel")]
        let _attached = self.cx.clone().attach();
        f()
    }

    /// Wraps `future` so that this context is current while it is polled (on whichever
    /// thread polls it), and only then.
    pub fn scope<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        #[cfg(feature = "otel")]
        {
            opentelemetry::context::FutureExt::with_context(future, self.cx.clone())
        }
        #[cfg(not(feature = "otel"))]
        future
    }
}

impl SpanGuard {
    /// Runs `f` with this span current on this thread (see [`TraceContext::in_scope`]).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        self.context().in_scope(f)
    }
}

/// The trace id and span id (hex) of the span current on this thread, if any: what a log line
/// written now is correlated with.
pub fn current_ids() -> Option<(String, String)> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;
        opentelemetry::Context::map_current(|cx| {
            let sc = cx.span().span_context().clone();
            sc.is_valid().then(|| {
                (
                    format!("{:032x}", sc.trace_id()),
                    format!("{:016x}", sc.span_id()),
                )
            })
        })
    }
    #[cfg(not(feature = "otel"))]
    None
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use super::*;
    use crate::extract_w3c;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn in_scope_makes_the_context_current_and_restores_the_previous_one() {
        assert_eq!(current_ids(), None);
        let cx = extract_w3c(Some(PARENT), None);
        let seen = cx.in_scope(current_ids);
        assert_eq!(
            seen,
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
                "00f067aa0ba902b7".to_owned()
            ))
        );
        assert_eq!(current_ids(), None);
    }

    #[test]
    fn a_scoped_future_sees_its_context_only_while_polled() {
        let cx = extract_w3c(Some(PARENT), None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let inside = rt.block_on(cx.scope(async {
            tokio::task::yield_now().await;
            current_ids()
        }));
        assert_eq!(
            inside.map(|(t, _)| t).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(current_ids(), None);
    }
}
