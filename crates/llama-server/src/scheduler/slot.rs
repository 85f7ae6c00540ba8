//! A slot: one KV-cache sequence, the tokens it holds (the prompt cache) and the request it is
//! serving, if any. Also the prompt-cache policy: which idle slot a request goes to and how
//! much of its prompt is reused.

use super::job::{Chunk, Job, TokenInfo};
use super::speculative::{SpecStats, Throttle};
use super::stop::StopMatcher;
use llama_core::sampling::Sampler;
use llama_core::vocab::Detokenizer;
use llama_core::vocab::Vocab;
use std::time::Instant;

/// One sequence of the unified KV cache.
#[derive(Debug)]
pub struct Slot {
    pub id: usize,
    /// Tokens in this slot's KV sequence, position `i` at index `i`.
    pub cache: Vec<u32>,
    /// Scheduler step at which the slot last finished a request (for LRU choice).
    pub last_used: u64,
    pub task: Option<Task>,
}

/// The request a slot is serving (scheduler-internal: its telemetry is the job's own
/// [`RequestTrace`](super::request::RequestTrace)).
#[derive(Debug)]
pub struct Task {
    pub(super) job: Job,
    pub(super) sampler: Sampler,
    pub(super) detok: Detokenizer,
    pub(super) stop: StopMatcher,
    /// Prompt tokens reused from the cache.
    pub(super) n_cached: usize,
    /// Tokens sampled so far (the EOG token included).
    pub(super) n_decoded: usize,
    /// Sampled token to decode next step.
    pub(super) next: Option<u32>,
    /// Batch index of this slot's logits in the current step.
    pub(super) logits_at: Option<usize>,
    /// Token infos whose text is still held back by the stop matcher.
    pub(super) held: Vec<TokenInfo>,
    pub(super) started: Instant,
    pub(super) first_token: Option<Instant>,
    /// The whole output, kept only when content capture is on or the output is parsed.
    pub(super) output: Option<String>,
    /// A child choice waiting for its parent's (this job id's) prompt to be prefilled.
    pub(super) parent: Option<u64>,
    /// A parent's waiting children: their slots.
    pub(super) children: Vec<usize>,
    /// Draft tokens to verify after `next` this step (speculative decoding).
    pub(super) draft: Vec<u32>,
    pub(super) spec: SpecStats,
    pub(super) throttle: Throttle,
}

impl Task {
    pub fn new(mut job: Job, n_cached: usize, capture: bool, vocab: &Vocab) -> Self {
        // With the vocabulary: DRY's sequence breakers are matched against its tokens.
        let mut sampler = Sampler::for_vocab(job.params.sampling.clone(), vocab);
        sampler.set_constraint(job.constraint.take());
        let stop = StopMatcher::new(&job.params.stop);
        Task {
            sampler,
            detok: Detokenizer::new(false),
            stop,
            n_cached,
            n_decoded: 0,
            next: None,
            logits_at: None,
            held: Vec::new(),
            started: Instant::now(),
            first_token: None,
            output: (capture || job.chat.is_some()).then(String::new),
            parent: None,
            children: Vec::new(),
            draft: Vec::new(),
            spec: SpecStats::default(),
            throttle: Throttle::default(),
            job,
        }
    }

    /// Releases `text` with the token infos held so far.
    pub fn release(&mut self, text: String) -> Chunk {
        if let Some(out) = &mut self.output {
            out.push_str(&text);
        }
        Chunk {
            text,
            tokens: std::mem::take(&mut self.held),
        }
    }
}

impl Slot {
    pub fn new(id: usize) -> Self {
        Slot {
            id,
            cache: Vec::new(),
            last_used: 0,
            task: None,
        }
    }

    pub fn is_idle(&self) -> bool {
        self.task.is_none()
    }

    /// Serving a request whose prompt is not fully in the cache yet.
    pub fn is_prefilling(&self) -> bool {
        self.task
            .as_ref()
            .is_some_and(|t| t.parent.is_none() && self.cache.len() < t.job.prompt.len())
    }

    /// Has a sampled token waiting to be decoded (one with a draft to verify decodes in a call
    /// of its own, see `engine/speculative.rs`).
    pub fn is_generating(&self) -> bool {
        self.task
            .as_ref()
            .is_some_and(|t| t.next.is_some() && t.draft.is_empty())
    }
}

