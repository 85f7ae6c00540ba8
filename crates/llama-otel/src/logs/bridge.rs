//! OTLP logs (otel builds): `tracing` events handed to the SDK's logger through
//! `opentelemetry-appender-tracing`.
//!
//! The layer sits in the subscriber from the start (before `init()` builds the logger
//! provider) and forwards only while a provider is installed, so logging can be set up first
//! and `init()`'s own warnings reach the console. A record's trace and span ids come from
//! OpenTelemetry's current context, which the SDK logger reads when it emits: see
//! [`TraceContext::scope`](crate::TraceContext::scope).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

type Bridge = OpenTelemetryTracingBridge<SdkLoggerProvider, SdkLogger>;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static BRIDGE: RwLock<Option<Arc<Bridge>>> = RwLock::new(None);

/// Starts forwarding events to `provider` (called by the SDK's install).
pub(crate) fn install(provider: &SdkLoggerProvider) {
    *BRIDGE.write().unwrap_or_else(PoisonError::into_inner) =
        Some(Arc::new(OpenTelemetryTracingBridge::new(provider)));
    ACTIVE.store(true, Ordering::Release);
}

/// Stops forwarding (before the provider is flushed and shut down).
pub(crate) fn uninstall() {
    ACTIVE.store(false, Ordering::Release);
    BRIDGE
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
}

/// The subscriber layer: forwards to the installed bridge, if any.
pub(crate) struct OtlpLogs;

impl<S> Layer<S> for OtlpLogs
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if !ACTIVE.load(Ordering::Acquire) {
            return;
        }
        let bridge = BRIDGE
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(bridge) = bridge {
            <Bridge as Layer<S>>::on_event(&bridge, event, ctx);
        }
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use opentelemetry_sdk::logs::{InMemoryLogExporter, SimpleLogProcessor};
    use tracing_subscriber::layer::SubscriberExt as _;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn records_carry_the_ids_of_the_current_context_and_stop_after_uninstall() {
        let _serial = crate::state::TEST_SERIAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let exporter = InMemoryLogExporter::default();
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(SimpleLogProcessor::new(exporter.clone()))
            .build();
        install(&provider);
        let subscriber = tracing_subscriber::registry().with(OtlpLogs);
        tracing::subscriber::with_default(subscriber, || {
            let cx = crate::extract_w3c(Some(PARENT), None);
            cx.in_scope(|| tracing::info!(status = 200u64, "inside"));
            tracing::info!("outside");
            uninstall();
            tracing::info!("after");
        });
        let logs = exporter.get_emitted_logs().unwrap();
        assert_eq!(logs.len(), 2, "{logs:?}");
        let ids = |i: usize| {
            logs[i].record.trace_context().map(|t| {
                (
                    format!("{:032x}", t.trace_id),
                    format!("{:016x}", t.span_id),
                )
            })
        };
        assert_eq!(
            ids(0),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into()
            ))
        );
        assert_eq!(ids(1), None);
    }
}
