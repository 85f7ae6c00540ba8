//! The crate's error type: everything `init()` and configuration parsing can fail with.

/// Errors from setting up telemetry. Call sites (the macros) never fail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `init()` was called while an earlier `TelemetryGuard` is still alive.
    #[error("otel: telemetry is already initialised; drop the previous TelemetryGuard first")]
    AlreadyInitialized,

    /// An environment variable or config field holds a value we cannot use.
    #[error("otel: invalid value {value:?} for {name}: {reason}")]
    InvalidSetting {
        /// The variable or field name, e.g. `OTEL_EXPORTER_OTLP_PROTOCOL`.
        name: &'static str,
        /// The offending value as given.
        value: String,
        /// What was expected instead.
        reason: &'static str,
    },

    /// The OTLP exporter for one signal could not be built (bad endpoint, no TLS support, ...).
    #[error("otel: cannot build the OTLP {signal} exporter for {endpoint}: {message}")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The endpoint that was being configured.
        endpoint: String,
        /// The exporter's own description of the problem.
        message: String,
    },

    /// The Prometheus reader could not be created.
    #[error("otel: cannot create the Prometheus reader: {0}")]
    Prometheus(String),

    /// The dedicated exporter runtime or a helper thread could not be started.
    #[error("otel: cannot start the exporter runtime: {0}")]
    Runtime(#[source] std::io::Error),

    /// Flushing and shutting down did not finish within the deadline.
    #[error(
        "otel: shutdown did not finish within {timeout_ms} ms; unexported telemetry was abandoned"
    )]
    ShutdownTimeout {
        /// The deadline that was exceeded.
        timeout_ms: u128,
    },

    /// The `--log-file` could not be opened for appending.
    #[error("logs: cannot open the log file {}: {source}", path.display())]
    LogFile {
        /// The file asked for.
        path: std::path::PathBuf,
        /// Why it could not be opened.
        #[source]
        source: std::io::Error,
    },

    /// Flushing or shutting down reported errors (e.g. the collector was unreachable).
    #[error("otel: shutdown reported errors: {0}")]
    Shutdown(String),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;
