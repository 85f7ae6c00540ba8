//! Continuous batching. One scheduler thread ([`engine::Engine`]) owns the llama-core
//! `Context`; the rest of the server talks to it through a cheap, cloneable
//! [`SchedulerHandle`]: commands over a channel, answers over oneshot channels, generated text
//! over one unbounded channel per request. The scheduler never waits on a client.
//! For an encoder-only model the thread runs [`embed::EmbedEngine`] over the same commands.
//!
//! Admission: a request takes a permit ([`SchedulerHandle::admit`]) before it is queued; the
//! permit lives in the job's [`request::RequestTrace`] and returns when the job is dropped,
//! whichever way it ends.

pub mod batch_builder;
pub mod chat_output;
pub mod embed;
pub mod engine;
pub mod generation;
pub mod job;
pub mod prefix_cache;
pub mod request;
pub mod slot;
pub mod slot_action;
pub mod speculative;
pub mod stop;

use crate::error::{Result, ServerError};
use crate::metrics::MetricsSnapshot;
use job::{GenParams, Job};
use llama_otel::names::CancelReason;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// What the handle asks of the scheduler thread.
#[derive(Debug)]
pub enum Command {
    Submit(Box<Job>),
    /// An embedding request (served by [`embed::EmbedEngine`] only).
    Embed(Box<embed::EmbedJob>),
    Slots(oneshot::Sender<Vec<SlotInfo>>),
    Metrics(oneshot::Sender<MetricsSnapshot>),
    /// `POST /slots/{id}?action=...` (generative models only).
    SlotAction(slot_action::SlotAction),
    /// Make the context again if the engine sleeps; answered once it is awake.
    Wake(oneshot::Sender<()>),
    /// Stop taking work; exit once every admitted request is done.
    Shutdown,
    /// Cancel every request, queued or running.
    CancelAll,
    /// Fail the next decode call as if the backend had (tests of the failure path only).
    #[cfg(feature = "fault-injection")]
    FailNextDecode,
}

/// One slot as `/slots` shows it.
#[derive(Debug, Clone)]
pub struct SlotInfo {
    pub id: usize,
    pub id_task: Option<u64>,
    pub n_ctx: usize,
    pub n_cached: usize,
    pub n_prompt_tokens: usize,
    pub n_decoded: usize,
    pub params: Option<GenParams>,
}

/// Limits the handle enforces before anything reaches the scheduler.
#[derive(Debug)]
struct Admission {
    /// One permit per request that may be admitted (queued or in a slot):
    /// `n_parallel + queue_size`; closed once the server stops taking work.
    permits: Arc<Semaphore>,
    limit: usize,
    queue_size: usize,
    next_id: AtomicU64,
}

/// Sizes the HTTP side validates against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub n_ctx: usize,
    pub n_ctx_slot: usize,
    pub n_parallel: usize,
    /// Server-wide cap on generated tokens (`-n`), if any.
    pub n_predict: Option<usize>,
}

/// Cheap handle to the scheduler thread.
#[derive(Debug, Clone)]
pub struct SchedulerHandle {
    tx: mpsc::Sender<Command>,
    admission: Arc<Admission>,
    pub limits: Limits,
    /// Set by the engine while its context is freed (`--sleep-idle-seconds`).
    sleeping: Arc<AtomicBool>,
}

