//! The span guard returned by [`span!`](crate::span) and the option builder the macro drives.
//! With `otel` off both are zero-sized and every method is a no-op.

use std::borrow::{Borrow, Cow};

use super::context::{AsParent, SpanContext, TraceContext};

#[cfg(feature = "otel")]
use opentelemetry::{
    trace::{Link, SpanBuilder, Status, TraceContextExt, Tracer as _},
    Context, KeyValue,
};

/// The role of a span, as in OpenTelemetry's `SpanKind`. Default: `Internal`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanKind {
    /// Outbound request to another service.
    Client,
    /// Handling of an inbound request (an HTTP request span).
    Server,
    /// Work handed to a queue (e.g. enqueueing a request for the scheduler).
    Producer,
    /// Work taken from a queue (e.g. a decode batch serving queued requests).
    Consumer,
    /// In-process work.
    #[default]
    Internal,
}

#[cfg(feature = "otel")]
impl From<SpanKind> for opentelemetry::trace::SpanKind {
    fn from(kind: SpanKind) -> Self {
        use opentelemetry::trace::SpanKind as K;
        match kind {
            SpanKind::Client => K::Client,
            SpanKind::Server => K::Server,
            SpanKind::Producer => K::Producer,
            SpanKind::Consumer => K::Consumer,
            SpanKind::Internal => K::Internal,
        }
    }
}

/// A started span; it ends when dropped (or at [`end`](Self::end)). `Send`, so it may be held
/// across `.await`. Spans never become "current" implicitly: pass `parent: &guard` to nest.
#[must_use = "the span ends as soon as the guard is dropped; bind it: `let _span = span!(..)`"]
#[derive(Debug)]
pub struct SpanGuard {
    /// `None` for the no-op guard (telemetry off, disabled or not initialised).
    #[cfg(feature = "otel")]
    cx: Option<Context>,
}

impl SpanGuard {
    /// A guard that records nothing.
    pub const fn noop() -> Self {
        SpanGuard {
            #[cfg(feature = "otel")]
            cx: None,
        }
    }

    /// True when attributes and events on this span are being recorded.
    pub fn is_recording(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.cx.as_ref().is_some_and(|cx| cx.span().is_recording())
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// The context to pass as `parent:` to child spans, possibly on another task or thread.
    pub fn context(&self) -> TraceContext {
        TraceContext {
            #[cfg(feature = "otel")]
            cx: self.cx.clone().unwrap_or_default(),
        }
    }

    /// This span's identity, for links (`links: vec![guard.span_context()]`).
    pub fn span_context(&self) -> SpanContext {
        #[cfg(feature = "otel")]
        if let Some(cx) = &self.cx {
            return SpanContext::from_otel(cx.span().span_context());
        }
        SpanContext::default()
    }

    /// The trace id (32 hex digits), e.g. for logs or an `x-trace-id` response header.
    pub fn trace_id(&self) -> Option<String> {
        self.span_context().trace_id()
    }

    /// The W3C `traceresponse` header value naming this span.
    pub fn traceresponse(&self) -> Option<String> {
        self.span_context().traceresponse()
    }

    /// Adds a link to another span after creation: e.g. a request span linking to each decode
    /// batch that served it, while the batch span links back via `links:` at its start.
    pub fn add_link(&self, target: &SpanContext) {
        #[cfg(feature = "otel")]
        if let (Some(cx), Some(sc)) = (&self.cx, &target.sc) {
            cx.span().add_link(sc.clone(), Vec::new());
        }
        #[cfg(not(feature = "otel"))]
        let _ = target;
    }

    /// Marks the span as failed with a human-readable description (status `Error`). Also set
    /// `error.type` with [`set_attr!`](crate::set_attr) for the low-cardinality class.
    pub fn set_error(&self, description: impl Into<Cow<'static, str>>) {
        #[cfg(feature = "otel")]
        if let Some(cx) = &self.cx {
            cx.span().set_status(Status::error(description));
        }
        #[cfg(not(feature = "otel"))]
        let _ = description;
    }

    /// Marks the span as explicitly successful (status `Ok`).
    pub fn set_ok(&self) {
        #[cfg(feature = "otel")]
        if let Some(cx) = &self.cx {
            cx.span().set_status(Status::Ok);
        }
    }

    /// Ends the span now (same as dropping the guard).
    pub fn end(self) {}

    #[cfg(feature = "otel")]
    #[doc(hidden)]
    pub fn __set_attributes(&self, attributes: Vec<KeyValue>) {
        if let Some(cx) = &self.cx {
            cx.span().set_attributes(attributes);
        }
    }

    #[cfg(feature = "otel")]
    #[doc(hidden)]
    pub fn __add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        if let Some(cx) = &self.cx {
            cx.span().add_event(name, attributes);
        }
    }
}

impl Default for SpanGuard {
    fn default() -> Self {
        Self::noop()
    }
}

#[cfg(feature = "otel")]
impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(cx) = self.cx.take() {
            cx.span().end();
        }
    }
}

impl AsParent for SpanGuard {
    #[cfg(feature = "otel")]
    fn parent_context(&self) -> Option<Context> {
        self.cx.clone()
    }
}

/// Options of one `span!` call. Public only so the macros can reach it; not part of the API.
#[doc(hidden)]
#[derive(Default)]
pub struct SpanOptions {
    #[cfg(feature = "otel")]
    parent: Option<Context>,
    #[cfg(feature = "otel")]
    kind: Option<opentelemetry::trace::SpanKind>,
    #[cfg(feature = "otel")]
    links: Vec<Link>,
}

impl SpanOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// `parent: x` — without it the parent is the thread's current OpenTelemetry context
    /// (empty unless some other library attached one), i.e. usually a new trace.
    pub fn parent<P: AsParent>(&mut self, parent: P) {
        #[cfg(feature = "otel")]
        {
            self.parent = Some(parent.parent_context().unwrap_or_default());
        }
        #[cfg(not(feature = "otel"))]
        let _ = parent;
    }

    /// `kind: Server` (any [`SpanKind`] variant name, or a `SpanKind` value).
    pub fn kind(&mut self, kind: SpanKind) {
        #[cfg(feature = "otel")]
        {
            self.kind = Some(kind.into());
        }
        #[cfg(not(feature = "otel"))]
        let _ = kind;
    }

    /// `links: v` — any iterable of `SpanContext` or `&SpanContext`; invalid ones are skipped.
    pub fn links<I>(&mut self, links: I)
    where
        I: IntoIterator,
        I::Item: Borrow<SpanContext>,
    {
        #[cfg(feature = "otel")]
        self.links.extend(
            links
                .into_iter()
                .filter_map(|l| l.borrow().sc.clone())
                .map(Link::with_context),
        );
        #[cfg(not(feature = "otel"))]
        let _ = links;
    }

    #[cfg(feature = "otel")]
    pub fn start(self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) -> SpanGuard {
        let Some(tracer) = crate::state::tracer() else {
            return SpanGuard::noop();
        };
        let mut builder = SpanBuilder::from_name(name).with_attributes(attributes);
        if let Some(kind) = self.kind {
            builder = builder.with_kind(kind);
        }
        if !self.links.is_empty() {
            builder = builder.with_links(self.links);
        }
        let parent = self.parent.unwrap_or_else(Context::current);
        let span = tracer.build_with_context(builder, &parent);
        SpanGuard {
            cx: Some(parent.with_span(span)),
        }
    }
}
