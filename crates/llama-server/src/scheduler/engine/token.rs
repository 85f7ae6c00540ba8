//! One sampled token: picking it from a logits row (with its log-probabilities) and turning it
//! into released text or the reason the request ends.

use super::telemetry;
use crate::error::ServerError;
use crate::scheduler::job::{Chunk, Event, FinishReason, TokenInfo};
use crate::scheduler::slot::Task;
use crate::scheduler::stop::StopOutcome;
use llama_core::sampling::{token_logprob, top_logprobs};
use llama_core::vocab::Vocab;
use llama_core::Context;

/// Picks the next token from batch row `at` (EOG tokens masked out for `ignore_eos`).
pub(super) fn sample(
    ctx: &Context,
    at: usize,
    scratch: &mut Vec<f32>,
    vocab: &Vocab,
    task: &mut Task,
) -> Result<TokenInfo, ServerError> {
    let row = ctx
        .logits(at)
        .ok_or_else(|| ServerError::Internal("logits missing for a sampled token".into()))?;
    let logits = if task.job.params.ignore_eos {
        scratch.clear();
        scratch.extend_from_slice(row);
        for t in vocab.eog_tokens() {
            if let Some(l) = scratch.get_mut(t as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
        &scratch[..]
    } else {
        row
    };
    let t0 = telemetry::clock();
    let id = task.sampler.sample(logits)?;
    telemetry::sampling_time(t0, task.job.trace.genai());
    if let Some(c) = task.sampler.constraint() {
        telemetry::constraint_time(c.last_mask_duration(), task.job.trace.genai());
    }
    // Generated tokens also advance the request's grammar (prompt tokens only feed penalties).
    task.sampler.accept_sampled(id)?;
    task.n_decoded += 1;
    let params = &task.job.params;
    if params.post_sampling_probs && (params.logprobs || params.top_logprobs > 0) {
        let (prob, top) = task.sampler.post_sampling_probs(id, params.top_logprobs);
        return Ok(TokenInfo {
            id,
            logprob: Some(prob),
            top,
            post_sampling: true,
        });
    }
    let logprob = if params.logprobs || params.top_logprobs > 0 {
        token_logprob(logits, id)
    } else {
        None
    };
    let top = if params.top_logprobs > 0 {
        top_logprobs(logits, params.top_logprobs)
    } else {
        Vec::new()
    };
    Ok(TokenInfo {
        id,
        logprob,
        top,
        post_sampling: false,
    })
}

/// Detokenizes and stop-checks a sampled token, sends released text; returns why to stop, if
/// the token ends the request. A continuing token becomes the slot's next input.
pub(super) fn process_token(
    task: &mut Task,
    vocab: &Vocab,
    info: TokenInfo,
) -> Option<(FinishReason, Option<String>)> {
    let id = info.id;
    task.held.push(info);
    if !task.job.params.ignore_eos && vocab.is_eog(id) {
        return Some((FinishReason::Eog, None));
    }
    let piece = task.detok.push(vocab, id);
    let (text, stopped) = match task.stop.push(&piece) {
        StopOutcome::Continue(text) => (text, None),
        StopOutcome::Stopped { release, word } => (release, Some(word)),
    };
    if !text.is_empty() || stopped.is_some() {
        let chunk: Chunk = task.release(text);
        let _ = task.job.events.send(Event::Chunk(chunk));
    }
    if let Some(word) = stopped {
        return Some((FinishReason::Word, Some(word)));
    }
    task.next = Some(id);
    None
}
