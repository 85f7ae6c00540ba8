//! Prefix reuse across requests: a token index of KV sequences that outlive their slot. When a
//! slot takes a new request and would drop cached tokens, the chunk-aligned part of its old
//! prompt is first shared (`seq_cp`: cells carry a bit per sequence, nothing is copied) into a
//! sequence of its own, kept here. A request then starts from the longest cached prefix, found
//! in this index or in any other slot's live sequence, shared into its slot's sequence.
//! Entries are evicted least recently used first, under KV-pool pressure or past `--cache-ram`.
//!
//! Exactness: ggml's CPU kernels give a token's row identical bits only while its micro-batch
//! looks the same (see `engine`). A cold run prefills a prompt in micro-batches starting at
//! multiples of the alignment ([`reuse_alignment`]); reusing a prefix whose length is such a
//! multiple leaves the remaining micro-batches with the same shapes and contents as the cold
//! run's, so the suffix computes the same bits (given the same attention cell layout, see the
//! `prefix_reuse` tests). `--cache-any-prefix` gives that up for reuse of any length, as
//! llama.cpp's prompt cache (histories shorter than a micro-batch are kept too).

use super::slot::{common_prefix, Slot};
use llama_core::Context;

/// Where a request's reused prompt tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReuseSource {
    /// The slot's own previous prompt (or nothing reused).
    Slot,
    /// The prefix index or another slot's sequence, shared into this one.
    PrefixCache,
}

impl ReuseSource {
    /// The value of the `llama.prompt.cache_source` attribute and of the metric label.
    pub fn label(self) -> &'static str {
        match self {
            ReuseSource::Slot => "slot",
            ReuseSource::PrefixCache => "prefix_cache",
        }
    }
}

/// The prompt-length granularity at which a reused prefix leaves the cold run's micro-batches
/// intact: prompts are decoded in calls of `n_batch` tokens from where prefill starts, each
/// split into graphs of `n_ubatch`; when `n_ubatch` divides `n_batch` every micro-batch of a
/// cold run starts at a multiple of `n_ubatch`, otherwise only the calls' starts (multiples of
/// `n_batch`) are boundaries both runs share.
pub fn reuse_alignment(n_batch: usize, n_ubatch: usize) -> usize {
    let (b, u) = (n_batch.max(1), n_ubatch.max(1));
    if u < b && b % u == 0 {
        u
    } else {
        b
    }
}

/// The index for `ctx` with `n_slots` slots: sequence ids past the slots', prefixes aligned to
/// [`reuse_alignment`] when `exact` (else of any length, as llama.cpp's prompt cache), at most
/// `cache_ram_mib` MiB of K/V (llama.cpp's `--cache-ram`: -1 no limit, 0 off; the pool itself
/// bounds it anyway). Off for sliding-window models, whose cells past the window are gone.
pub fn for_context(
    ctx: &Context,
    n_slots: usize,
    n_batch: usize,
    cache_ram_mib: i64,
    exact: bool,
) -> PrefixIndex {
    let n_ctx = ctx.n_ctx().max(1);
    let per_cell = (ctx.kv_bytes() / n_ctx).max(1);
    let max_tokens = match cache_ram_mib {
        _ if ctx.n_swa() != 0 => 0,
        m if m < 0 => n_ctx,
        m => usize::try_from(m)
            .map_or(n_ctx, |m| (m << 20) / per_cell)
            .min(n_ctx),
    };
    let micro_batch = reuse_alignment(n_batch, ctx.params().n_ubatch);
    let align = if exact { micro_batch } else { 1 };
    let first = u32::try_from(n_slots).unwrap_or(llama_core::kv_cache::MAX_SEQ);
    let mut index = PrefixIndex::new(first, llama_core::kv_cache::MAX_SEQ, align, max_tokens);
    index.wait_gain = micro_batch;
    index
}

/// `n` rounded down to a multiple of `align`.
fn aligned(n: usize, align: usize) -> usize {
    n / align.max(1) * align.max(1)
}

