//! Where the engine's memory goes: bytes held by ggml per purpose (weights, K and V of the KV
//! cache by layer kind, compute buffers, output rows) and per buffer type, plus each device's
//! free and total memory. [`Context::memory`](crate::Context::memory) and
//! [`Model::memory`](crate::Model::memory) build a [`MemoryReport`]; the server exports it as
//! `llama.memory.usage{llama.memory.kind, llama.backend}` and in `GET /props`.

pub use crate::ggml::DeviceMemory;

/// What a block of memory holds (the `llama.memory.kind` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// Model weights.
    Weights,
    /// Keys of the KV cache.
    KvK,
    /// Values of the KV cache.
    KvV,
    /// The scheduler's compute buffers (graph intermediates, sized for the worst-case batch).
    Compute,
    /// Logits (or embeddings) copied out of the graph for the caller.
    Output,
}

impl MemoryKind {
    /// Every kind, in report order.
    pub const ALL: [MemoryKind; 5] = [
        MemoryKind::Weights,
        MemoryKind::KvK,
        MemoryKind::KvV,
        MemoryKind::Compute,
        MemoryKind::Output,
    ];

    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            MemoryKind::Weights => "weights",
            MemoryKind::KvK => "kv_k",
            MemoryKind::KvV => "kv_v",
            MemoryKind::Compute => "compute",
            MemoryKind::Output => "output",
        }
    }
}

/// Which layers a KV block belongs to when sliding-window layers keep their own cache (iSWA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvLayers {
    /// Layers attending to the whole context (every layer of a model without sliding windows).
    Full,
    /// Sliding-window layers, in their window-sized cache.
    Swa,
}

impl KvLayers {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            KvLayers::Full => "full",
            KvLayers::Swa => "swa",
        }
    }
}

/// Bytes of one kind in one buffer type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryUse {
    pub kind: MemoryKind,
    /// ggml's buffer type ("CPU", "CPU_Mapped", "CPU_REPACK", "CUDA0"), as llama.cpp logs it;
    /// the output rows live in host memory ("CPU").
    pub buffer_type: String,
    /// For KV blocks: the layers they serve.
    pub layers: Option<KvLayers>,
    pub bytes: u64,
}

/// The engine's memory, by purpose and buffer type, and the devices' memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryReport {
    pub uses: Vec<MemoryUse>,
    pub devices: Vec<DeviceMemory>,
}

impl MemoryReport {
    /// Bytes of `kind`, over every buffer type and layer kind.
    pub fn total(&self, kind: MemoryKind) -> u64 {
        self.uses
            .iter()
            .filter(|u| u.kind == kind)
            .map(|u| u.bytes)
            .sum()
    }

    /// Bytes of every kind.
    pub fn grand_total(&self) -> u64 {
        self.uses.iter().map(|u| u.bytes).sum()
    }

    /// One line per use, `kind[/layers] buffer_type bytes` (logs, span attributes).
    pub fn lines(&self) -> Vec<String> {
        self.uses
            .iter()
            .map(|u| {
                let layers = u.layers.map(|l| format!("/{}", l.as_str()));
                format!(
                    "{}{} {} {}",
                    u.kind.as_str(),
                    layers.unwrap_or_default(),
                    u.buffer_type,
                    u.bytes
                )
            })
            .collect()
    }

    /// Adds `bytes` of `kind` in `buffer_type`, merged with an existing entry of the same key.
    pub(crate) fn add(
        &mut self,
        kind: MemoryKind,
        buffer_type: String,
        layers: Option<KvLayers>,
        bytes: u64,
    ) {
        let same = |u: &&mut MemoryUse| {
            u.kind == kind && u.buffer_type == buffer_type && u.layers == layers
        };
        match self.uses.iter_mut().find(same) {
            Some(u) => u.bytes += bytes,
            None => self.uses.push(MemoryUse {
                kind,
                buffer_type,
                layers,
                bytes,
            }),
        }
    }
}

/// Adds the compute buffers `sched` reserved on each of `model`'s backends (same order).
pub(crate) fn add_compute(
    report: &mut MemoryReport,
    model: &crate::Model,
    sched: &crate::ggml::Sched,
) {
    for (i, b) in model.backends.iter().enumerate() {
        let bytes = sched.buffer_size(i) as u64;
        report.add(MemoryKind::Compute, b.buffer_type_name(), None, bytes);
    }
}

/// Every ggml device with its free and total memory, asked now (for the CPU backend: the
/// machine's physical memory, reported as all free).
pub fn devices() -> Vec<DeviceMemory> {
    crate::ggml::device_memory()
}

/// Puts `report` on `span`: `llama.memory.<kind>.bytes` for every kind present, every use as
/// a line of `llama.memory.buffers`, every device as a line of `llama.device.memory`.
pub(crate) fn record_on_span(span: &llama_otel::SpanGuard, report: &MemoryReport) {
    use llama_otel::{names, set_attr};
    for kind in MemoryKind::ALL {
        if report.uses.iter().any(|u| u.kind == kind) {
            set_attr!(
                span,
                [names::memory_bytes_attr(kind.as_str())] = report.total(kind)
            );
        }
    }
    set_attr!(span, [names::MEMORY_BUFFERS_ATTR] = report.lines());
    set_attr!(
        span,
        [names::DEVICE_MEMORY_ATTR] = device_lines(&report.devices)
    );
}

/// One line per device: `name free total` (bytes).
pub fn device_lines(devices: &[DeviceMemory]) -> Vec<String> {
    devices
        .iter()
        .map(|d| format!("{} {} {}", d.name, d.free, d.total))
        .collect()
}