/// Length of the common prefix of two token sequences.
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Prompt tokens a slot holding `cached` can keep for `prompt`: the common prefix, but never
/// the whole prompt (the last prompt token must be decoded to get logits).
pub fn reuse_len(cached: &[u32], prompt: &[u32], cache_prompt: bool) -> usize {
    if !cache_prompt {
        return 0;
    }
    common_prefix(cached, prompt).min(prompt.len().saturating_sub(1))
}

/// What is left of a reusable prefix of `n_keep` tokens when the sliding-window layers' cache
/// (window `n_swa`; 0 = none, or `--swa-full`) has dropped the positions before `pos_min`:
/// llama.cpp's `pos_min_thold` check in `server-context.cpp`. The first token decoded (at
/// position `n_keep`) attends to the `n_swa` positions before it, so the prefix is kept only if
/// nothing was dropped or the oldest cached position is older than `n_keep - n_swa`; otherwise
/// the prompt is processed again from the start (llama.cpp restores a context checkpoint there,
/// which this server does not keep).
pub fn swa_reuse_len(n_keep: usize, pos_min: Option<i32>, n_swa: usize) -> usize {
    if n_swa == 0 || n_keep == 0 {
        return n_keep;
    }
    let Some(pos_min) = pos_min else {
        return 0;
    };
    let thold = (n_keep as i64 - n_swa as i64).max(0);
    if pos_min == 0 || i64::from(pos_min) < thold {
        n_keep
    } else {
        0
    }
}

/// What slot assignment needs to know of a queued job.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// `id_slot`: the slot it must run in, modulo the slot count.
    pub pin: Option<usize>,
    /// Slots it needs at once (`n` choices).
    pub choices: usize,
    pub prompt: &'a [u32],
    pub cache_prompt: bool,
    /// Better started later: a prefill under way will hold more of its prompt (see
    /// `PrefixIndex::worth_waiting`).
    pub wait: bool,
}

impl<'a> From<&'a Job> for Want<'a> {
    fn from(job: &'a Job) -> Self {
        Want {
            pin: job.params.id_slot,
            choices: 1 + job.children.len(),
            prompt: &job.prompt,
            cache_prompt: job.params.cache_prompt,
            wait: false,
        }
    }
}

/// The next queued job to start and its slot: `(queue index, slot index)`. Oldest first; a job
/// pinned to a busy slot (`id_slot`) or waiting for a prefill to share waits without holding
/// up the jobs behind it (llama.cpp defers pinned ones), an `n` > 1 job waits until every
/// choice has an idle slot and holds up the rest.
pub fn next_assignment<'a>(
    queue: impl IntoIterator<Item = Want<'a>>,
    slots: &[Slot],
) -> Option<(usize, usize)> {
    let idle = slots.iter().filter(|s| s.is_idle()).count();
    if idle == 0 {
        // Every job needs a slot: nothing to look at (the wants are computed lazily).
        return None;
    }
    for (k, want) in queue.into_iter().enumerate() {
        if want.wait {
            continue;
        }
        let enough = idle >= want.choices;
        if let Some(pin) = want.pin {
            let id = pin % slots.len().max(1);
            if enough && slots.get(id).is_some_and(Slot::is_idle) {
                return Some((k, id));
            }
            continue;
        }
        if !enough {
            return None;
        }
        return pick_slot(slots, want.prompt, want.cache_prompt).map(|i| (k, i));
    }
    None
}

