//! Spans: the guard type, span kinds, propagated contexts and W3C header helpers.

mod context;
mod guard;
mod scope;

pub use context::{extract_w3c, format_traceresponse, AsParent, SpanContext, TraceContext};
pub use guard::{SpanGuard, SpanKind, SpanOptions};
pub use scope::current_ids;
