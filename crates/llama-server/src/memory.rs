//! Memory telemetry of the server: `llama.memory.usage{llama.memory.kind, llama.backend,
//! llama.kv_cache.layers}` from the engine's report taken once its context is set up (weights,
//! KV cache, compute buffers and output rows are all sized then), `llama.device.memory.free` /
//! `.total{llama.device}` asked at each collection, and the OS process metrics
//! (`process.memory.*`, `process.cpu.*`). All are observable instruments (read at collection).
//! A leaf module: it imports nothing else of the server.

use llama_core::memory::{self, MemoryReport};
use llama_otel::names;
use llama_otel::observe::{observe, Observation, Observed, ObservedKind};
use llama_otel::semconv::UNIT_BYTES;
use std::sync::Arc;

fn updown(name: &'static str, description: &'static str) -> Observed {
    Observed {
        name,
        unit: UNIT_BYTES,
        description,
        kind: ObservedKind::UpDownCounter,
    }
}

/// The data points of `llama.memory.usage` for `report`.
pub fn usage_points(report: &MemoryReport) -> Vec<Observation> {
    report
        .uses
        .iter()
        .map(|u| {
            let mut attrs = vec![
                (names::MEMORY_KIND, u.kind.as_str().to_owned()),
                (names::BACKEND, u.buffer_type.clone()),
            ];
            if let Some(layers) = u.layers {
                attrs.push((names::KV_LAYERS, layers.as_str().to_owned()));
            }
            Observation {
                value: u.bytes as f64,
                attrs,
            }
        })
        .collect()
}

/// Registers the memory and process instruments; `report` is what `llama.memory.usage`
/// reports from now on.
pub fn register(report: Arc<MemoryReport>) {
    observe(
        updown(
            names::MEMORY_USAGE,
            "Bytes held by ggml, by purpose and buffer type",
        ),
        move |out| out.extend(usage_points(&report)),
    );
    let device = |free: bool| {
        move |out: &mut Vec<Observation>| {
            for d in memory::devices() {
                let value = if free { d.free } else { d.total };
                out.push(Observation {
                    value: value as f64,
                    attrs: vec![(names::DEVICE, d.name)],
                });
            }
        }
    };
    observe(
        updown(names::DEVICE_MEMORY_FREE, "Free memory of each ggml device"),
        device(true),
    );
    observe(
        updown(
            names::DEVICE_MEMORY_TOTAL,
            "Total memory of each ggml device",
        ),
        device(false),
    );
    llama_otel::process::register_metrics();
}
