//! Crate-owned wrappers for trace identity: a propagated [`TraceContext`] (parent for new spans),
//! a [`SpanContext`] (link target / id source), W3C `traceparent` extraction and the
//! `traceresponse` header value. With `otel` off they are empty and every query returns `None`.

#[cfg(feature = "otel")]
use opentelemetry::{
    propagation::{Extractor, Injector},
    trace::TraceContextExt,
    Context,
};

/// A propagated trace context: what an incoming request's `traceparent` names, or what a live
/// span hands to its children. Use it as `parent: &ctx` in [`span!`](crate::span).
#[derive(Clone, Debug, Default)]
pub struct TraceContext {
    #[cfg(feature = "otel")]
    pub(crate) cx: Context,
}

/// The identity of one span (trace id, span id, flags): a link target for
/// `links: ...` / [`SpanGuard::add_link`](crate::SpanGuard::add_link), or a source of ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpanContext {
    #[cfg(feature = "otel")]
    pub(crate) sc: Option<opentelemetry::trace::SpanContext>,
}

/// Anything that can be a span's parent: a [`SpanGuard`](crate::SpanGuard), a
/// [`TraceContext`], a [`SpanContext`], references to them, or an `Option` of them (`None`
/// starts a new trace). Implemented only by this crate's types.
pub trait AsParent {
    #[cfg(feature = "otel")]
    #[doc(hidden)]
    fn parent_context(&self) -> Option<Context>;
}

impl<T: AsParent + ?Sized> AsParent for &T {
    #[cfg(feature = "otel")]
    fn parent_context(&self) -> Option<Context> {
        (**self).parent_context()
    }
}

impl<T: AsParent> AsParent for Option<T> {
    #[cfg(feature = "otel")]
    fn parent_context(&self) -> Option<Context> {
        self.as_ref().and_then(AsParent::parent_context)
    }
}

impl AsParent for TraceContext {
    #[cfg(feature = "otel")]
    fn parent_context(&self) -> Option<Context> {
        Some(self.cx.clone())
    }
}

impl AsParent for SpanContext {
    #[cfg(feature = "otel")]
    fn parent_context(&self) -> Option<Context> {
        let sc = self.sc.as_ref().filter(|sc| sc.is_valid())?;
        Some(Context::new().with_remote_span_context(sc.clone()))
    }
}

/// Reads a parent context from W3C Trace Context header values (`traceparent`, `tracestate`).
///
/// Missing or malformed values give an empty context, so the span started with it as parent
/// begins a new trace. Equivalent to [`TraceContext::extract`] with a two-header lookup.
///
/// ```
/// let parent = llama_otel::extract_w3c(
///     Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
///     None,
/// );
/// let _span = llama_otel::span!("POST /v1/chat/completions", parent: &parent, kind: Server);
/// ```
pub fn extract_w3c(traceparent: Option<&str>, tracestate: Option<&str>) -> TraceContext {
    TraceContext::extract(|name| match name {
        "traceparent" => traceparent,
        "tracestate" => tracestate,
        _ => None,
    })
}

/// Formats the W3C `traceresponse` header value (`00-{trace-id}-{span-id}-{flags}`) naming the
/// server-side span, or `None` when there is no valid span (telemetry off or not initialised).
pub fn format_traceresponse(span: &SpanContext) -> Option<String> {
    span.traceresponse()
}

impl TraceContext {
    /// Extracts a context with a header lookup (`lookup("traceparent")`, `lookup("tracestate")`;
    /// names are lower case, `baggage` too), using the propagators of `OTEL_PROPAGATORS` (W3C
    /// Trace Context alone before `init()`).
    pub fn extract<'a>(lookup: impl Fn(&str) -> Option<&'a str>) -> Self {
        #[cfg(feature = "otel")]
        {
            let carrier = Lookup(lookup, std::marker::PhantomData);
            let cx = crate::sdk::propagation::extract(&carrier);
            TraceContext { cx }
        }
        #[cfg(not(feature = "otel"))]
        {
            let _ = lookup;
            TraceContext {}
        }
    }

    /// The span context this context carries (remote or local); empty if none.
    pub fn span_context(&self) -> SpanContext {
        #[cfg(feature = "otel")]
        {
            SpanContext::from_otel(self.cx.span().span_context())
        }
        #[cfg(not(feature = "otel"))]
        SpanContext::default()
    }

    /// True when this context carries a valid trace id and span id.
    pub fn is_valid(&self) -> bool {
        self.span_context().is_valid()
    }

    /// The `traceparent` value to send on an outbound request made within this context.
    pub fn traceparent(&self) -> Option<String> {
        #[cfg(feature = "otel")]
        {
            let mut out = Collect(None);
            crate::sdk::propagation::inject(&self.cx, &mut out);
            out.0
        }
        #[cfg(not(feature = "otel"))]
        None
    }
}