impl SchedulerHandle {
    fn new(tx: mpsc::Sender<Command>, limits: Limits, queue_size: usize) -> Self {
        let limit = limits.n_parallel + queue_size;
        let admission = Admission {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            queue_size,
            next_id: AtomicU64::new(1),
        };
        SchedulerHandle {
            tx,
            admission: Arc::new(admission),
            limits,
            sleeping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A fresh request id (also the FIFO order of prompt processing).
    pub fn next_id(&self) -> u64 {
        self.admission.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A place for one request, or a refusal at once when the queue is full or the server is
    /// stopping. The permit goes into the request's [`request::RequestTrace`].
    pub fn admit(&self) -> Result<OwnedSemaphorePermit> {
        let a = &self.admission;
        a.permits.clone().try_acquire_owned().map_err(|e| match e {
            TryAcquireError::NoPermits => ServerError::QueueFull(a.queue_size),
            TryAcquireError::Closed => ServerError::ShuttingDown,
        })
    }

    /// Queues `job`. Should the scheduler be gone, the job is cancelled (its channel closes,
    /// which its receiver sees).
    pub fn submit(&self, mut job: Job) {
        job.trace.queued();
        let sent = self.tx.send(Command::Submit(Box::new(job)));
        if let Err(mpsc::SendError(Command::Submit(mut job))) = sent {
            job.trace.cancel(CancelReason::Shutdown);
        }
    }

    /// Queues an embedding job (admitted like generation); cancelled as [`Self::submit`]'s.
    pub fn embed(&self, mut job: embed::EmbedJob) {
        job.trace.queued();
        let sent = self.tx.send(Command::Embed(Box::new(job)));
        if let Err(mpsc::SendError(Command::Embed(mut job))) = sent {
            job.trace.cancel(CancelReason::Shutdown);
        }
    }

    /// Current state of every slot.
    pub async fn slots(&self) -> Result<Vec<SlotInfo>> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Slots(tx))
            .map_err(|_| ServerError::ShuttingDown)?;
        rx.await.map_err(|_| ServerError::ShuttingDown)
    }

    /// Counters for `/metrics`.
    pub async fn metrics(&self) -> Result<MetricsSnapshot> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Metrics(tx))
            .map_err(|_| ServerError::ShuttingDown)?;
        rx.await.map_err(|_| ServerError::ShuttingDown)
    }

    /// Runs a slot action (save, restore, erase) on the scheduler thread.
    pub async fn slot_action(
        &self,
        id_slot: i64,
        kind: slot_action::SlotActionKind,
    ) -> Result<slot_action::SlotActionDone> {
        let (reply, rx) = oneshot::channel();
        let action = slot_action::SlotAction {
            id_slot,
            kind,
            reply,
        };
        self.tx
            .send(Command::SlotAction(action))
            .map_err(|_| ServerError::ShuttingDown)?;
        rx.await.map_err(|_| ServerError::ShuttingDown)?
    }

    /// Whether the engine sleeps (`--sleep-idle-seconds`): `is_sleeping` of `/props`.
    pub fn is_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst)
    }

    /// Wakes a sleeping engine and waits until its context is back (llama.cpp wakes on every
    /// request but a few read-only ones).
    pub async fn wake(&self) -> Result<()> {
        if !self.is_sleeping() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Wake(tx))
            .map_err(|_| ServerError::ShuttingDown)?;
        rx.await.map_err(|_| ServerError::ShuttingDown)
    }

    /// Refuses new work from now on; admitted requests run to completion.
    pub fn shutdown(&self) {
        self.admission.permits.close();
        let _ = self.tx.send(Command::Shutdown);
    }

    /// Cancels everything still running (the shutdown deadline passed).
    pub fn cancel_all(&self) {
        let _ = self.tx.send(Command::CancelAll);
    }

    /// Admitted requests not finished yet.
    pub fn in_flight(&self) -> usize {
        let a = &self.admission;
        a.limit.saturating_sub(a.permits.available_permits())
    }

    /// Makes the next decode call fail, every request in it with it (tests of the failure
    /// path; compiled only with the `fault-injection` feature).
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_decode(&self) {
        let _ = self.tx.send(Command::FailNextDecode);
    }
}

/// Starts the scheduler thread over `ctx`.
pub fn start(
    ctx: llama_core::Context,
    config: engine::EngineConfig,
    limits: Limits,
    queue_size: usize,
) -> std::io::Result<(SchedulerHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let handle = SchedulerHandle::new(tx, limits, queue_size);
    let engine = engine::Engine::new(ctx, config, limits, rx, handle.sleeping.clone());
    let thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || engine.run())?;
    Ok((handle, thread))
}

/// Starts the scheduler thread of an encoder-only model over `encoder`.
pub fn start_embedder(
    encoder: llama_core::Encoder,
    limits: Limits,
    queue_size: usize,
) -> std::io::Result<(SchedulerHandle, std::thread::JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel();
    let handle = SchedulerHandle::new(tx, limits, queue_size);
    let engine = embed::EmbedEngine::new(encoder, limits, rx);
    let thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || engine.run())?;
    Ok((handle, thread))
}