/// The idle slot for `prompt`: the longest reusable prefix, ties (and no reuse at all) going to
/// the least recently used slot.
pub fn pick_slot(slots: &[Slot], prompt: &[u32], cache_prompt: bool) -> Option<usize> {
    slots
        .iter()
        .filter(|s| s.is_idle())
        .max_by_key(|s| {
            (
                reuse_len(&s.cache, prompt, cache_prompt),
                std::cmp::Reverse(s.last_used),
            )
        })
        .map(|s| s.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(id: usize, cache: &[u32], last_used: u64) -> Slot {
        Slot {
            id,
            cache: cache.to_vec(),
            last_used,
            task: None,
        }
    }

    fn want(pin: Option<usize>, choices: usize, prompt: &[u32]) -> Want<'_> {
        Want {
            pin,
            choices,
            prompt,
            cache_prompt: true,
            wait: false,
        }
    }

    #[test]
    fn a_pinned_job_waits_for_its_slot_without_holding_up_the_queue() {
        let slots = vec![slot(0, &[1, 2, 3], 0), slot(1, &[], 0)];
        // Slot 0 holds the prompt's prefix, but the job asked for slot 1 (3 % 2).
        let q = [want(Some(3), 1, &[1, 2, 3, 4])];
        assert_eq!(next_assignment(q, &slots), Some((0, 1)));
        assert_eq!(
            next_assignment([want(None, 1, &[1, 2, 3, 4])], &slots),
            Some((0, 0))
        );
        // A pinned job that cannot start yet is passed over ...
        let q = [want(Some(0), 3, &[9]), want(None, 1, &[1, 2, 3, 4])];
        assert_eq!(next_assignment(q, &slots), Some((1, 0)));
        // ... while an unpinned `n` > 1 job holds up the queue behind it.
        let q = [want(None, 3, &[1]), want(None, 1, &[1])];
        assert_eq!(next_assignment(q, &slots), None);
        assert_eq!(next_assignment([want(None, 2, &[7])], &slots), Some((0, 1)));
        // A job waiting for a prefill to share is passed over too.
        let waiting = Want {
            wait: true,
            ..want(None, 1, &[1, 2, 3, 4])
        };
        assert_eq!(
            next_assignment([waiting, want(None, 1, &[5])], &slots),
            Some((1, 1))
        );
    }

    #[test]
    fn reuse_keeps_at_least_one_token_to_decode() {
        assert_eq!(reuse_len(&[1, 2, 3], &[1, 2, 3], true), 2);
        assert_eq!(reuse_len(&[1, 2, 3, 4, 5], &[1, 2, 3], true), 2);
        assert_eq!(reuse_len(&[1, 2, 9], &[1, 2, 3, 4], true), 2);
        assert_eq!(reuse_len(&[1, 2, 3], &[1, 2, 3, 4], false), 0);
        assert_eq!(reuse_len(&[], &[7], true), 0);
        assert_eq!(reuse_len(&[7], &[], true), 0);
    }

    #[test]
    fn a_prefix_is_reused_only_while_its_window_is_cached() {
        // No window (or --swa-full): any prefix.
        assert_eq!(swa_reuse_len(900, Some(700), 0), 900);
        // Nothing dropped yet.
        assert_eq!(swa_reuse_len(900, Some(0), 512), 900);
        // Positions before 300 dropped; the token at 900 needs 389.. : still cached.
        assert_eq!(swa_reuse_len(900, Some(300), 512), 900);
        // The token at 600 would need 89..: dropped, so start over (llama.cpp's threshold:
        // pos_min must be below n_keep - n_swa).
        assert_eq!(swa_reuse_len(600, Some(300), 512), 0);
        assert_eq!(swa_reuse_len(812, Some(300), 512), 0);
        assert_eq!(swa_reuse_len(813, Some(300), 512), 813);
        // Nothing cached for the slot at all.
        assert_eq!(swa_reuse_len(10, None, 512), 0);
        assert_eq!(swa_reuse_len(0, Some(5), 512), 0);
    }

    #[test]
    fn longest_prefix_wins_then_least_recently_used() {
        let slots = vec![
            slot(0, &[1, 2], 5),
            slot(1, &[1, 2, 3, 4], 9),
            slot(2, &[], 1),
        ];
        assert_eq!(pick_slot(&slots, &[1, 2, 3, 4, 5], true), Some(1));
        assert_eq!(pick_slot(&slots, &[8, 9], true), Some(2));
        assert_eq!(pick_slot(&slots, &[1, 2, 3, 4, 5], false), Some(2));
    }

    #[test]
    fn without_reuse_the_least_recently_used_slot_wins() {
        let slots = vec![slot(0, &[1, 2, 3], 3), slot(1, &[], 7)];
        assert_eq!(pick_slot(&slots, &[1, 2, 3, 4], true), Some(0));
        assert_eq!(pick_slot(&slots, &[5], true), Some(0));
        assert_eq!(pick_slot(&[], &[5], true), None);
    }
}
