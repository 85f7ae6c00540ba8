//! `llama-otel`: traces and metrics for the llama inference server, through OpenTelemetry.
//!
//! Instrument code with the macros — [`span!`], [`set_attr!`], [`event!`], [`counter_add!`],
//! [`updown_add!`], [`histogram_record!`], [`gauge_set!`], [`time_histogram!`] — and start the
//! SDK once with [`init`]. Without the `otel` feature (the default) every macro expands to
//! code that type-checks its arguments inside `if false { .. }` and evaluates none of them, the
//! guards are zero-sized, and no OpenTelemetry crate is compiled.
//!
//! With `otel`, a macro first checks one atomic flag (is an SDK installed?) and evaluates its
//! arguments only then. Each metric call site creates its instrument once and caches it in a
//! `static`; the cache is tagged with an SDK generation, so call sites that ran before
//! [`init`] (bound to the no-op provider) rebind on their next use. Nothing at a call site
//! blocks on I/O: spans go through a bounded batch queue (full ⇒ dropped and counted in
//! `llama.telemetry.dropped`), metrics are pushed by a periodic reader, and OTLP runs on a
//! small runtime owned by the [`TelemetryGuard`].
//!
//! Logs: [`logs::init`] installs the `tracing` subscriber (console in llama.cpp's layout or
//! JSON lines, `--log-file`, and with `otel` the OTLP logs bridge); run code under
//! [`TraceContext::scope`] / [`SpanGuard::in_scope`] so that its log records carry the span's
//! trace and span ids.
//!
//! ```
//! use llama_otel::{counter_add, histogram_record, semconv, span, TelemetryConfig};
//!
//! let _telemetry = llama_otel::init(TelemetryConfig::default()).unwrap();
//! let incoming = llama_otel::extract_w3c(None, None);
//! let request = span!("chat smollm2", parent: &incoming, kind: Server,
//!     [semconv::GEN_AI_OPERATION_NAME] = "chat");
//! counter_add!("llama.requests", 1, unit: "{request}");
//! histogram_record!(semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, 0.05,
//!     unit: "s", buckets: &semconv::TIME_TO_FIRST_TOKEN_BUCKETS);
//! let _traceresponse: Option<String> = request.traceresponse();
//! let _metrics_text: String = llama_otel::prometheus_text();
//! ```

pub mod error;

mod attr;
pub mod catalog;
#[cfg(feature = "testing")]
mod catalog_check;
pub mod config;
mod exposition;
mod guard;
mod instrument;
pub mod logs;
mod macros;
pub mod names;
pub mod observe;
pub mod process;
pub mod semconv;
mod trace;
mod traces;

#[cfg(feature = "otel")]
mod exemplars;
#[cfg(feature = "otel")]
mod sdk;
#[cfg(feature = "otel")]
mod state;
#[cfg(feature = "testing")]
pub mod testing;

#[doc(hidden)]
pub mod __private;

pub use attr::AttrValue;
pub use config::{OtlpTarget, Protocol, ResolvedConfig, TelemetryConfig};
pub use error::{Error, Result};
pub use exposition::{metrics_text, openmetrics_from_text, MetricsFormat, OPENMETRICS_EOF};
pub use guard::{
    init, is_active, prometheus_text, telemetry_stats, TelemetryGuard, TelemetryStats,
};
pub use trace::{
    current_ids, extract_w3c, format_traceresponse, AsParent, SpanContext, SpanGuard, SpanKind,
    TraceContext,
};
pub use traces::{
    recent_traces_otlp_json, trace_buffer_stats, TraceBufferStats, TRACE_BUFFER_BYTES,
    TRACE_BUFFER_SPANS_PER_TRACE, TRACE_BUFFER_TRACES, TRACE_BUFFER_VALUE_CHARS,
};

/// True when this build records telemetry (the `otel` feature is on). A server can warn when
/// `OTEL_*` variables are set but this is false.
pub const ENABLED: bool = cfg!(feature = "otel");
