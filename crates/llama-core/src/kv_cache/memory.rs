//! The KV cache's share of a [`MemoryReport`]: K and V bytes per buffer type, tagged with the
//! layers this cache serves (an iSWA pair's window-sized cache holds the sliding-window layers).

use super::KvCache;
use crate::memory::{KvLayers, MemoryKind, MemoryReport};

impl KvCache {
    /// Adds this cache's K and V tensors to `report` as `layers`.
    pub fn add_memory(&self, report: &mut MemoryReport, layers: KvLayers) {
        for layer in self.layers.iter().flatten() {
            for (kind, t) in [(MemoryKind::KvK, layer.k), (MemoryKind::KvV, layer.v)] {
                let t = self.arena.get(t);
                let buffer_type = t.buffer_type_name().unwrap_or_default();
                report.add(kind, buffer_type, Some(layers), t.nbytes() as u64);
            }
        }
    }
}
