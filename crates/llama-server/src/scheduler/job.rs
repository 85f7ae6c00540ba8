//! What the HTTP side hands the scheduler (a [`Job`]) and what flows back ([`Event`]). The
//! settings and results themselves are in [`super::generation`], re-exported here.

use super::chat_output::ChatParse;
pub use super::generation::{
    Chunk, FinishReason, GenParams, Progress, Summary, Timings, TokenInfo, Usage,
};
use super::request::RequestTrace;
use crate::error::ServerError;
use llama_core::sampling::constraint::Constraint;
use tokio::sync::mpsc::UnboundedSender;

/// One request for the scheduler.
#[derive(Debug)]
pub struct Job {
    pub id: u64,
    pub prompt: Vec<u32>,
    pub params: GenParams,
    pub events: UnboundedSender<Event>,
    /// A chat request's output is read as a message (tool calls, reasoning) at the end.
    pub chat: Option<ChatParse>,
    /// `params.constraint` compiled against the model's vocabulary (a bad schema or grammar is
    /// a 400 before the job exists).
    pub constraint: Option<Constraint>,
    /// Its telemetry and admission permit: dropping the job records the outcome.
    pub trace: RequestTrace,
    /// The other choices of an `n` > 1 request: same prompt, each in a slot of its own that
    /// takes this job's prompt cells (`seq_cp`) once it is prefilled, so the prompt is
    /// decoded once (llama.cpp's child tasks of `n_cmpl`).
    pub children: Vec<Job>,
}

impl Job {
    /// Ends the request: the job is dropped first (its outcome counted, its admission permit
    /// released), then `last` goes to the client, so a client that has its answer also finds
    /// the request counted and its place free.
    pub fn end(self, last: Option<Event>) {
        let events = self.events.clone();
        drop(self);
        if let Some(event) = last {
            let _ = events.send(event);
        }
    }
}

/// What the scheduler sends back for a job, in order: progress reports while its prompt runs
/// (when asked for), any number of chunks, then one `Done`
/// or one `Failed`.
#[derive(Debug, Clone)]
pub enum Event {
    /// How far the prompt has been processed (requests with `return_progress`).
    Progress(Progress),
    Chunk(Chunk),
    Done(Summary),
    Failed(ServerError),
}
