//! llama-server: an OpenAI- and llama.cpp-compatible LLM HTTP server with continuous batching.
//!
//! Layout, outside in:
//! - [`cli`] — flags; [`server`] — bind, background model loading, graceful shutdown.
//! - [`http`] — axum routes and middleware (HTTP span, API key), handlers that turn scheduler
//!   events into responses, SSE; [`api`] — request bodies and their validation into generation
//!   settings, and every response body and stream chunk as a typed struct (`api::response`).
//! - [`scheduler`] — one thread owning the model context: slots, prompt cache, batch packing,
//!   sampling, stop strings; reached through a cloneable handle.
//! - [`metrics`] (llama.cpp's `/metrics` series) and [`telemetry`] (llama-otel spans/metrics).
//! - [`error`] — the one error type; its HTTP mapping is in `http::errors`.

pub mod api;
pub mod cli;
pub mod error;
pub mod http;
pub mod metrics;
pub mod scheduler;
pub mod server;
pub mod telemetry;
