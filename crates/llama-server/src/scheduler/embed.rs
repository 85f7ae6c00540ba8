//! The scheduler thread of an embedding (encoder-only) model: it owns the llama-core
//! [`Encoder`] instead of a decoding context, takes the same [`Command`]s, and answers each
//! embedding job in arrival order. Generation jobs cannot reach it (the HTTP side refuses them
//! for encoder models); should one arrive, it fails cleanly.

use super::job::{Event, Job};
use super::request::RequestTrace;
use super::{Command, Limits, SlotInfo};
use crate::error::{Result, ServerError};
use crate::metrics::{EngineCounters, Gauges};
use llama_core::embed::Embedding;
use llama_core::Encoder;
use llama_otel::names::{CancelReason, EngineError};
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
    /// Its telemetry and admission permit: dropping the job records the outcome.
    pub trace: RequestTrace,
}

impl EmbedJob {
    /// Total tokens over all inputs (the usage the response reports).
    pub fn n_tokens(&self) -> usize {
        self.inputs.iter().map(Vec::len).sum()
    }

    /// Ends the request with `result`: the outcome is counted and the admission permit
    /// released (the job is dropped) before the client gets its answer.
    fn answer(self, result: Result<Vec<Embedding>>) {
        let EmbedJob { reply, trace, .. } = self;
        drop(trace);
        let _ = reply.send(result);
    }

    /// Refuses the job (the model cannot serve it).
    pub fn refuse(mut self, err: ServerError) {
        self.trace.reject(err.reason());
        self.answer(Err(err));
    }
}

/// Owner of the encoder; runs on the scheduler thread.
pub struct EmbedEngine {
    encoder: Encoder,
    limits: Limits,
    rx: Receiver<Command>,
    counters: EngineCounters,
    busy: bool,
}

impl EmbedEngine {
    pub fn new(encoder: Encoder, limits: Limits, rx: Receiver<Command>) -> Self {
        EmbedEngine {
            encoder,
            limits,
            rx,
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
                Command::SlotAction(action) => {
                    let msg = "slot actions need a generative model";
                    let _ = action
                        .reply
                        .send(Err(ServerError::NotSupported(msg.into())));
                }
                Command::Wake(reply) => {
                    let _ = reply.send(());
                }
                #[cfg(feature = "fault-injection")]
                Command::FailNextDecode => {}
            }
        }
    }

    fn embed(&mut self, mut job: EmbedJob) {
        if job.reply.is_closed() {
            job.trace.cancel(CancelReason::ClientDisconnected);
            return;
        }
        self.busy = true;
        job.trace.encoding();
        let started = Instant::now();
        let normalize = job.normalize.unwrap_or(self.encoder.params().normalize);
        let result = self
            .encoder
            .embed_normalized(&job.inputs, normalize)
            .map_err(ServerError::from);
        match &result {
            Ok(_) => {
                self.counters
                    .on_prompt_done(job.n_tokens(), 0, started.elapsed().as_secs_f64());
                job.trace.embedded();
            }
            Err(e) => {
                job.trace.in_scope(|| {
                    tracing::error!(
                        error.type = EngineError::Encode.as_str(),
                        "embedding failed: {e}"
                    )
                });
                job.trace.fail(EngineError::Encode);
            }
        }
        job.answer(result);
        self.busy = false;
    }

    fn refuse_generation(&mut self, mut job: Job) {
        let err = ServerError::BadRequest("this model only produces embeddings".into());
        job.trace.reject(err.reason());
        job.end(Some(Event::Failed(err)));
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
