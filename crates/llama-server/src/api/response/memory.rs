//! The `memory` object of `GET /props` (this server's addition to llama.cpp's answer): bytes
//! ggml holds by purpose and buffer type, each device's free and total memory, and the
//! process's resident and virtual size — the figures of `llama.memory.usage`,
//! `llama.device.memory.*` and `process.memory.*`.

use llama_core::memory::{DeviceMemory, MemoryKind, MemoryReport};
use llama_otel::process::ProcessStats;
use serde::Serialize;

/// `memory` of the `/props` response (`Props`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropsMemory {
    /// Bytes of weights (every buffer type).
    pub weights: u64,
    /// Bytes of the KV cache's keys (every layer kind).
    pub kv_k: u64,
    /// Bytes of the KV cache's values.
    pub kv_v: u64,
    /// Bytes of the scheduler's compute buffers.
    pub compute: u64,
    /// Bytes of the output rows (logits) kept for the caller.
    pub output: u64,
    /// Sum of the above.
    pub total: u64,
    /// Every block: kind, buffer type, layer kind (KV), bytes.
    pub buffers: Vec<MemoryBuffer>,
    pub devices: Vec<Device>,
    pub process: ProcessMemory,
}

/// One kind of memory in one buffer type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryBuffer {
    /// `weights`, `kv_k`, `kv_v`, `compute` or `output`.
    pub kind: &'static str,
    /// ggml's buffer type: `CPU`, `CPU_Mapped`, `CPU_REPACK`, `CUDA0`, ...
    pub backend: String,
    /// KV blocks: `full`, or `swa` for the sliding-window layers' own cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<&'static str>,
    pub bytes: u64,
}

/// A ggml device (the CPU reports physical memory, all of it as free).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub name: String,
    pub description: String,
    pub gpu: bool,
    pub free: u64,
    pub total: u64,
}

/// The server process (Linux; `null` elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcessMemory {
    /// Resident set size, bytes.
    pub rss: Option<u64>,
    /// Peak resident set size, bytes.
    pub peak_rss: Option<u64>,
    /// Virtual size, bytes.
    #[serde(rename = "virtual")]
    pub virtual_size: Option<u64>,
}

impl PropsMemory {
    /// From the engine's report, the devices as asked now and a process reading.
    pub fn new(report: &MemoryReport, devices: &[DeviceMemory], process: ProcessStats) -> Self {
        let buffers = report
            .uses
            .iter()
            .map(|u| MemoryBuffer {
                kind: u.kind.as_str(),
                backend: u.buffer_type.clone(),
                layers: u.layers.map(|l| l.as_str()),
                bytes: u.bytes,
            })
            .collect();
        let devices = devices
            .iter()
            .map(|d| Device {
                name: d.name.clone(),
                description: d.description.clone(),
                gpu: d.gpu,
                free: d.free,
                total: d.total,
            })
            .collect();
        PropsMemory {
            weights: report.total(MemoryKind::Weights),
            kv_k: report.total(MemoryKind::KvK),
            kv_v: report.total(MemoryKind::KvV),
            compute: report.total(MemoryKind::Compute),
            output: report.total(MemoryKind::Output),
            total: report.grand_total(),
            buffers,
            devices,
            process: ProcessMemory {
                rss: process.rss_bytes,
                peak_rss: process.peak_rss_bytes,
                virtual_size: process.virtual_bytes,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llama_core::memory::{KvLayers, MemoryUse};

    #[test]
    fn totals_and_buffers_follow_the_report() {
        let use_ = |kind, layers, bytes| MemoryUse {
            kind,
            buffer_type: "CPU".into(),
            layers,
            bytes,
        };
        let report = MemoryReport {
            uses: vec![
                use_(MemoryKind::Weights, None, 100),
                use_(MemoryKind::KvK, Some(KvLayers::Swa), 7),
                use_(MemoryKind::KvK, Some(KvLayers::Full), 3),
                use_(MemoryKind::Output, None, 5),
            ],
            devices: Vec::new(),
        };
        let m = PropsMemory::new(&report, &[], ProcessStats::default());
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            (v["weights"].as_u64(), v["kv_k"].as_u64()),
            (Some(100), Some(10))
        );
        assert_eq!(
            (v["compute"].as_u64(), v["total"].as_u64()),
            (Some(0), Some(115))
        );
        assert_eq!(v["buffers"][1]["layers"], "swa");
        assert!(v["buffers"][0].get("layers").is_none());
        assert!(v["process"]["virtual"].is_null());
    }
}
