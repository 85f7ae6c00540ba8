//! Server-sent events: one `data:` line per JSON object, in the order the scheduler produced
//! them. When the client goes away the stream (and with it the request's receiver) is dropped,
//! which the scheduler notices at its next step and frees the slot.
//!
//! While nothing is sent (a long prefill, a queue wait) an empty comment line (`:`) goes out
//! every `--sse-ping-interval` seconds, as llama.cpp's SSE ping, so clients with idle timeouts
//! (undici) keep the connection; SSE clients ignore comment lines.

use super::format::Format;
use crate::scheduler::job::Event;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Serialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

struct StreamState<F> {
    rx: UnboundedReceiver<Event>,
    format: F,
    out: VecDeque<SseEvent>,
    ended: bool,
}

pub(super) fn data(v: &impl Serialize) -> SseEvent {
    named(SseEvent::default(), v)
}

fn named(event: SseEvent, v: &impl Serialize) -> SseEvent {
    // The response types serialize infallibly (string keys, no custom errors).
    event.data(serde_json::to_string(v).unwrap_or_default())
}

/// A format's chunk, after its `event:` line when the format names it (axum writes the
/// fields in the order they are set).
pub(super) fn chunk_event<F: Format>(c: &F::Chunk) -> SseEvent {
    match F::event_name(c) {
        Some(name) => named(SseEvent::default().event(name), c),
        None => data(c),
    }
}

impl<F: Format> StreamState<F> {
    /// Turns the next scheduler event into SSE events; false once nothing more will come.
    async fn pull(&mut self) -> bool {
        if self.ended {
            return false;
        }
        match self.rx.recv().await {
            Some(Event::Progress(p)) => self
                .out
                .extend(self.format.progress(&p).iter().map(chunk_event::<F>)),
            Some(Event::Chunk(chunk)) => self
                .out
                .extend(self.format.chunks(&chunk).iter().map(chunk_event::<F>)),
            Some(Event::Done(summary)) => {
                self.out
                    .extend(self.format.finish(&summary).iter().map(chunk_event::<F>));
                self.end();
            }
            Some(Event::Failed(e)) => {
                crate::metrics::record_rejection(e.reason());
                self.out.push_back(data(&e.body()));
                self.end();
            }
            None => self.end(),
        }
        true
    }

    fn end(&mut self) {
        if self.format.done_marker() {
            self.out.push_back(SseEvent::default().data("[DONE]"));
        }
        self.ended = true;
    }
}

/// The SSE response for a request's events, with a ping comment every `ping`.
pub fn stream<F: Format>(
    rx: UnboundedReceiver<Event>,
    mut format: F,
    ping: Option<Duration>,
) -> Response {
    let out: VecDeque<SseEvent> = format.start().iter().map(chunk_event::<F>).collect();
    let state = StreamState {
        rx,
        format,
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
    match ping {
        Some(every) => Sse::new(events)
            .keep_alive(KeepAlive::new().interval(every))
            .into_response(),
        None => Sse::new(events).into_response(),
    }
}
