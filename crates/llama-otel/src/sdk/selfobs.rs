//! Self-observability: `llama.telemetry.dropped{signal, reason}` (ours) and, for one release
//! alongside it, the SDK metrics of the semantic conventions (`otel.sdk.*`, with `error.type`
//! on failures and `otel.component.type`/`otel.component.name`), read from
//! [`STATS`](super::dropped::STATS) at each collection.

use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::metrics::{Meter, ObservableCounter};
use opentelemetry::KeyValue;

use super::dropped::{ERROR_TYPES, STATS};
use crate::semconv::LLAMA_TELEMETRY_DROPPED;

/// `otel.component.type` of the exporters in use (`None`: that signal is not exported).
#[derive(Clone, Debug, Default)]
pub(crate) struct Components {
    pub span_exporter: Option<String>,
    pub metric_exporter: Option<String>,
}

fn load(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

/// `llama.telemetry.dropped{signal, reason}`.
fn dropped_counter(meter: &Meter) -> ObservableCounter<u64> {
    meter
        .u64_observable_counter(LLAMA_TELEMETRY_DROPPED)
        .with_unit("{item}")
        .with_description(
            "Telemetry given up on: spans and log records refused by the full export queue or \
             lost in failed exports, and failed metric exports",
        )
        .with_callback(|observer| {
            let attrs = |signal: &'static str, reason: &'static str| {
                [
                    KeyValue::new("signal", signal),
                    KeyValue::new("reason", reason),
                ]
            };
            observer.observe(load(&STATS.spans_queue_full), &attrs("spans", "queue_full"));
            observer.observe(
                load(&STATS.spans_export_failed),
                &attrs("spans", "export_failed"),
            );
            observer.observe(
                load(&STATS.metric_exports_failed),
                &attrs("metrics", "export_failed"),
            );
            observer.observe(load(&STATS.logs_queue_full), &attrs("logs", "queue_full"));
            observer.observe(
                load(&STATS.logs_export_failed),
                &attrs("logs", "export_failed"),
            );
        })
        .build()
}

fn component(kind: &str, name: String) -> [KeyValue; 2] {
    [
        KeyValue::new("otel.component.type", kind.to_owned()),
        KeyValue::new("otel.component.name", name),
    ]
}

fn with_error(base: &[KeyValue; 2], error: &'static str) -> [KeyValue; 3] {
    [
        base[0].clone(),
        base[1].clone(),
        KeyValue::new("error.type", error),
    ]
}

/// `otel.sdk.processor.span.processed`: spans handed to the exporter, and those refused by the
/// full queue (`error.type=queue_full`).
fn processor_counter(meter: &Meter) -> ObservableCounter<u64> {
    let base = component(
        "batching_span_processor",
        "batching_span_processor/0".into(),
    );
    meter
        .u64_observable_counter("otel.sdk.processor.span.processed")
        .with_unit("{span}")
        .with_description(
            "The number of spans for which the processing has finished, either successful or failed",
        )
        .with_callback(move |observer| {
            let handed = load(&STATS.spans_exported) + load(&STATS.spans_export_failed);
            observer.observe(handed, &base);
            observer.observe(
                load(&STATS.spans_queue_full),
                &with_error(&base, "queue_full"),
            );
        })
        .build()
}

/// `otel.sdk.exporter.{span,metric_data_point}.exported`: delivered items, and failed ones by
/// `error.type`.
fn exporter_counter(
    meter: &Meter,
    name: &'static str,
    unit: &'static str,
    kind: &str,
    ok: &'static AtomicU64,
    failed: &'static [AtomicU64; 3],
) -> ObservableCounter<u64> {
    let base = component(kind, format!("{kind}/0"));
    meter
        .u64_observable_counter(name)
        .with_unit(unit)
        .with_description(
            "The number of items for which the export has finished, either successful or failed",
        )
        .with_callback(move |observer| {
            observer.observe(load(ok), &base);
            for (count, error) in failed.iter().zip(ERROR_TYPES) {
                let n = load(count);
                if n > 0 {
                    observer.observe(n, &with_error(&base, error));
                }
            }
        })
        .build()
}

/// Registers every self-observability instrument; keep the handles alive with the SDK.
pub(crate) fn register(meter: &Meter, components: &Components) -> Vec<ObservableCounter<u64>> {
    let mut out = vec![dropped_counter(meter)];
    if let Some(kind) = &components.span_exporter {
        out.push(processor_counter(meter));
        out.push(exporter_counter(
            meter,
            "otel.sdk.exporter.span.exported",
            "{span}",
            kind,
            &STATS.spans_exported,
            &STATS.spans_failed_by_type,
        ));
    }
    if let Some(kind) = &components.metric_exporter {
        out.push(exporter_counter(
            meter,
            "otel.sdk.exporter.metric_data_point.exported",
            "{data_point}",
            kind,
            &STATS.metric_points_exported,
            &STATS.metric_points_failed_by_type,
        ));
    }
    out
}
