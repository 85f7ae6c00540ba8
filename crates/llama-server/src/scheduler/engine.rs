//! The scheduler thread: takes commands, assigns queued requests to slots, runs one decode
//! step for all busy slots at a time, samples, and streams text back.
//!
//! Batch invariance: ggml's CPU kernels give a token's row bit-identical results only while
//! the micro-batch it is computed in looks the same (measured with SmolLM2: a prompt prefilled
//! beside another request's prompt, or split at a different point, moves its logits by up to
//! ~1.0, enough to change greedy output; single generated tokens batched together are exact).
//! So by default a step is one decode call for all generating slots plus one call per prompt
//! chunk, chunked exactly as if the request ran alone. `--mixed-batches` packs everything into
//! one call as llama.cpp does.

use super::batch_builder::{self, Entry};
use super::job::{Event, FinishReason, Job, Progress, Summary, Timings, Usage};
use super::prefix_cache::{self, PrefixIndex};
use super::slot::{next_assignment, reuse_len, swa_reuse_len, Slot, Task, Want};
use super::speculative::SpecConfig;
use super::{Command, Limits, SlotInfo};
use crate::error::ServerError;
use crate::metrics::{EngineCounters, Gauges};
use crate::telemetry;
use llama_core::{Batch, Context};
use llama_otel::names::{CancelReason, EngineError};
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Instant;

mod cache;
mod choices;
mod sleep;
mod slot_actions;
mod speculative;
mod token;

use token::{process_token, sample};

/// What [`Engine::receive`] leaves the loop to do.
enum Wait {
    Work,
    Sleep,
    Exit,
}

/// Scheduler settings.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Most tokens per decode step.
    pub n_batch: usize,
    /// Keep generated text for `gen_ai.output.messages`.
    pub capture_content: bool,
    /// Pack prompt chunks and generated tokens into one decode call (faster prefill under
    /// load, but results then depend on what else runs).
    pub mixed_batches: bool,
    /// Speculative decoding with `ngram-simple` drafts (`--spec-type`), if on.
    pub speculative: Option<SpecConfig>,
    /// KV streams as llama.cpp counts them (1 with a unified pool, else one per slot): part of
    /// the slot-state file format.
    pub n_stream: u32,
    /// `--sleep-idle-seconds`: free the context after this long without work.
    pub sleep_idle: Option<std::time::Duration>,
    /// ggml per-op timing, set again on a context re-created after sleeping.
    pub op_timing: bool,
    /// `--cache-ram` (MiB of K/V the prefix index may hold; -1 no limit, 0 off).
    pub cache_ram_mib: i64,
    /// `--cache-any-prefix`: the prefix index reuses prefixes of any length.
    pub cache_any_prefix: bool,
}

/// Owner of the context and the slots; runs on its own thread.
pub struct Engine {
    ctx: Context,
    config: EngineConfig,
    limits: Limits,
    slots: Vec<Slot>,
    queue: VecDeque<Job>,
    rx: Receiver<Command>,
    batch: Batch,
    counters: EngineCounters,
    step: u64,
    shutting_down: bool,
    /// Slot actions waiting for their slot to be idle.
    deferred_actions: Vec<super::slot_action::SlotAction>,
    /// When the engine last had work or a command (for `--sleep-idle-seconds`).
    last_active: Instant,
    /// Shared with the handle: whether the context is freed.
    sleeping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Logits copy for requests that ignore EOS.
    scratch: Vec<f32>,
    /// Prompt prefixes kept past their slot (see `prefix_cache`).
    prefix: PrefixIndex,
    /// Fail the next decode call (tests of the failure path).
    #[cfg(feature = "fault-injection")]
    fail_next_decode: bool,
}

