//! Packs decode calls: a token for every generating slot, and prompt chunks of the slots still
//! prefilling, oldest request first, up to the batch-size limit.

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

/// Adds one token for every generating slot (at most `n_batch`) and records where each
/// slot's logits will be.
pub fn fill_generation(batch: &mut Batch, slots: &mut [Slot], n_batch: usize) -> Vec<Entry> {
    let mut entries = Vec::new();
    for slot in slots.iter_mut().filter(|s| s.is_generating()) {
        if batch.len() >= n_batch {
            break;
        }
        let (Some(task), pos) = (&mut slot.task, slot.cache.len()) else {
            continue;
        };
        let Some(token) = task.next else { continue };
        task.logits_at = Some(batch.len());
        batch.add(token, pos as i32, slot.id as u32, true);
        entries.push(Entry {
            slot: slot.id,
            pos,
            n_tokens: 1,
            logits: true,
        });
    }
    entries
}

/// Slots still processing their prompt, oldest request first.
pub fn prefill_order(slots: &[Slot]) -> Vec<usize> {
    let mut order: Vec<(u64, usize)> = slots
        .iter()
        .filter(|s| s.is_prefilling())
        .filter_map(|s| s.task.as_ref().map(|t| (t.job.id, s.id)))
        .collect();
    order.sort_unstable();
    order.into_iter().map(|(_, id)| id).collect()
}

/// Adds the slot's next prompt chunk (at most `room` tokens); logits only for the prompt's
/// last token.
pub fn fill_prefill(batch: &mut Batch, slot: &mut Slot, room: usize) -> Option<Entry> {
    let pos = slot.cache.len();
    let task = slot.task.as_mut()?;
    let rest = task.job.prompt.get(pos..)?;
    let n = rest.len().min(room);
    if n == 0 {
        return None;
    }
    let ends_prompt = n == rest.len();
    batch.add_sequence(&rest[..n], pos as i32, slot.id as u32, ends_prompt);
    if ends_prompt {
        task.logits_at = Some(batch.len() - 1);
    }
    Some(Entry {
        slot: slot.id,
        pos,
        n_tokens: n,
        logits: ends_prompt,
    })
}

/// Plans a step as decode calls. `mixed`: one batch with the generating slots' tokens and then
/// prompt chunks up to `n_batch` (llama.cpp's packing). Otherwise the generating slots share one
/// call and each prompt chunk gets a call of its own, chunked at `n_batch` from where its
/// prefill started, so that no request's arithmetic depends on what else is running (see the
/// module docs of `engine`).
pub fn plan(slots: &[Slot], n_batch: usize, mixed: bool) -> Vec<Group> {
    let generating = slots.iter().any(Slot::is_generating);
    let mut groups = Vec::new();
    if mixed {
        groups.push(Group {
            generation: generating,
            prefill: prefill_order(slots),
            budget: n_batch,
        });
        return groups;
    }
    if generating {
        groups.push(Group {
            generation: true,
            prefill: Vec::new(),
            budget: n_batch,
        });
    }
    let mut budget = n_batch;
    for id in prefill_order(slots) {
        if budget == 0 {
            break;
        }
        let rest = slots[id].task.as_ref().map_or(0, |t| {
            t.job.prompt.len().saturating_sub(slots[id].cache.len())
        });
        budget = budget.saturating_sub(rest.min(n_batch));
        groups.push(Group {
            generation: false,
            prefill: vec![id],
            budget: n_batch,
        });
    }
    groups
}

/// One decode call of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Include a token for every generating slot.
    pub generation: bool,
    /// Prefilling slots, in order, filling what `budget` leaves.
    pub prefill: Vec<usize>,
    /// Most tokens in the call.
    pub budget: usize,
}

/// Fills `batch` (cleared first) for `group`.
pub fn fill(batch: &mut Batch, slots: &mut [Slot], group: &Group) -> Vec<Entry> {
    batch.clear();
    let mut entries = if group.generation {
        fill_generation(batch, slots, group.budget)
    } else {
        Vec::new()
    };
    for &id in &group.prefill {
        let room = group.budget.saturating_sub(batch.len());
        if room == 0 {
            break;
        }
        entries.extend(slots.get_mut(id).and_then(|s| fill_prefill(batch, s, room)));
    }
    entries
}

/// After a successful decode: the tokens of each entry are now in their slot's cache.
pub fn commit(entries: &[Entry], slots: &mut [Slot]) {
    for e in entries {
        let Some(slot) = slots.get_mut(e.slot) else {
            continue;
        };
        let Some(task) = &mut slot.task else { continue };
        debug_assert_eq!(slot.cache.len(), e.pos);
        if task.next.is_some() && task.job.prompt.len() <= e.pos {
            slot.cache.extend(task.next.take());
        } else {
            slot.cache
                .extend_from_slice(&task.job.prompt[e.pos..e.pos + e.n_tokens]);
        }
    }
}
