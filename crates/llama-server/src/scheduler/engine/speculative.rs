//! Speculative decoding in the scheduler loop, as llama.cpp's server does it
//! (`server-context.cpp`): before a step, a generating slot whose context repeats itself gets
//! an `ngram-simple` draft; the sampled token and the draft are decoded in one call, every row
//! with logits; then the request samples row by row exactly as it would one token at a time
//! (llama.cpp's `common_sampler_sample_and_accept_n`: the whole sampler chain, temperature
//! included, and each draft token is kept only while it equals what was sampled), and the KV
//! cells of the rejected draft tokens are removed (`seq_rm` from the first one).
//!
//! A slot with a draft decodes in a call of its own, never beside other slots' tokens, so that
//! the other requests' arithmetic stays what it would be without speculation (see the module
//! docs of `engine`); whether the verifying request's own rows equal one-token decodes is
//! measured by the `speculative` server test.

use super::Engine;
use crate::scheduler::batch_builder::Entry;
use crate::scheduler::speculative::ngram_simple_draft;
use crate::telemetry;

impl Engine {
    /// Gives every generating slot that may draft this step its draft (llama.cpp's
    /// `get_n_draft_max`: the draft leaves the slot's context two cells and stops one token
    /// short of `max_tokens`; here also within the batch size and this server's throttle).
    pub(super) fn make_drafts(&mut self) {
        let Some(cfg) = self.config.speculative else {
            return;
        };
        let (n_ctx_slot, n_batch) = (self.limits.n_ctx_slot, self.config.n_batch);
        for slot in &mut self.slots {
            let cached = slot.cache.len();
            let Some(task) = slot.task.as_mut() else {
                continue;
            };
            let Some(next) = task.next else { continue };
            let mut room = n_ctx_slot.saturating_sub(cached + 2);
            if let Some(max) = task.job.params.max_tokens {
                room = room.min(max.saturating_sub(task.n_decoded + 1));
            }
            room = room.min(n_batch.saturating_sub(1));
            if room == 0 {
                continue;
            }
            let allowance = task.throttle.allowance(cfg.size_m);
            if allowance == 0 {
                continue;
            }
            let mut draft = ngram_simple_draft(cfg, &slot.cache, next);
            draft.truncate(room.min(allowance));
            task.draft = draft;
        }
    }

    /// Verifies the drafts [`Self::make_drafts`] made, one decode call per slot.
    pub(super) fn verify_drafts(&mut self) {
        for i in 0..self.slots.len() {
            let drafting = self.slots[i]
                .task
                .as_ref()
                .is_some_and(|t| t.next.is_some() && !t.draft.is_empty());
            if drafting {
                self.verify_draft(i);
            }
        }
    }

    /// Decodes slot `i`'s sampled token and draft, samples row by row while the draft holds,
    /// and drops the KV cells of what was not accepted.
    fn verify_draft(&mut self, i: usize) {
        let slot = &mut self.slots[i];
        let pos = slot.cache.len();
        let Some(task) = slot.task.as_mut() else {
            return;
        };
        let (Some(next), draft) = (task.next, std::mem::take(&mut task.draft)) else {
            return;
        };
        let n = draft.len();
        // The draft is recorded before sampling: a token that ends the request finishes it
        // inside `sample_slot`, and the request's summary is written there.
        task.spec.drafted += n;
        task.spec.steps += 1;
        self.batch.clear();
        self.batch.add(next, pos as i32, i as u32, true);
        for (k, &t) in draft.iter().enumerate() {
            self.batch.add(t, (pos + 1 + k) as i32, i as u32, true);
        }
        let entry = Entry {
            slot: i,
            pos,
            n_tokens: n + 1,
            logits: true,
        };
        if !self.run_decode(&[entry]) {
            return;
        }
        let accepted = self.accept_rows(i, next, &draft);
        let slot = &mut self.slots[i];
        if let Some(task) = slot.task.as_mut() {
            task.throttle
                .verified(n, accepted, self.config.speculative.map_or(n, |c| c.size_m));
        }
        self.counters.on_draft(n, accepted);
        telemetry::speculative(n, accepted);
        // Cells past the accepted tokens: the rejected draft and, if the request ended on a
        // draft token, that token too (a finished request's cache holds decoded inputs only).
        let keep = slot.cache.len();
        if let Err(e) = self.ctx.seq_rm(Some(i as u32), Some(keep as i32), None) {
            tracing::error!("speculative: cannot drop rejected draft cells of slot {i}: {e}");
            let _ = self.ctx.seq_rm(Some(i as u32), None, None);
            slot.cache.clear();
        }
    }

    /// Samples rows 0..=len(draft) of the verification call while each sampled token equals
    /// the draft's; returns how many draft tokens were accepted. Row k's logits follow `next`
    /// and the first k draft tokens, which are then in the slot's cache.
    fn accept_rows(&mut self, i: usize, next: u32, draft: &[u32]) -> usize {
        let slot = &mut self.slots[i];
        slot.cache.push(next);
        if let Some(task) = slot.task.as_mut() {
            task.next = None;
        }
        let mut accepted = 0;
        for (k, want) in draft.iter().map(Some).chain([None]).enumerate() {
            let Some(task) = self.slots[i].task.as_mut() else {
                break;
            };
            task.logits_at = Some(k);
            self.sample_slot(i);
            let slot = &mut self.slots[i];
            // Finished (or failed) on this row.
            let Some(task) = slot.task.as_mut() else {
                break;
            };
            let Some(id) = task.next else { break };
            if want != Some(&id) {
                break;
            }
            accepted += 1;
            task.spec.accepted += 1;
            task.next = None;
            slot.cache.push(id);
        }
        accepted
    }
}
