//! Builds the tracer and meter providers for a resolved configuration.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Runtime;

use super::dropped::{CountingExporter, CountingMetricExporter, CountingProcessor};
use super::lifecycle::{Parts, Sdk};
use super::{exporters, resource};
use crate::config::ResolvedConfig;
use crate::error::{Error, Result};
use crate::state::Reservation;

/// Builds and installs everything `config` asks for.
pub(crate) fn start(config: &ResolvedConfig) -> Result<Sdk> {
    let reservation = Reservation::acquire()?;
    let wants_otlp = config.traces.is_some() || config.metrics.is_some();
    let runtime = if wants_otlp {
        Some(exporter_runtime()?)
    } else {
        None
    };
    let resource = resource::build(config);
    let registry = config.prometheus.then(prometheus::Registry::new);
    let meter_provider = meter_provider(config, resource.clone(), runtime.as_ref(), &registry)?;
    let tracer_provider = tracer_provider(config, resource, runtime.as_ref())?;
    Ok(Sdk::install(
        reservation,
        Parts {
            tracer_provider,
            meter_provider,
            registry,
            runtime,
            shutdown_timeout: config.shutdown_timeout,
        },
    ))
}

/// A small runtime owned by the guard: the tonic channel's tasks live here, independent of
/// whatever runtime (if any) the server uses, and it outlives every export.
fn exporter_runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("llama-otel-io")
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}

fn meter_provider(
    config: &ResolvedConfig,
    resource: Resource,
    runtime: Option<&Runtime>,
    registry: &Option<prometheus::Registry>,
) -> Result<SdkMeterProvider> {
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if let (Some(target), Some(rt)) = (&config.metrics, runtime) {
        let exporter = {
            let _in_runtime = rt.enter();
            exporters::metric_exporter(target)?
        };
        let reader = PeriodicReader::builder(CountingMetricExporter(exporter))
            .with_interval(config.metric_export_interval)
            .build();
        builder = builder.with_reader(reader);
    }
    if let Some(registry) = registry {
        let reader = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .build()
            .map_err(|e| Error::Prometheus(e.to_string()))?;
        builder = builder.with_reader(reader);
    }
    Ok(builder.build())
}

fn tracer_provider(
    config: &ResolvedConfig,
    resource: Resource,
    runtime: Option<&Runtime>,
) -> Result<SdkTracerProvider> {
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(ratio) = config.trace_sample_ratio {
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))));
    }
    if let (Some(target), Some(rt)) = (&config.traces, runtime) {
        let exporter = {
            let _in_runtime = rt.enter();
            exporters::span_exporter(target)?
        };
        let in_flight = Arc::new(AtomicUsize::new(0));
        let batch = BatchSpanProcessor::builder(CountingExporter::new(exporter, in_flight.clone()))
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(config.span_queue_size)
                    .build(),
            )
            .build();
        builder = builder.with_span_processor(CountingProcessor::new(
            batch,
            in_flight,
            config.span_queue_size,
        ));
    }
    Ok(builder.build())
}