impl Engine {
    pub fn new(
        ctx: Context,
        config: EngineConfig,
        limits: Limits,
        rx: Receiver<Command>,
        sleeping: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        let prefix = prefix_cache::for_context(
            &ctx,
            limits.n_parallel,
            config.n_batch,
            config.cache_ram_mib,
            !config.cache_any_prefix,
        );
        Engine {
            prefix,
            ctx,
            config,
            limits,
            slots: (0..limits.n_parallel).map(Slot::new).collect(),
            queue: VecDeque::new(),
            rx,
            batch: Batch::with_capacity(config.n_batch),
            counters: EngineCounters::default(),
            step: 0,
            shutting_down: false,
            deferred_actions: Vec::new(),
            last_active: Instant::now(),
            sleeping,
            scratch: Vec::new(),
            #[cfg(feature = "fault-injection")]
            fail_next_decode: false,
        }
    }

    /// The scheduler loop; returns after a shutdown once every request is done. With
    /// `--sleep-idle-seconds` it frees the context when idle that long and makes it again on
    /// the next command that needs it (see [`sleep`]).
    pub fn run(mut self) {
        loop {
            match self.receive() {
                Wait::Exit => break,
                Wait::Sleep => match self.sleep() {
                    Some(engine) => self = engine,
                    None => break,
                },
                Wait::Work => {}
            }
            self.reap_cancelled();
            self.reap_orphans();
            self.assign();
            self.run_deferred_actions();
            if self.slots.iter().any(|s| !s.is_idle()) {
                self.step += 1;
                self.decode_step();
                self.last_active = Instant::now();
            } else if self.shutting_down && self.queue.is_empty() {
                break;
            }
        }
    }

