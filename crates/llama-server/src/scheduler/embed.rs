//! The scheduler thread of an embedding (encoder-only) model: it owns the llama-core
//! [`Encoder`] instead of a decoding context, takes the same [`Command`]s, and answers each
//! embedding job in arrival order. Generation jobs cannot reach it (the HTTP side refuses them
//! for encoder models); should one arrive, it fails cleanly.

use super::job::{Event, Job};
use super::{Command, Limits, SchedulerHandle, SlotInfo};
use crate::error::{Result, ServerError};
use crate::metrics::{EngineCounters, Gauges};
use crate::telemetry::{self, JobTrace};
use llama_core::embed::Embedding;
use llama_core::Encoder;
use std::sync::mpsc::Receiver;
use std::time::Instant;
use tokio::sync::oneshot;

/// One embedding request: its inputs, tokenized with special tokens, one sequence each.
#[derive(Debug)]
pub struct EmbedJob {
    pub id: u64,
    pub inputs: Vec<Vec<u32>>,
    /// `embd_normalize` for pooled vectors; `None`: the server's `--embd-normalize`.
    pub normalize: Option<i32>,
    pub reply: oneshot::Sender<Result<Vec<Embedding>>>,
    pub trace: JobTrace,
    pub submitted: Instant,
}

impl EmbedJob {
    /// Total tokens over all inputs (the usage the response reports).
    pub fn n_tokens(&self) -> usize {
        self.inputs.iter().map(Vec::len).sum()
    }
}

/// Owner of the encoder; runs on the scheduler thread.
pub struct EmbedEngine {
    encoder: Encoder,
    limits: Limits,
    rx: Receiver<Command>,
    handle: SchedulerHandle,
    counters: EngineCounters,
    busy: bool,
}

impl EmbedEngine {
    pub fn new(
        encoder: Encoder,
        limits: Limits,
        rx: Receiver<Command>,
        handle: SchedulerHandle,
    ) -> Self {
        EmbedEngine {
            encoder,
            limits,
            rx,
            handle,
            counters: EngineCounters::default(),
            busy: false,
        }
    }

    /// Serves commands until shutdown (or every handle is gone). Jobs run one at a time in
    /// arrival order; a shutdown lets the ones already queued in the channel finish first.
    pub fn run(mut self) {
        let mut shutting_down = false;
        loop {
            let cmd = if shutting_down {
                match self.rx.try_recv() {
                    Ok(cmd) => cmd,
                    Err(_) => break,
                }
            } else {
                match self.rx.recv() {
                    Ok(cmd) => cmd,
                    Err(_) => break,
                }
            };
            match cmd {
                Command::Embed(job) => self.embed(*job),
                Command::Submit(job) => self.refuse_generation(*job),
                Command::Slots(reply) => {
                    let _ = reply.send(self.slot_infos());
                }
                Command::Metrics(reply) => {
                    let gauges = Gauges {
                        requests_processing: usize::from(self.busy),
                        requests_deferred: 0,
                        kv_used: 0,
                        n_ctx: self.limits.n_ctx,
                    };
                    let _ = reply.send(self.counters.snapshot(gauges));
                }
                Command::Shutdown => shutting_down = true,
                // Jobs run to completion within one command; nothing is left to cancel.
                Command::CancelAll => {}
            }
        }
    }

    fn embed(&mut self, mut job: EmbedJob) {
        self.busy = true;
        telemetry::embed_started(&mut job.trace);
        let started = Instant::now();
        let result = if job.reply.is_closed() {
            Err(ServerError::Internal("client gone".into()))
        } else {
            let normalize = job.normalize.unwrap_or(self.encoder.params().normalize);
            self.encoder
                .embed_normalized(&job.inputs, normalize)
                .map_err(ServerError::from)
        };
        match &result {
            Ok(_) => {
                self.counters
                    .on_prompt_done(job.n_tokens(), started.elapsed().as_secs_f64());
                telemetry::embed_finished(&job.trace, job.submitted, job.n_tokens());
            }
            Err(e) => telemetry::embed_failed(&job.trace, job.submitted, e.reason()),
        }
        let _ = job.reply.send(result);
        self.busy = false;
        self.handle.release();
    }

    fn refuse_generation(&mut self, job: Job) {
        let err = ServerError::BadRequest("this model only produces embeddings".into());
        telemetry::job_aborted(&job.trace, job.submitted, "rejected", err.reason(), false);
        let _ = job.events.send(Event::Failed(err));
        self.handle.release();
    }

    fn slot_infos(&self) -> Vec<SlotInfo> {
        vec![SlotInfo {
            id: 0,
            id_task: None,
            n_ctx: self.limits.n_ctx_slot,
            n_cached: 0,
            n_prompt_tokens: 0,
            n_decoded: 0,
            params: None,
        }]
    }
}
