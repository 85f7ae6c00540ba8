//! Continuous batching. One scheduler thread ([`engine::Engine`]) owns the llama-core
//! `Context`; the rest of the server talks to it through a cheap, cloneable
//! [`SchedulerHandle`]: commands over a channel, answers over oneshot channels, generated text
//! over one unbounded channel per request. The scheduler never waits on a client.
//! For an encoder-only model the thread runs [`embed::EmbedEngine`] over the same commands.

pub mod batch_builder;
pub mod embed;
pub mod engine;
pub mod job;
pub mod slot;
pub mod stop;

use crate::error::{Result, ServerError};
use crate::metrics::MetricsSnapshot;
use job::{GenParams, Job};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use tokio::sync::oneshot;

/// What the handle asks of the scheduler thread.
#[derive(Debug)]
pub enum Command {
    Submit(Box<Job>),
    /// An embedding request (served by [`embed::EmbedEngine`] only).
    Embed(Box<embed::EmbedJob>),
    Slots(oneshot::Sender<Vec<SlotInfo>>),
    Metrics(oneshot::Sender<MetricsSnapshot>),
    /// Stop taking work; exit once every admitted request is done.
    Shutdown,
    /// Cancel every request, queued or running.
    CancelAll,
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
    /// Admitted requests not finished yet (queued or in a slot).
    in_flight: AtomicUsize,
    /// `n_parallel + queue_size`.
    limit: usize,
    queue_size: usize,
    closed: AtomicBool,
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
}

impl SchedulerHandle {
    fn new(tx: mpsc::Sender<Command>, limits: Limits, queue_size: usize) -> Self {
        let admission = Admission {
            in_flight: AtomicUsize::new(0),
            limit: limits.n_parallel + queue_size,
            queue_size,
            closed: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
        };
        SchedulerHandle {
            tx,
            admission: Arc::new(admission),
            limits,
        }
    }

    /// A fresh request id (also the FIFO order of prompt processing).
    pub fn next_id(&self) -> u64 {
        self.admission.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues `job`, or refuses it at once when the queue is full or the server is stopping.
    pub fn submit(&self, job: Job) -> Result<()> {
        let a = &self.admission;
        if a.closed.load(Ordering::Acquire) {
            return Err(ServerError::ShuttingDown);
        }
        if a.in_flight.fetch_add(1, Ordering::AcqRel) >= a.limit {
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(ServerError::QueueFull(a.queue_size));
        }
        crate::telemetry::job_queued();
        self.tx.send(Command::Submit(Box::new(job))).map_err(|_| {
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
            ServerError::ShuttingDown
        })
    }

    /// Queues an embedding job, under the same admission limits as generation.
    pub fn embed(&self, job: embed::EmbedJob) -> Result<()> {
        let a = &self.admission;
        if a.closed.load(Ordering::Acquire) {
            return Err(ServerError::ShuttingDown);
        }
        if a.in_flight.fetch_add(1, Ordering::AcqRel) >= a.limit {
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(ServerError::QueueFull(a.queue_size));
        }
        self.tx.send(Command::Embed(Box::new(job))).map_err(|_| {
            a.in_flight.fetch_sub(1, Ordering::AcqRel);
            ServerError::ShuttingDown
        })
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

    /// Refuses new work from now on; admitted requests run to completion.
    pub fn shutdown(&self) {
        self.admission.closed.store(true, Ordering::Release);
        let _ = self.tx.send(Command::Shutdown);
    }

    /// Cancels everything still running (the shutdown deadline passed).
    pub fn cancel_all(&self) {
        let _ = self.tx.send(Command::CancelAll);
    }

    /// Admitted requests not finished yet.
    pub fn in_flight(&self) -> usize {
        self.admission.in_flight.load(Ordering::Acquire)
    }

    /// Called by the scheduler when a request leaves for good.
    fn release(&self) {
        self.admission.in_flight.fetch_sub(1, Ordering::AcqRel);
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
    let engine = engine::Engine::new(ctx, config, limits, rx, handle.clone());
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
    let engine = embed::EmbedEngine::new(encoder, limits, rx, handle.clone());
    let thread = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || engine.run())?;
    Ok((handle, thread))
}