    /// Handles pending commands; blocks while there is nothing to do (until the idle time
    /// for sleeping is up, if there is one).
    fn receive(&mut self) -> Wait {
        let idle = self.queue.is_empty() && self.slots.iter().all(Slot::is_idle);
        if idle {
            if self.shutting_down {
                return Wait::Exit;
            }
            match self.wait_idle() {
                Ok(cmd) => self.command(cmd),
                Err(RecvTimeoutError::Timeout) => return Wait::Sleep,
                Err(RecvTimeoutError::Disconnected) => return Wait::Exit,
            }
        }
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => self.command(cmd),
                Err(TryRecvError::Empty) => return Wait::Work,
                Err(TryRecvError::Disconnected) => {
                    self.shutting_down = true;
                    return Wait::Work;
                }
            }
        }
    }

    /// The next command of an idle engine; a timeout once it has been idle for
    /// `--sleep-idle-seconds` (scrapes of `/metrics` do not count as activity).
    fn wait_idle(&mut self) -> Result<Command, RecvTimeoutError> {
        let Some(idle) = self.config.sleep_idle else {
            return self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected);
        };
        loop {
            let left = idle.saturating_sub(self.last_active.elapsed());
            match self.rx.recv_timeout(left)? {
                Command::Metrics(reply) => {
                    let _ = reply.send(self.metrics_snapshot());
                }
                cmd => {
                    self.last_active = Instant::now();
                    return Ok(cmd);
                }
            }
        }
    }

    fn metrics_snapshot(&mut self) -> crate::metrics::MetricsSnapshot {
        let gauges = Gauges {
            requests_processing: self.slots.iter().filter(|s| !s.is_idle()).count(),
            requests_deferred: self.queue.len() + self.deferred_actions.len(),
            kv_used: self.ctx.kv_used(),
            n_ctx: self.ctx.n_ctx(),
        };
        self.counters.snapshot(gauges)
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Submit(job) => self.queue.push_back(*job),
            Command::Embed(job) => {
                // The HTTP side refuses embeddings for generative models; answer stragglers.
                let err = ServerError::BadRequest("this model does not produce embeddings".into());
                job.refuse(err);
            }
            Command::Slots(reply) => {
                let _ = reply.send(self.slot_infos());
            }
            Command::Metrics(reply) => {
                let _ = reply.send(self.metrics_snapshot());
            }
            Command::SlotAction(action) => self.slot_action(action),
            Command::Wake(reply) => {
                let _ = reply.send(());
            }
            Command::Shutdown => self.shutting_down = true,
            Command::CancelAll => self.cancel_all(),
            #[cfg(feature = "fault-injection")]
            Command::FailNextDecode => self.fail_next_decode = true,
        }
    }

    fn slot_infos(&self) -> Vec<SlotInfo> {
        let info = |s: &Slot| SlotInfo {
            id: s.id,
            id_task: s.task.as_ref().map(|t| t.job.id),
            n_ctx: self.limits.n_ctx_slot,
            n_cached: s.cache.len(),
            n_prompt_tokens: s.task.as_ref().map_or(0, |t| t.job.prompt.len()),
            n_decoded: s.task.as_ref().map_or(0, |t| t.n_decoded),
            params: s.task.as_ref().map(|t| t.job.params.clone()),
        };
        self.slots.iter().map(info).collect()
    }

    /// Drops requests whose client went away: their slot is free for this very step.
    fn reap_cancelled(&mut self) {
        for slot in &mut self.slots {
            if slot.task.as_ref().is_some_and(|t| t.job.events.is_closed()) {
                if let Some(task) = slot.task.take() {
                    slot.last_used = self.step;
                    cancel(task.job, CancelReason::ClientDisconnected, None);
                }
            }
        }
        let (gone, kept): (Vec<Job>, Vec<Job>) =
            self.queue.drain(..).partition(|j| j.events.is_closed());
        self.queue = kept.into();
        for job in gone {
            cancel(job, CancelReason::ClientDisconnected, None);
        }
    }

    fn cancel_all(&mut self) {
        let running = self.slots.iter_mut().filter_map(|s| s.task.take());
        let jobs: Vec<Job> = running
            .map(|t| t.job)
            .chain(std::mem::take(&mut self.queue))
            .collect();
        for job in jobs {
            cancel(job, CancelReason::Shutdown, Some(ServerError::ShuttingDown));
        }
    }

    /// Moves queued requests, oldest first, into idle slots.
    fn assign(&mut self) {
        loop {
            let wants = self.queue.iter().map(|job| Want {
                wait: job.params.cache_prompt
                    && self.prefix.worth_waiting(&self.slots, &job.prompt),
                ..Want::from(job)
            });
            let Some((k, i)) = next_assignment(wants, &self.slots) else {
                break;
            };
            let Some(mut job) = self.queue.remove(k) else {
                break;
            };
            let children = std::mem::take(&mut job.children);
            let slot = &mut self.slots[i];
            let n_keep = reuse_len(&slot.cache, &job.prompt, job.params.cache_prompt);
            let n_keep = swa_reuse_len(n_keep, self.ctx.seq_pos_min(i as u32), self.ctx.n_swa());
            let reuse = match self.prefix_reuse(i, &job, n_keep) {
                Ok(r) => r,
                Err(e) => {
                    fail(job, EngineError::KvCache, e.into());
                    continue;
                }
            };
            let n_keep = reuse.n_keep;
            if let Err(e) = self.ctx.seq_rm(Some(i as u32), Some(n_keep as i32), None) {
                fail(job, EngineError::KvCache, e.into());
                continue;
            }
            let slot = &mut self.slots[i];
            slot.cache.truncate(n_keep);
            let mut task = Task::new(
                job,
                n_keep,
                self.config.capture_content,
                self.ctx.model().vocab(),
            );
            for &t in &task.job.prompt {
                task.sampler.accept(t);
            }
            task.job.trace.started(i, n_keep);
            send_progress(&task, n_keep);
            task.job.trace.reused(reuse.source.label(), n_keep);
            slot.task = Some(task);
            self.park_children(i, children);
        }
    }

    /// One step: the decode calls [`batch_builder::plan`] asks for, each followed by sampling.
    fn decode_step(&mut self) {
        for slot in &mut self.slots {
            if let Some(task) = &mut slot.task {
                task.logits_at = None;
            }
        }
        self.make_drafts();
        for group in
            batch_builder::plan(&self.slots, self.config.n_batch, self.config.mixed_batches)
        {
            let entries = batch_builder::fill(&mut self.batch, &mut self.slots, &group);
            if !entries.is_empty() {
                self.decode_entries(&entries);
            }
        }
        self.verify_drafts();
    }

    /// Decodes the filled batch, then samples for the entries that asked for logits.
    fn decode_entries(&mut self, entries: &[Entry]) {
        if !self.run_decode(entries) {
            return;
        }
        batch_builder::commit(entries, &mut self.slots);
        for e in entries {
            let slot = &self.slots[e.slot];
            if let Some(task) = slot.task.as_ref().filter(|t| t.first_token.is_none()) {
                send_progress(task, slot.cache.len());
            }
        }
        for e in entries.iter().filter(|e| e.logits) {
            self.after_logits(e.slot);
        }
    }

    /// Decodes the filled batch for `entries` (telemetry links, counters); false when it
    /// failed, and then the entries' requests have failed.
    fn run_decode(&mut self, entries: &[Entry]) -> bool {
        let linked: Vec<(usize, llama_otel::SpanContext)> = entries
            .iter()
            .filter_map(|e| {
                self.slots[e.slot]
                    .task
                    .as_ref()
                    .and_then(|t| t.job.trace.link_target())
                    .map(|sc| (e.slot, sc))
            })
            .collect();
        let links: Vec<_> = linked.iter().map(|(_, sc)| sc.clone()).collect();
        #[cfg(feature = "fault-injection")]
        if std::mem::take(&mut self.fail_next_decode) {
            self.fail_batch(entries, "injected by a test (fault-injection)");
            return false;
        }
        self.evict_idle_caches(self.batch.len());
        let stats = match self.ctx.decode_linked(&self.batch, &links) {
            Ok(stats) => stats,
            Err(e) => {
                self.fail_batch(entries, &e.to_string());
                return false;
            }
        };
        for (i, _) in &linked {
            if let Some(task) = &mut self.slots[*i].task {
                task.job.trace.link(&stats.span);
            }
        }
        let busy = self.slots.iter().filter(|s| !s.is_idle()).count();
        let longest = self.slots.iter().map(|s| s.cache.len()).max().unwrap_or(0);
        self.counters.on_decode(longest, busy);
        telemetry::decode_step(busy, stats.kv_used, self.ctx.n_ctx());
        true
    }

    /// The decode failed: every request in the batch fails and its slot forgets its cache.
    fn fail_batch(&mut self, entries: &[Entry], message: &str) {
        for e in entries {
            let slot = &mut self.slots[e.slot];
            if let Some(task) = slot.task.take() {
                let err = ServerError::Internal(format!("decode failed: {message}"));
                fail(task.job, EngineError::Decode, err);
            }
            let _ = self.ctx.seq_rm(Some(e.slot as u32), None, None);
            slot.cache.clear();
        }
    }

    /// Samples the slot's next token (and, at the end of a parent's prompt, its children's
    /// first tokens from the same logits).
    fn after_logits(&mut self, i: usize) {
        let children = self.activate_children(i);
        self.sample_slot(i);
        for c in children {
            self.sample_slot(c);
        }
    }

    /// Samples the slot's next token and streams what it releases.
    fn sample_slot(&mut self, i: usize) {
        let n_ctx_slot = self.limits.n_ctx_slot;
        let slot = &mut self.slots[i];
        let cache_len = slot.cache.len();
        let Some(task) = slot.task.as_mut() else {
            return;
        };
        let Some(at) = task.logits_at else { return };
        if task.first_token.is_none() {
            let n = task.job.prompt.len() - task.n_cached;
            // A child choice decoded none of its prompt (its parent did).
            if n > 0 {
                let secs = task.started.elapsed().as_secs_f64();
                self.counters.on_prompt_done(n, task.n_cached, secs);
            }
            task.first_token = Some(Instant::now());
            if task.job.params.max_tokens == Some(0) {
                return self.finish(i, FinishReason::Length, None);
            }
            task.job.trace.first_token();
        }
        let vocab = self.ctx.model().vocab();
        let info = match sample(&self.ctx, at, &mut self.scratch, vocab, task) {
            Ok(info) => info,
            Err(e) => return self.fail_slot(i, e),
        };
        let outcome = process_token(task, vocab, info);
        let finish = outcome.or_else(|| {
            let limit_hit = task
                .job
                .params
                .max_tokens
                .is_some_and(|m| task.n_decoded >= m);
            // As llama.cpp: the slot is full once the token just sampled would be its last
            // position (prompt + generated == n_ctx_slot).
            let full = cache_len + 1 >= n_ctx_slot;
            (limit_hit || full).then_some((FinishReason::Length, None))
        });
        if let Some((reason, word)) = finish {
            self.finish(i, reason, word);
        }
    }

    fn fail_slot(&mut self, i: usize, e: ServerError) {
        if let Some(task) = self.slots[i].task.take() {
            fail(task.job, EngineError::Sampling, e);
        }
    }

    /// Ends the slot's request: releases held-back text, reports usage and timings.
    fn finish(&mut self, i: usize, reason: FinishReason, word: Option<String>) {
        let slot = &mut self.slots[i];
        let Some(mut task) = slot.task.take() else {
            return;
        };
        slot.last_used = self.step;
        // As llama.cpp: out of context when the token just sampled would take the slot's last
        // position.
        let truncated =
            reason == FinishReason::Length && slot.cache.len() + 1 >= self.limits.n_ctx_slot;
        if reason != FinishReason::Word {
            let mut tail = task.stop.flush();
            tail.push_str(&task.detok.finish());
            if !tail.is_empty() || !task.held.is_empty() {
                let chunk = task.release(tail);
                let _ = task.job.events.send(Event::Chunk(chunk));
            }
        }
        let first = task.first_token.unwrap_or(task.started);
        let timings = Timings {
            prompt: first - task.started,
            predicted: first.elapsed(),
            draft_n: task.spec.drafted,
            draft_n_accepted: task.spec.accepted,
        };
        let usage = Usage {
            prompt_tokens: task.job.prompt.len(),
            completion_tokens: task.n_decoded,
            cached_tokens: task.n_cached,
        };
        let message = task
            .job
            .chat
            .as_ref()
            .map(|p| Box::new(p.message(task.output.as_deref().unwrap_or_default())));
        let summary = Summary {
            finish: reason,
            stop_word: word,
            usage,
            timings,
            slot: i,
            truncated,
            message,
        };
        self.counters
            .on_generation_done(task.n_decoded, timings.predicted.as_secs_f64());
        let output = task
            .output
            .as_deref()
            .filter(|_| self.config.capture_content);
        task.job
            .trace
            .finished(&summary, self.limits.n_ctx_slot, output);
        task.job.end(Some(Event::Done(summary)));
    }
}

/// Ends `job` as cancelled; `tell` is the error its client gets, if it is still there.
fn cancel(mut job: Job, reason: CancelReason, tell: Option<ServerError>) {
    job.trace.cancel(reason);
    job.end(tell.map(Event::Failed));
}

/// Ends `job` as failed by the engine (`kind`), telling its client `err`.
fn fail(mut job: Job, kind: EngineError, err: ServerError) {
    job.trace
        .in_scope(|| tracing::error!(error.type = kind.as_str(), "request failed: {err}"));
    job.trace.fail(kind);
    job.end(Some(Event::Failed(err)));
}

/// A `prompt_progress` report with `processed` prompt tokens in the slot, if the request asked.
fn send_progress(task: &Task, processed: usize) {
    if !task.job.params.return_progress {
        return;
    }
    let progress = Progress {
        total: task.job.prompt.len(),
        cache: task.n_cached,
        processed: processed.min(task.job.prompt.len()),
        time_ms: task.started.elapsed().as_millis() as u64,
    };
    let _ = task.job.events.send(Event::Progress(progress));
}
