//! `n` > 1 on the OpenAI endpoints: one job per choice, queued as one parent job with the
//! others as its children (the scheduler prefills the prompt once and shares its cells), and
//! their events merged back with each choice's index, streamed or collected.

use super::format::{Collected, Format};
use super::generate::{self, Prepared};
use super::sse;
use super::trace::HttpTrace;
use super::{AppState, Ready};
use crate::api::response::openai::{Completion, Usage};
use crate::error::{Result, ServerError};
use crate::scheduler::job::{Event, Summary};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// The merged events of a request's choices, each tagged with its index.
#[derive(Debug)]
pub struct Choices {
    pub events: UnboundedReceiver<(usize, Event)>,
    pub n: usize,
    pub ping: Option<Duration>,
}

/// Queues one job per prepared choice (all with the same prompt): the first carries the others.
pub fn submit(
    state: &AppState,
    ready: &Ready,
    choices: Vec<Prepared>,
    http: &HttpTrace,
) -> Result<Choices> {
    let n = choices.len();
    let (tx, rx) = unbounded_channel();
    let mut jobs = Vec::with_capacity(n);
    for (i, p) in choices.into_iter().enumerate() {
        generate::check(ready, &p)?;
        let (job, events) = generate::job(state, ready, p, http)?;
        jobs.push(job);
        tokio::spawn(forward(i, events, tx.clone()));
    }
    let mut jobs = jobs.into_iter();
    let Some(mut parent) = jobs.next() else {
        return Err(ServerError::BadRequest("n must be at least 1".into()));
    };
    parent.children = jobs.collect();
    ready.sched.submit(parent);
    Ok(Choices {
        events: rx,
        n,
        ping: state.config().sse_ping,
    })
}

/// Merges separately queued requests' events (several prompts of one `/completion`), each
/// tagged with its place in `subs`.
pub fn merge(subs: Vec<generate::Submitted>, ping: Option<Duration>) -> Choices {
    let n = subs.len();
    let (tx, rx) = unbounded_channel();
    for (i, sub) in subs.into_iter().enumerate() {
        tokio::spawn(forward(i, sub.events, tx.clone()));
    }
    Choices {
        events: rx,
        n,
        ping,
    }
}

/// Passes one choice's events on with its index; stops (dropping the choice's receiver, which
/// the scheduler takes as a cancellation) once the client side is gone.
async fn forward(
    index: usize,
    mut events: UnboundedReceiver<Event>,
    tx: UnboundedSender<(usize, Event)>,
) {
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => if tx.send((index, ev)).is_err() { return },
                None => return,
            },
            () = tx.closed() => return,
        }
    }
}

/// Waits for every choice to end; the first failure fails the request.
pub async fn collect(mut ch: Choices) -> Result<Vec<Collected>> {
    let mut parts: Vec<(String, Vec<_>)> = vec![Default::default(); ch.n];
    let mut done: Vec<Option<Collected>> = vec![None; ch.n];
    while let Some((i, event)) = ch.events.recv().await {
        match event {
            Event::Chunk(c) => {
                parts[i].0.push_str(&c.text);
                parts[i].1.extend(c.tokens);
            }
            Event::Done(summary) => {
                let (text, tokens) = std::mem::take(&mut parts[i]);
                done[i] = Some(Collected {
                    text,
                    tokens,
                    summary,
                });
                if done.iter().all(Option::is_some) {
                    return Ok(done.into_iter().flatten().collect());
                }
            }
            Event::Failed(e) => return Err(e),
            Event::Progress(_) => {}
        }
    }
    Err(ServerError::Internal(
        "the scheduler dropped the request".into(),
    ))
}

/// What ends a stream once every choice is done (the usage chunk), from their summaries.
pub type Tail<C> = Box<dyn FnOnce(&[Summary]) -> Vec<C> + Send>;

struct StreamState<F: Format> {
    rx: UnboundedReceiver<(usize, Event)>,
    formats: Vec<F>,
    summaries: Vec<Option<Summary>>,
    tail: Option<Tail<F::Chunk>>,
    out: VecDeque<SseEvent>,
    ended: bool,
}

impl<F: Format> StreamState<F> {
    /// Turns the next event into SSE events; false once nothing more will come.
    async fn pull(&mut self) -> bool {
        if self.ended {
            return false;
        }
        match self.rx.recv().await {
            Some((i, Event::Progress(p))) => self.out.extend(
                self.formats[i]
                    .progress(&p)
                    .iter()
                    .map(sse::chunk_event::<F>),
            ),
            Some((i, Event::Chunk(chunk))) => self.out.extend(
                self.formats[i]
                    .chunks(&chunk)
                    .iter()
                    .map(sse::chunk_event::<F>),
            ),
            Some((i, Event::Done(summary))) => {
                let last = self.formats[i].finish(&summary);
                self.out.extend(last.iter().map(sse::chunk_event::<F>));
                self.summaries[i] = Some(summary);
                if self.summaries.iter().all(Option::is_some) {
                    let all: Vec<Summary> = self.summaries.iter().flatten().cloned().collect();
                    let tail = self.tail.take().map(|t| t(&all)).unwrap_or_default();
                    self.out.extend(tail.iter().map(sse::chunk_event::<F>));
                    self.end();
                }
            }
            Some((_, Event::Failed(e))) => {
                crate::metrics::record_rejection(e.reason());
                self.out.push_back(sse::data(&e.body()));
                self.end();
            }
            None => self.end(),
        }
        true
    }

    fn end(&mut self) {
        if self.formats.first().is_some_and(Format::done_marker) {
            self.out.push_back(SseEvent::default().data("[DONE]"));
        }
        self.ended = true;
    }
}

/// The SSE response of an `n` > 1 request: `formats[i]` formats choice `i`, `tail` ends it.
pub fn stream<F: Format>(ch: Choices, mut formats: Vec<F>, tail: Tail<F::Chunk>) -> Response {
    let out: VecDeque<SseEvent> = formats
        .iter_mut()
        .flat_map(|f| f.start())
        .map(|c| sse::chunk_event::<F>(&c))
        .collect();
    let state = StreamState {
        rx: ch.events,
        summaries: vec![None; formats.len()],
        formats,
        tail: Some(tail),
        out,
        ended: false,
    };
    let events = stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.out.pop_front() {
                return Some((Ok::<_, Infallible>(ev), st));
            }
            if !st.pull().await {
                return None;
            }
        }
    });
    match ch.ping {
        Some(every) => Sse::new(events)
            .keep_alive(KeepAlive::new().interval(every))
            .into_response(),
        None => Sse::new(events).into_response(),
    }
}

/// Usage of an `n` > 1 request: the prompt once, the choices' completions summed.
pub(super) fn summed(all: &[Summary]) -> crate::scheduler::job::Usage {
    let mut usage = all.first().map(|s| s.usage).unwrap_or_default();
    usage.completion_tokens = all.iter().map(|s| s.usage.completion_tokens).sum();
    usage
}

/// One response of an `n` > 1 request from its choices' responses (one choice each).
pub(super) fn merged<C>(parts: Vec<Completion<C>>, all: &[Summary]) -> Option<Completion<C>> {
    let mut parts = parts.into_iter();
    let mut first = parts.next()?;
    first.choices.extend(parts.flat_map(|p| p.choices));
    first.usage = Some(Usage::from(&summed(all)));
    Some(first)
}
