//! Packs one decode step: a token for every generating slot first, then prompt chunks of the
//! slots still prefilling, oldest request first, up to the batch-size limit.

use super::slot::Slot;
use llama_core::Batch;

/// Tokens one slot contributes to the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub slot: usize,
    /// Position of the first token (= tokens already in the slot's cache).
    pub pos: usize,
    pub n_tokens: usize,
    /// The slot wants logits (its last token is the end of its prompt or a generated token).
    pub logits: bool,
}

/// Fills `batch` (cleared first) for one step and records in each task where its logits are.
/// Returns what each slot put in, in batch order.
pub fn fill(batch: &mut Batch, slots: &mut [Slot], n_batch: usize) -> Vec<Entry> {
    batch.clear();
    let mut entries = Vec::new();
    for slot in slots.iter_mut() {
        if let Some(task) = &mut slot.task {
            task.logits_at = None;
        }
    }
    for slot in slots.iter_mut().filter(|s| s.is_generating()) {
        if batch.len() >= n_batch {
            break;
        }
        let (Some(task), pos) = (&mut slot.task, slot.cache.len()) else { continue };
        let Some(token) = task.next else { continue };
        task.logits_at = Some(batch.len());
        batch.add(token, pos as i32, slot.id as u32, true);
        entries.push(Entry { slot: slot.id, pos, n_tokens: 1, logits: true });
    }
    let mut prefilling: Vec<&mut Slot> = slots.iter_mut().filter(|s| s.is_prefilling()).collect();
    prefilling.sort_by_key(|s| s.task.as_ref().map_or(u64::MAX, |t| t.job.id));
    for slot in prefilling {
        let room = n_batch.saturating_sub(batch.len());
        if room == 0 {
            break;
        }
        let pos = slot.cache.len();
        let Some(task) = &mut slot.task else { continue };
        let rest = &task.job.prompt[pos..];
        let n = rest.len().min(room);
        let ends_prompt = n == rest.len();
        batch.add_sequence(&rest[..n], pos as i32, slot.id as u32, ends_prompt);
        if ends_prompt {
            task.logits_at = Some(batch.len() - 1);
        }
        entries.push(Entry { slot: slot.id, pos, n_tokens: n, logits: ends_prompt });
    }
    entries
}

/// After a successful decode: the tokens of each entry are now in their slot's cache.
pub fn commit(entries: &[Entry], slots: &mut [Slot]) {
    for e in entries {
        let Some(slot) = slots.get_mut(e.slot) else { continue };
        let Some(task) = &mut slot.task else { continue };
        debug_assert_eq!(slot.cache.len(), e.pos);
        if task.next.is_some() && task.job.prompt.len() <= e.pos {
            slot.cache.extend(task.next.take());
        } else {
            slot.cache.extend_from_slice(&task.job.prompt[e.pos..e.pos + e.n_tokens]);
        }
    }
}
