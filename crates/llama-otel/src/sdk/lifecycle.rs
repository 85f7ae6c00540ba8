//! Installing the providers for the macros and tearing them down within a deadline.

use std::sync::mpsc;
use std::time::Duration;

use opentelemetry::metrics::{MeterProvider as _, ObservableCounter};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{global, InstrumentationScope};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tokio::runtime::Runtime;

use super::dropped::STATS;
use super::propagation;
use super::selfobs::{self, Components};
use crate::config::Propagator;
use crate::error::{Error, Result};
use crate::state::{self, Active, Reservation};

/// What the pipeline adds beyond providers: propagators and the exporters' component types.
#[derive(Clone, Debug)]
pub(crate) struct Extras {
    pub propagators: Vec<Propagator>,
    pub components: Components,
    /// OTLP/console logs, when a log exporter is configured.
    pub logger_provider: Option<SdkLoggerProvider>,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
            components: Components::default(),
            logger_provider: None,
        }
    }
}

/// The built pieces, before installation.
pub(crate) struct Parts {
    pub tracer_provider: SdkTracerProvider,
    pub meter_provider: SdkMeterProvider,
    pub registry: Option<prometheus::Registry>,
    pub runtime: Option<Runtime>,
    pub shutdown_timeout: Duration,
    pub extras: Extras,
}

/// A running SDK, owned by the `TelemetryGuard`.
pub(crate) struct Sdk {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    logger_provider: Option<SdkLoggerProvider>,
    runtime: Option<Runtime>,
    shutdown_timeout: Duration,
    _self_observability: Vec<ObservableCounter<u64>>,
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("llama-otel")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl Sdk {
    /// Publishes the providers globally and to the macros.
    pub(crate) fn install(reservation: Reservation, parts: Parts) -> Sdk {
        STATS.reset();
        crate::exemplars::reservoir::reset();
        let meter = parts.meter_provider.meter_with_scope(scope());
        let tracer = parts.tracer_provider.tracer_with_scope(scope());
        let self_observability = selfobs::register(&meter, &parts.extras.components);
        // Other libraries using the global API see the same pipeline.
        global::set_tracer_provider(parts.tracer_provider.clone());
        global::set_meter_provider(parts.meter_provider.clone());
        propagation::install(&parts.extras.propagators);
        if let Some(provider) = &parts.extras.logger_provider {
            crate::logs::bridge::install(provider);
        }
        let observed_meter = meter.clone();
        reservation.install(Active {
            tracer,
            meter,
            registry: parts.registry,
        });
        // After install: an instrument registered meanwhile is not registered twice.
        crate::observe::register_all(&observed_meter);
        Sdk {
            tracer_provider: parts.tracer_provider,
            meter_provider: parts.meter_provider,
            logger_provider: parts.extras.logger_provider,
            runtime: parts.runtime,
            shutdown_timeout: parts.shutdown_timeout,
            _self_observability: self_observability,
        }
    }

    #[cfg(feature = "testing")]
    pub(crate) fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    #[cfg(feature = "testing")]
    pub(crate) fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// Detaches the macros, then flushes and shuts down on a helper thread, waiting at most
    /// the deadline. Safe to call from inside any async runtime: this thread only waits on a
    /// channel, and the exporter runtime is dropped on the helper thread.
    pub(crate) fn shutdown(self) -> Result<()> {
        state::uninstall();
        crate::logs::bridge::uninstall();
        propagation::reset();
        global::set_tracer_provider(opentelemetry::trace::noop::NoopTracerProvider::new());
        global::set_meter_provider(opentelemetry::metrics::noop::NoopMeterProvider::new());
        let deadline = self.shutdown_timeout;
        let (done_tx, done_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("llama-otel-shutdown".into())
            .spawn(move || {
                let errors = self.shutdown_blocking();
                let _ = done_tx.send(errors);
            })
            .map_err(Error::Runtime)?;
        match done_rx.recv_timeout(deadline) {
            Ok(errors) if errors.is_empty() => Ok(()),
            Ok(errors) => Err(Error::Shutdown(errors.join("; "))),
            Err(_) => Err(Error::ShutdownTimeout {
                timeout_ms: deadline.as_millis(),
            }),
        }
    }

    fn shutdown_blocking(self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(e) = self
            .tracer_provider
            .shutdown_with_timeout(self.shutdown_timeout)
        {
            errors.push(format!("traces: {e}"));
        }
        if let Err(e) = self
            .meter_provider
            .shutdown_with_timeout(self.shutdown_timeout)
        {
            errors.push(format!("metrics: {e}"));
        }
        if let Some(provider) = &self.logger_provider {
            if let Err(e) = provider.shutdown_with_timeout(self.shutdown_timeout) {
                errors.push(format!("logs: {e}"));
            }
        }
        drop(self.tracer_provider);
        drop(self.meter_provider);
        if let Some(runtime) = self.runtime {
            runtime.shutdown_background();
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::sync::PoisonError;
    use std::time::{Duration, Instant};

    use crate::{Protocol, TelemetryConfig};

    #[test]
    fn init_and_drop_inside_a_current_thread_runtime_neither_panic_nor_hang() {
        let _serial = crate::state::TEST_SERIAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A loopback collector that accepts and never answers.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let held: Vec<_> = listener.incoming().flatten().collect();
            drop(held);
        });
        let config = TelemetryConfig {
            disabled: Some(false),
            otlp: Some(true),
            endpoint: Some(endpoint),
            protocol: Some(Protocol::Grpc),
            shutdown_timeout: Duration::from_secs(1),
            ..Default::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let elapsed = rt.block_on(async move {
            let guard = crate::init(config).unwrap();
            drop(crate::span!("inside the caller's runtime"));
            let start = Instant::now();
            drop(guard);
            start.elapsed()
        });
        assert!(elapsed < Duration::from_secs(3), "drop took {elapsed:?}");
    }
}
