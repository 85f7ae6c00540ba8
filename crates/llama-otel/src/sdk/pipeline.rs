//! Builds the tracer and meter providers for a resolved configuration. An exporter that cannot
//! be built (a malformed endpoint, an unreadable certificate) is left out with one warning:
//! telemetry settings never stop the server.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanExporter,
    TracerProviderBuilder,
};
use opentelemetry_sdk::Resource;
use tokio::runtime::Runtime;

use super::dropped::{CountingExporter, CountingMetricExporter, CountingProcessor};
use super::lifecycle::{Extras, Parts, Sdk};
use super::selfobs::Components;
use super::{exporters, logs, resource};
use crate::config::ResolvedConfig;
use crate::error::{Error, Result};
use crate::state::Reservation;

fn warn(line: &str) {
    tracing::warn!("{line}");
}

/// Builds and installs everything `config` asks for.
pub(crate) fn start(config: &ResolvedConfig) -> Result<Sdk> {
    let reservation = Reservation::acquire()?;
    for line in &config.warnings {
        warn(line);
    }
    let wants_otlp = config.traces.is_some() || config.metrics.is_some() || config.logs.is_some();
    let runtime = if wants_otlp {
        Some(exporter_runtime()?)
    } else {
        None
    };
    let resource = resource::build(config);
    let registry = config.prometheus.then(prometheus::Registry::new);
    let mut components = Components::default();
    let meter_provider = meter_provider(
        config,
        resource.clone(),
        runtime.as_ref(),
        &registry,
        &mut components,
    )?;
    let logger_provider = logs::logger_provider(config, resource.clone(), runtime.as_ref());
    let tracer_provider = tracer_provider(config, resource, runtime.as_ref(), &mut components);
    Ok(Sdk::install(
        reservation,
        Parts {
            tracer_provider,
            meter_provider,
            registry,
            runtime,
            shutdown_timeout: config.shutdown_timeout,
            extras: Extras {
                propagators: config.propagators.clone(),
                components,
                logger_provider,
            },
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

fn with_metric_exporter(
    builder: MeterProviderBuilder,
    config: &ResolvedConfig,
    exporter: impl PushMetricExporter,
) -> MeterProviderBuilder {
    let reader = PeriodicReader::builder(CountingMetricExporter(exporter))
        .with_interval(config.metric_export_interval)
        .build();
    builder.with_reader(reader)
}

fn meter_provider(
    config: &ResolvedConfig,
    resource: Resource,
    runtime: Option<&Runtime>,
    registry: &Option<prometheus::Registry>,
    components: &mut Components,
) -> Result<SdkMeterProvider> {
    let mut builder = SdkMeterProvider::builder().with_resource(resource);
    if let (Some(target), Some(rt)) = (&config.metrics, runtime) {
        let built = {
            let _in_runtime = rt.enter();
            exporters::metric_exporter(target)
        };
        match built {
            Ok(exporter) => {
                builder = with_metric_exporter(builder, config, exporter);
                components.metric_exporter =
                    Some(exporters::component_type(target.protocol, "metric"));
            }
            Err(e) => warn(&format!("{e}; metrics are not exported over OTLP")),
        }
    }
    if config.console_metrics {
        let exporter = opentelemetry_stdout::MetricExporter::default();
        builder = with_metric_exporter(builder, config, exporter);
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

/// A bounded batch processor with drop counting and the attribute value limit.
fn with_span_exporter(
    builder: TracerProviderBuilder,
    config: &ResolvedConfig,
    exporter: impl SpanExporter + 'static,
) -> TracerProviderBuilder {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let batch = BatchSpanProcessor::builder(CountingExporter::new(exporter, in_flight.clone()))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(config.span_queue_size)
                .build(),
        )
        .build();
    let processor = CountingProcessor::new(batch, in_flight, config.span_queue_size)
        .with_value_limit(config.attribute_value_length_limit);
    builder.with_span_processor(processor)
}

fn tracer_provider(
    config: &ResolvedConfig,
    resource: Resource,
    runtime: Option<&Runtime>,
    components: &mut Components,
) -> SdkTracerProvider {
    // The in-process buffer of recent traces, whether or not anything is exported.
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_span_processor(super::ring::RingProcessor::install());
    if let Some(ratio) = config.trace_sample_ratio {
        builder = builder.with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            ratio,
        ))));
    }
    if let (Some(target), Some(rt)) = (&config.traces, runtime) {
        let built = {
            let _in_runtime = rt.enter();
            exporters::span_exporter(target)
        };
        match built {
            Ok(exporter) => {
                builder = with_span_exporter(builder, config, exporter);
                components.span_exporter = Some(exporters::component_type(target.protocol, "span"));
            }
            Err(e) => warn(&format!("{e}; spans are not exported over OTLP")),
        }
    }
    if config.console_traces {
        builder = with_span_exporter(
            builder,
            config,
            opentelemetry_stdout::SpanExporter::default(),
        );
    }
    builder.build()
}
