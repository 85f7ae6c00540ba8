//! The engine's KV-cache housekeeping: room for a batch (prefix index first, then idle slots'
//! cached prompts) and a request's start from the prefix index.

use super::{telemetry, Engine};
use crate::scheduler::job::Job;
use crate::scheduler::prefix_cache;
use llama_core::Context;

impl Engine {
    /// Makes room for `needed` cells in the shared KV pool by dropping the prompt caches of
    /// idle slots, least recently used first (llama.cpp's `try_clear_idle_slots`): with a
    /// unified pool, cached prompts of finished requests must not starve running ones.
    pub(super) fn evict_idle_caches(&mut self, needed: usize) {
        let free = |ctx: &Context| ctx.n_ctx().saturating_sub(ctx.kv_used());
        while free(&self.ctx) < needed && self.prefix.evict_lru(&mut self.ctx).unwrap_or(false) {
            self.prefix_telemetry(1);
        }
        while free(&self.ctx) < needed {
            let victim = self
                .slots
                .iter()
                .filter(|s| s.is_idle() && !s.cache.is_empty())
                .min_by_key(|s| s.last_used)
                .map(|s| s.id);
            let Some(i) = victim else { return };
            if self.ctx.seq_rm(Some(i as u32), None, None).is_err() {
                return;
            }
            self.slots[i].cache.clear();
        }
    }

    /// Lets the prefix index save what slot `i` is about to drop and start `job` from a longer
    /// cached prefix (see `prefix_cache`).
    pub(super) fn prefix_reuse(
        &mut self,
        i: usize,
        job: &Job,
        n_keep: usize,
    ) -> llama_core::Result<prefix_cache::Reuse> {
        if !job.params.cache_prompt {
            return Ok(prefix_cache::Reuse {
                n_keep,
                source: prefix_cache::ReuseSource::Slot,
            });
        }
        let evicted = self.prefix.evictions();
        let reuse = self.prefix.prepare(
            &mut self.ctx,
            &mut self.slots,
            i,
            &job.prompt,
            n_keep,
            self.step,
        )?;
        self.prefix_telemetry(self.prefix.evictions() - evicted);
        Ok(reuse)
    }

    /// The prefix index's size and `evicted` new evictions, when the index is on.
    fn prefix_telemetry(&self, evicted: u64) {
        if self.prefix.enabled() {
            telemetry::prefix_index(self.prefix.tokens(), self.prefix.len(), evicted);
        }
    }
}