/// One cached prefix: a KV sequence that no slot owns.
#[derive(Debug)]
struct Entry {
    seq: u32,
    tokens: Vec<u32>,
    last_used: u64,
}

/// The prefix index (see the module docs).
#[derive(Debug)]
pub struct PrefixIndex {
    entries: Vec<Entry>,
    /// Sequence ids not used by slots or entries.
    free_seqs: Vec<u32>,
    align: usize,
    /// Fewest prompt tokens a request waits for another prefill to share (a micro-batch: less
    /// is not worth holding it back).
    wait_gain: usize,
    /// Most tokens the entries may hold together (from `--cache-ram`).
    max_tokens: usize,
    evictions: u64,
}

/// What [`PrefixIndex::prepare`] decided for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reuse {
    /// Prompt tokens the slot's sequence now holds and the request skips.
    pub n_keep: usize,
    pub source: ReuseSource,
}

impl PrefixIndex {
    /// An index over the sequence ids `first_seq..max_seq` (`max_seq` = the KV cache's limit),
    /// holding at most `max_tokens` tokens; `max_tokens == 0` turns it off.
    pub fn new(first_seq: u32, max_seq: u32, align: usize, max_tokens: usize) -> Self {
        let free_seqs = if max_tokens == 0 {
            Vec::new()
        } else {
            (first_seq..max_seq).rev().collect()
        };
        PrefixIndex {
            entries: Vec::new(),
            free_seqs,
            align: align.max(1),
            wait_gain: align.max(1),
            max_tokens,
            evictions: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.max_tokens > 0
    }

    /// Tokens held by the entries.
    pub fn tokens(&self) -> usize {
        self.entries.iter().map(|e| e.tokens.len()).sum()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Whether a request for `prompt` should wait for a prefill under way in another slot: that
    /// prompt shares a reusable prefix with this one at least a micro-batch longer than any
    /// cache (an entry or a slot's sequence) holds now, so once it is decoded this request starts from it instead
    /// of prefilling the same tokens a second time (requests with one system prompt arriving
    /// together). Never with the index off.
    pub fn worth_waiting(&self, slots: &[Slot], prompt: &[u32]) -> bool {
        if !self.enabled() {
            return false;
        }
        let cap = prompt.len().saturating_sub(1);
        let len = |tokens: &[u32]| aligned(common_prefix(tokens, prompt).min(cap), self.align);
        let cached = (self.entries.iter().map(|e| len(&e.tokens)))
            .chain(slots.iter().map(|s| len(&s.cache)))
            .max()
            .unwrap_or(0);
        (slots.iter().filter(|s| s.is_prefilling()))
            .filter_map(|s| s.task.as_ref())
            .any(|t| len(&t.job.prompt) >= cached + self.wait_gain)
    }

    /// Before slot `own` takes `prompt` keeping `own_keep` of its cached tokens: saves what the
    /// slot would lose into the index, then, when the index or another slot holds a longer
    /// aligned prefix, makes the slot's sequence exactly that prefix. The caller still drops the
    /// slot's cells past the returned `n_keep`.
    pub fn prepare(
        &mut self,
        ctx: &mut Context,
        slots: &mut [Slot],
        own: usize,
        prompt: &[u32],
        own_keep: usize,
        step: u64,
    ) -> llama_core::Result<Reuse> {
        let keep = Reuse {
            n_keep: own_keep,
            source: ReuseSource::Slot,
        };
        if !self.enabled() || ctx.n_swa() != 0 {
            return Ok(keep);
        }
        if slots[own].cache.len() > own_keep {
            self.save(ctx, own as u32, &slots[own].cache, step)?;
        }
        let Some((seq, n)) = self.best(slots, own, prompt, own_keep, step) else {
            return Ok(keep);
        };
        ctx.seq_rm(Some(own as u32), None, None)?;
        ctx.seq_cp(seq, own as u32, Some(0), Some(n as i32))?;
        slots[own].cache.clear();
        slots[own].cache.extend_from_slice(&prompt[..n]);
        Ok(Reuse {
            n_keep: n,
            source: ReuseSource::PrefixCache,
        })
    }

    /// The sequence holding the longest aligned prefix of `prompt` (never the whole prompt: its
    /// last token is decoded again for logits), if longer than `own_keep`: an entry (marked
    /// used at `step`) or another slot's sequence, entries first on ties.
    fn best(
        &mut self,
        slots: &[Slot],
        own: usize,
        prompt: &[u32],
        own_keep: usize,
        step: u64,
    ) -> Option<(u32, usize)> {
        let cap = prompt.len().saturating_sub(1);
        let len = |cache: &[u32]| aligned(common_prefix(cache, prompt).min(cap), self.align);
        let entry = (self.entries.iter().enumerate())
            .map(|(i, e)| (i, len(&e.tokens)))
            .max_by_key(|&(i, n)| (n, std::cmp::Reverse(i)));
        let slot = (slots.iter().filter(|s| s.id != own))
            .map(|s| (s.id as u32, len(&s.cache)))
            .max_by_key(|&(id, n)| (n, std::cmp::Reverse(id)));
        match (entry, slot) {
            (Some((i, n)), s) if n > own_keep && s.is_none_or(|(_, m)| n >= m) => {
                self.entries[i].last_used = step;
                Some((self.entries[i].seq, n))
            }
            (_, Some((id, m))) if m > own_keep => Some((id, m)),
            _ => None,
        }
    }

    /// Keeps the aligned part of `tokens` (held by sequence `seq`) as an entry, unless an entry
    /// already holds it; an entry it extends is replaced. Evicts to stay within the budget.
    fn save(
        &mut self,
        ctx: &mut Context,
        seq: u32,
        tokens: &[u32],
        step: u64,
    ) -> llama_core::Result<()> {
        let n = aligned(tokens.len(), self.align).min(self.max_tokens);
        if n == 0 {
            return Ok(());
        }
        let tokens = &tokens[..n];
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.tokens.starts_with(tokens))
        {
            e.last_used = step;
            return Ok(());
        }
        // Entries the new one contains are redundant.
        while let Some(i) = self
            .entries
            .iter()
            .position(|e| tokens.starts_with(&e.tokens))
        {
            let e = self.entries.swap_remove(i);
            ctx.seq_rm(Some(e.seq), None, None)?;
            self.free_seqs.push(e.seq);
        }
        while self.free_seqs.is_empty() || self.tokens() + n > self.max_tokens {
            if !self.evict_lru(ctx)? {
                return Ok(());
            }
        }
        let Some(dst) = self.free_seqs.pop() else {
            return Ok(());
        };
        ctx.seq_cp(seq, dst, Some(0), Some(n as i32))?;
        self.entries.push(Entry {
            seq: dst,
            tokens: tokens.to_vec(),
            last_used: step,
        });
        Ok(())
    }

    /// Forgets every entry without touching the KV cache: the context its cells lived in is
    /// gone (`--sleep-idle-seconds` frees it).
    pub fn forget_all(&mut self) {
        for e in self.entries.drain(..) {
            self.free_seqs.push(e.seq);
        }
    }

    /// Drops the least recently used entry (its cells are freed unless a slot shares them).
    /// False when there is none.
    pub fn evict_lru(&mut self, ctx: &mut Context) -> llama_core::Result<bool> {
        let Some(i) = (self.entries.iter().enumerate())
            .min_by_key(|(_, e)| e.last_used)
            .map(|(i, _)| i)
        else {
            return Ok(false);
        };
        let e = self.entries.swap_remove(i);
        ctx.seq_rm(Some(e.seq), None, None)?;
        self.free_seqs.push(e.seq);
        self.evictions += 1;
        Ok(true)
    }
}

#[cfg(test)]
#[path = "prefix_cache_tests.rs"]
mod tests;
