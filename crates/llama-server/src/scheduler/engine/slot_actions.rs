//! Slot save/restore/erase on the scheduler thread: the slot's KV sequence written to or read
//! from llama.cpp's sequence-state file, its token list kept in step so that the next request
//! with the same prefix reuses it. An action on a busy slot waits until the slot is idle.

use super::Engine;
use crate::error::{Result, ServerError};
use crate::scheduler::slot_action::{
    invalid_slot, pack_tokens, unpack_tokens, SlotAction, SlotActionDone, SlotActionKind,
};
use llama_core::kv_cache::StreamLayout;
use llama_otel::{histogram_record, names, set_attr, span};
use std::path::Path;
use std::time::Instant;

/// Bounds for `llama.slot.action.duration` (seconds).
const ACTION_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

impl Engine {
    /// Runs `action` now, or parks it while its slot is busy.
    pub(super) fn slot_action(&mut self, action: SlotAction) {
        let id = usize::try_from(action.id_slot)
            .ok()
            .filter(|&i| i < self.slots.len());
        let Some(id) = id else {
            let _ = action.reply.send(Err(invalid_slot()));
            return;
        };
        if !self.slots[id].is_idle() {
            self.deferred_actions.push(action);
            return;
        }
        let t0 = Instant::now();
        let kind = action.kind.name();
        let span = span!(
            "llama.slot.action",
            [names::SLOT_ACTION] = kind,
            [names::SLOT_ID] = id
        );
        let res = match &action.kind {
            SlotActionKind::Save { filename, path } => self.save_slot(id, filename, path),
            SlotActionKind::Restore { filename, path } => self.restore_slot(id, filename, path),
            SlotActionKind::Erase => self.erase_slot(id),
        };
        match &res {
            Ok(SlotActionDone::Saved {
                n_saved: n,
                n_written: b,
                ..
            })
            | Ok(SlotActionDone::Restored {
                n_restored: n,
                n_read: b,
                ..
            }) => {
                set_attr!(
                    span,
                    [names::SEQ_STATE_TOKENS] = *n,
                    [names::SEQ_STATE_BYTES] = *b
                );
            }
            Ok(SlotActionDone::Erased { n_erased, .. }) => {
                set_attr!(span, [names::SEQ_STATE_TOKENS] = *n_erased);
            }
            Err(e) => {
                tracing::warn!("slot {id} {kind}: {e}");
                set_attr!(span, "error.type" = "slot_action");
            }
        }
        histogram_record!(names::SLOT_ACTION_DURATION, t0.elapsed().as_secs_f64(), unit: names::UNIT_SECONDS,
            description: "Time to save, restore or erase a slot's KV cache", buckets: &ACTION_BUCKETS,
            [names::SLOT_ACTION] = kind);
        let _ = action.reply.send(res);
    }

    /// Actions parked on slots that are idle now.
    pub(super) fn run_deferred_actions(&mut self) {
        if self.deferred_actions.is_empty() {
            return;
        }
        let parked = std::mem::take(&mut self.deferred_actions);
        for action in parked {
            if action.reply.is_closed() {
                continue;
            }
            self.slot_action(action);
        }
    }

    fn layout(&self) -> StreamLayout {
        StreamLayout {
            n_stream: self.config.n_stream,
        }
    }

    fn save_slot(&mut self, id: usize, filename: &str, path: &Path) -> Result<SlotActionDone> {
        let t0 = Instant::now();
        let cache = &self.slots[id].cache;
        let packed = pack_tokens(cache);
        let n_written = self
            .ctx
            .seq_state_save_file(path, id as u32, &packed, self.layout())
            .map_err(|e| ServerError::Internal(format!("Unable to save slot: {e}")))?;
        Ok(SlotActionDone::Saved {
            id_slot: id,
            filename: filename.to_owned(),
            n_saved: cache.len(),
            n_written,
            ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }

    fn restore_slot(&mut self, id: usize, filename: &str, path: &Path) -> Result<SlotActionDone> {
        let t0 = Instant::now();
        self.slots[id].cache.clear();
        let restored = self.read_slot(id, path);
        let tokens = match restored {
            Ok(t) => t,
            Err(e) => {
                let _ = self.ctx.seq_rm(Some(id as u32), None, None);
                return Err(ServerError::BadRequest(format!(
                    "Unable to restore slot: {e}"
                )));
            }
        };
        let (n_restored, n_read) = tokens;
        Ok(SlotActionDone::Restored {
            id_slot: id,
            filename: filename.to_owned(),
            n_restored,
            n_read,
            ms: t0.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Loads the file into sequence `id` and checks it against the slot: `(tokens, bytes)`.
    fn read_slot(&mut self, id: usize, path: &Path) -> std::result::Result<(usize, usize), String> {
        let layout = self.layout();
        let (packed, n_read) = self
            .ctx
            .seq_state_load_file(path, id as u32, layout)
            .map_err(|e| {
                format!("No available space in KV cache or invalid slot save file ({e})")
            })?;
        let tokens = unpack_tokens(&packed)?;
        if tokens.len() > self.limits.n_ctx_slot {
            return Err("Restored prompt does not fit in the slot context".into());
        }
        let n_vocab = self.ctx.n_vocab();
        if tokens.iter().any(|&t| t as usize >= n_vocab) {
            return Err("Invalid tokens in slot save file".into());
        }
        // The slot's token list is its KV sequence position for position.
        let held = self.ctx.seq_len(id as u32);
        let next = self
            .ctx
            .seq_pos_max(id as u32)
            .map_or(0, |p| p as usize + 1);
        if held != tokens.len() || next != tokens.len() {
            return Err(format!(
                "the file holds {} tokens but {held} KV cells (positions up to {next})",
                tokens.len()
            ));
        }
        self.slots[id].cache = tokens;
        self.slots[id].last_used = self.step;
        Ok((held, n_read))
    }

    fn erase_slot(&mut self, id: usize) -> Result<SlotActionDone> {
        let n_erased = self.slots[id].cache.len();
        self.ctx
            .seq_rm(Some(id as u32), None, None)
            .map_err(|e| ServerError::Internal(format!("Unable to erase slot: {e}")))?;
        self.slots[id].cache.clear();
        Ok(SlotActionDone::Erased {
            id_slot: id,
            n_erased,
        })
    }
}
