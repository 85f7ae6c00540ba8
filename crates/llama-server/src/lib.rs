//! llama-server: an OpenAI- and llama.cpp-compatible LLM HTTP server with continuous batching.
//!
//! Layout, outside in; each layer imports only the ones below it (no import cycle):
//! - [`cli`] — flags; [`server`] — telemetry start, bind, background model loading, graceful
//!   shutdown.
//! - [`http`] — axum routes and middleware (HTTP span, rejection counting, API key), handlers
//!   that turn scheduler events into responses, SSE.
//! - [`api`] — request bodies and their validation into generation settings, and every response
//!   body and stream chunk as a typed struct (`api::response`). No HTTP here.
//! - [`scheduler`] — one thread owning the model context: slots, prompt cache, batch packing,
//!   sampling, stop strings; reached through a cloneable handle. Each job owns its
//!   `scheduler::request::RequestTrace` (spans, metrics, outcome, admission permit).
//! - Leaves: [`telemetry`] (the shared llama-otel instruments), [`memory`] (memory and process
//!   instruments), [`metrics`] (llama.cpp's
//!   `/metrics` series), [`error`] (the one error type; its HTTP mapping is in `http::errors`),
//!   [`tls`] (the HTTPS acceptor `server` listens with), [`write_timeout`] (the write half of
//!   `-to`), [`usage`] (a request's token counts, for its log line).

pub mod api;
pub mod cli;
pub mod error;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod metrics_listener;
pub mod scheduler;
pub mod server;
pub mod telemetry;
pub mod tls;
pub mod usage;
pub mod write_timeout;
