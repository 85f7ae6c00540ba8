//! The instrumentation macros. Each public macro has two definitions, selected by
//! `#[cfg(feature = "otel")]` on the definition itself (never inside the body, which would be
//! evaluated in the caller's crate): with `otel` on it calls the OpenTelemetry API, with it off
//! it type-checks its arguments inside `if false { .. }` and evaluates none of them.

mod args;
mod metrics;
mod trace;
