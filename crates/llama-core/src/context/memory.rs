//! A context's share of a [`MemoryReport`]: its KV cache (K/V by layer kind), its compute
//! buffers and its output rows, on top of the model's weights. The output rows start at
//! llama.cpp's initial output buffer, one row of logits per sequence (`n_seq_max × n_vocab`
//! floats, reserved in `Context::new`), and grow only for batches asking for more.

use super::Context;
use crate::memory::{KvLayers, MemoryKind, MemoryReport};

impl Context {
    /// Where this context's memory is, with the model's weights and the devices' memory: K/V
    /// per layer kind (see [`crate::memory`]), compute buffers per buffer type, output rows.
    pub fn memory(&self) -> MemoryReport {
        let mut report = self.model.memory();
        self.kv.add_memory(&mut report, KvLayers::Full);
        if let Some(swa) = &self.kv_swa {
            swa.add_memory(&mut report, KvLayers::Swa);
        }
        crate::memory::add_compute(&mut report, &self.model, &self.sched);
        let output = (self.logits.capacity() * std::mem::size_of::<f32>()) as u64;
        report.add(MemoryKind::Output, "CPU".into(), None, output);
        report
    }
}