impl SpanContext {
    #[cfg(feature = "otel")]
    pub(crate) fn from_otel(sc: &opentelemetry::trace::SpanContext) -> Self {
        SpanContext {
            sc: Some(sc.clone()).filter(|sc| sc.is_valid()),
        }
    }

    /// True when the trace id and span id are both non-zero.
    pub fn is_valid(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.sc.is_some()
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// True when the span is sampled (will be exported).
    pub fn is_sampled(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.sc.as_ref().is_some_and(|sc| sc.is_sampled())
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id(&self) -> Option<String> {
        #[cfg(feature = "otel")]
        {
            self.sc.as_ref().map(|sc| format!("{:032x}", sc.trace_id()))
        }
        #[cfg(not(feature = "otel"))]
        None
    }

    /// The span id as 16 lower-case hex digits.
    pub fn span_id(&self) -> Option<String> {
        #[cfg(feature = "otel")]
        {
            self.sc.as_ref().map(|sc| format!("{:016x}", sc.span_id()))
        }
        #[cfg(not(feature = "otel"))]
        None
    }

    /// The W3C `traceresponse` header value naming this span: `00-{trace}-{span}-{flags}`.
    pub fn traceresponse(&self) -> Option<String> {
        #[cfg(feature = "otel")]
        {
            self.sc.as_ref().map(|sc| {
                format!(
                    "00-{:032x}-{:016x}-{:02x}",
                    sc.trace_id(),
                    sc.span_id(),
                    sc.trace_flags().to_u8()
                )
            })
        }
        #[cfg(not(feature = "otel"))]
        None
    }
}

#[cfg(feature = "otel")]
/// Header lookup as an `Extractor`; the lifetime ties returned values to the carrier.
struct Lookup<'a, F>(F, std::marker::PhantomData<&'a str>);

#[cfg(feature = "otel")]
impl<'a, F: Fn(&str) -> Option<&'a str>> Extractor for Lookup<'a, F> {
    fn get(&self, key: &str) -> Option<&str> {
        (self.0)(key)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

#[cfg(feature = "otel")]
struct Collect(Option<String>);

#[cfg(feature = "otel")]
impl Injector for Collect {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.0 = Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[cfg(feature = "otel")]
    #[test]
    fn extract_w3c_reads_trace_and_span_ids() {
        let cx = extract_w3c(Some(PARENT), Some("vendor=x"));
        let sc = cx.span_context();
        assert!(sc.is_valid());
        assert!(sc.is_sampled());
        assert_eq!(
            sc.trace_id().as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(sc.span_id().as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(sc.traceresponse().as_deref(), Some(PARENT));
        assert_eq!(cx.traceparent().as_deref(), Some(PARENT));
    }

    #[cfg(feature = "otel")]
    #[test]
    fn malformed_traceparent_gives_an_invalid_context() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let cx = extract_w3c(Some(bad), None);
            assert!(!cx.is_valid(), "{bad:?} should not parse");
            assert_eq!(cx.span_context().traceresponse(), None);
        }
        assert!(!extract_w3c(None, None).is_valid());
    }

    #[cfg(not(feature = "otel"))]
    #[test]
    fn without_otel_extraction_is_empty() {
        let cx = extract_w3c(Some(PARENT), None);
        assert!(!cx.is_valid());
        assert_eq!(cx.span_context().trace_id(), None);
        assert_eq!(format_traceresponse(&cx.span_context()), None);
        assert_eq!(cx.traceparent(), None);
        assert_eq!(std::mem::size_of::<TraceContext>(), 0);
        assert_eq!(std::mem::size_of::<SpanContext>(), 0);
    }
}
