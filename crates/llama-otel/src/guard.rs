//! `init()`, the `TelemetryGuard` it returns, and process-wide queries (`prometheus_text`,
//! `telemetry_stats`). Present in every build; without `otel` they do nothing.

use crate::config::TelemetryConfig;
use crate::error::Result;

/// Keeps telemetry running; dropping it flushes and shuts down within the configured
/// deadline (never longer), from any thread or async context.
#[must_use = "telemetry stops when the guard is dropped; keep it alive for the process lifetime"]
pub struct TelemetryGuard {
    #[cfg(feature = "otel")]
    pub(crate) sdk: Option<crate::sdk::Sdk>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("active", &self.is_active())
            .finish()
    }
}

impl TelemetryGuard {
    /// A guard with nothing behind it (telemetry disabled).
    pub fn disabled() -> Self {
        TelemetryGuard {
            #[cfg(feature = "otel")]
            sdk: None,
        }
    }

    /// True when this guard owns a running SDK.
    pub fn is_active(&self) -> bool {
        #[cfg(feature = "otel")]
        {
            self.sdk.is_some()
        }
        #[cfg(not(feature = "otel"))]
        false
    }

    /// Flushes and shuts down now, reporting what dropping the guard would silently ignore:
    /// export errors, or [`Error::ShutdownTimeout`](crate::Error::ShutdownTimeout) when the
    /// deadline passed (the remaining work is abandoned on a helper thread).
    pub fn shutdown(mut self) -> Result<()> {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> Result<()> {
        #[cfg(feature = "otel")]
        if let Some(sdk) = self.sdk.take() {
            return sdk.shutdown();
        }
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.shutdown_inner();
    }
}

/// Starts telemetry as `config` and the `OTEL_*` environment describe.
///
/// Call it once, early in `main`, before serving requests, and keep the guard alive. Spans
/// and metrics recorded before `init()` are lost, but no call site is broken by the order:
/// instruments cached before `init()` are recreated against the new provider on their next
/// use. A second `init()` while a guard is alive fails with
/// [`Error::AlreadyInitialized`](crate::Error::AlreadyInitialized).
///
/// With `OTEL_SDK_DISABLED=true` (or `config.disabled = Some(true)`), or in builds without the
/// `otel` feature, this returns a guard that does nothing. Returns quickly even when the
/// collector is unreachable: connections are made lazily by background exporters.
///
/// Environment values that cannot be used (an unknown protocol or exporter, a malformed
/// number, an unreadable certificate) print one `warning:` line each on stderr and keep the
/// default; only invalid explicit [`TelemetryConfig`] fields make this fail.
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard> {
    let resolved = config.resolve()?;
    #[cfg(feature = "otel")]
    if !resolved.disabled {
        let sdk = crate::sdk::start(&resolved)?;
        return Ok(TelemetryGuard { sdk: Some(sdk) });
    }
    #[cfg(not(feature = "otel"))]
    let _ = resolved;
    Ok(TelemetryGuard::disabled())
}

/// True while an SDK is installed (between `init()` and the guard's drop).
pub fn is_active() -> bool {
    #[cfg(feature = "otel")]
    {
        crate::state::is_active()
    }
    #[cfg(not(feature = "otel"))]
    false
}

/// All metrics in Prometheus text exposition format, for appending to the server's
/// `/metrics` response. Empty unless telemetry is active with the Prometheus reader enabled
/// (`TelemetryConfig::prometheus` or `OTEL_METRICS_EXPORTER=prometheus`).
pub fn prometheus_text() -> String {
    #[cfg(feature = "otel")]
    if let Some(registry) = crate::state::registry() {
        use prometheus::Encoder as _;
        let mut out = Vec::new();
        if prometheus::TextEncoder::new()
            .encode(&registry.gather(), &mut out)
            .is_ok()
        {
            return String::from_utf8_lossy(&out).into_owned();
        }
    }
    String::new()
}

/// Export health since the last `init()`; also exported as `llama.telemetry.dropped`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TelemetryStats {
    /// Spans refused because the export queue was full (collector slow or down).
    pub spans_dropped_queue_full: u64,
    /// Spans in batches the exporter failed to deliver.
    pub spans_export_failed: u64,
    /// Spans delivered.
    pub spans_exported: u64,
    /// Metric export attempts that failed.
    pub metric_exports_failed: u64,
    /// Log records refused because the OTLP log queue was full.
    pub logs_dropped_queue_full: u64,
    /// Log records in batches the exporter failed to deliver.
    pub logs_export_failed: u64,
    /// Log records delivered.
    pub logs_exported: u64,
    /// The most recent export error, for the server's log.
    pub last_export_error: Option<String>,
}

/// Current export counters; all zero without `otel`.
pub fn telemetry_stats() -> TelemetryStats {
    #[cfg(feature = "otel")]
    {
        use crate::sdk::dropped::STATS;
        use std::sync::atomic::Ordering::Relaxed;
        TelemetryStats {
            spans_dropped_queue_full: STATS.spans_queue_full.load(Relaxed),
            spans_export_failed: STATS.spans_export_failed.load(Relaxed),
            spans_exported: STATS.spans_exported.load(Relaxed),
            metric_exports_failed: STATS.metric_exports_failed.load(Relaxed),
            logs_dropped_queue_full: STATS.logs_queue_full.load(Relaxed),
            logs_export_failed: STATS.logs_export_failed.load(Relaxed),
            logs_exported: STATS.logs_exported.load(Relaxed),
            last_export_error: STATS
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
    #[cfg(not(feature = "otel"))]
    TelemetryStats::default()
}
