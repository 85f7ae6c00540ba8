//! `n` > 1: the other choices of a request (its job's children) wait in slots of their own
//! while the parent prefills the prompt; then each takes the parent's prompt cells
//! (`seq_cp`, no recompute) and samples its first token from the parent's logits, as
//! llama.cpp's `copy_state_to` for the child tasks of `n_cmpl`.

use super::{cancel, fail, Engine};
use crate::error::ServerError;
use crate::scheduler::job::Job;
use crate::scheduler::slot::{pick_slot, Task};
use llama_otel::names::{CancelReason, EngineError};

impl Engine {
    /// Puts `children` of the job in slot `parent` into idle slots (the caller checked there
    /// are enough), waiting for the parent's prompt.
    pub(super) fn park_children(&mut self, parent: usize, children: Vec<Job>) {
        let Some(parent_id) = self.slots[parent].task.as_ref().map(|t| t.job.id) else {
            return;
        };
        for child in children {
            // Least recently used idle slot: its cache is dropped anyway.
            let Some(c) = pick_slot(&self.slots, &[], false) else {
                fail(child, EngineError::KvCache, no_slot());
                continue;
            };
            // Free the slot's cells now: the parent's prefill may need them.
            if let Err(e) = self.ctx.seq_rm(Some(c as u32), None, None) {
                fail(child, EngineError::KvCache, e.into());
                continue;
            }
            self.slots[c].cache.clear();
            let vocab = self.ctx.model().vocab();
            let mut task = Task::new(child, 0, self.config.capture_content, vocab);
            for &t in &task.job.prompt {
                task.sampler.accept(t);
            }
            task.parent = Some(parent_id);
            self.slots[c].task = Some(task);
            if let Some(p) = self.slots[parent].task.as_mut() {
                p.children.push(c);
            }
        }
    }

    /// At the end of slot `i`'s prompt: shares its cells with its waiting children and points
    /// them at its logits. Returns the children's slots, to sample right after the parent.
    pub(super) fn activate_children(&mut self, i: usize) -> Vec<usize> {
        let Some(task) = self.slots[i].task.as_mut() else {
            return Vec::new();
        };
        if task.first_token.is_some() || task.children.is_empty() {
            return Vec::new();
        }
        let (parent_id, at) = (task.job.id, task.logits_at);
        let children = std::mem::take(&mut task.children);
        let cache = self.slots[i].cache.clone();
        let mut active = Vec::new();
        for c in children {
            let waiting = self.slots[c]
                .task
                .as_ref()
                .is_some_and(|t| t.parent == Some(parent_id));
            if !waiting {
                continue;
            }
            let shared = self
                .ctx
                .seq_rm(Some(c as u32), None, None)
                .and_then(|()| self.ctx.seq_cp(i as u32, c as u32, None, None));
            if let Err(e) = shared {
                if let Some(t) = self.slots[c].task.take() {
                    fail(t.job, EngineError::KvCache, e.into());
                }
                continue;
            }
            self.slots[c].cache.clone_from(&cache);
            if let Some(t) = self.slots[c].task.as_mut() {
                t.parent = None;
                t.n_cached = t.job.prompt.len();
                t.logits_at = at;
                t.job.trace.started(c, t.n_cached);
            }
            active.push(c);
        }
        active
    }

    /// Ends waiting children whose parent is gone (cancelled or failed before its prompt
    /// was done): nothing would ever prefill for them.
    pub(super) fn reap_orphans(&mut self) {
        let parents: Vec<u64> = self
            .slots
            .iter()
            .filter_map(|s| s.task.as_ref().filter(|t| t.parent.is_none()))
            .map(|t| t.job.id)
            .collect();
        for slot in &mut self.slots {
            let orphan = slot
                .task
                .as_ref()
                .and_then(|t| t.parent)
                .is_some_and(|p| !parents.contains(&p));
            if orphan {
                if let Some(task) = slot.task.take() {
                    let err = ServerError::Internal(
                        "the request's first choice ended before its prompt was processed".into(),
                    );
                    cancel(task.job, CancelReason::ClientDisconnected, Some(err));
                }
            }
        }
    }
}

fn no_slot() -> ServerError {
    ServerError::Internal("no free slot for a choice of an n > 1 request".into())
}
