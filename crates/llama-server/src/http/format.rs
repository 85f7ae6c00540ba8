//! The response format one API gives a request's events, and the collected output of a
//! non-streamed request: what the SSE stream and the one-shot responses are built from.

use crate::scheduler::job::{Chunk, Progress, Summary, TokenInfo};
use serde::Serialize;

/// All of a non-streamed request's output.
#[derive(Debug, Clone)]
pub struct Collected {
    pub text: String,
    pub tokens: Vec<TokenInfo>,
    pub summary: Summary,
}

/// Turns scheduler events into one API's response objects (`crate::api::response`).
pub trait Format: Send + 'static {
    /// What one `data:` line of the stream carries.
    type Chunk: Serialize;
    /// The body of a non-streamed response.
    type Full: Serialize;
    /// Objects sent before any text (e.g. the chat role delta).
    fn start(&mut self) -> Vec<Self::Chunk> {
        Vec::new()
    }
    /// The object for one released chunk; `None` sends nothing.
    fn chunk(&mut self, chunk: &Chunk) -> Option<Self::Chunk>;
    /// Every object for one released chunk (a format that can answer one chunk with several
    /// events overrides this; the stream calls it).
    fn chunks(&mut self, chunk: &Chunk) -> Vec<Self::Chunk> {
        self.chunk(chunk).into_iter().collect()
    }
    /// The objects reporting prompt progress (`return_progress`); none by default.
    fn progress(&mut self, _progress: &Progress) -> Vec<Self::Chunk> {
        Vec::new()
    }
    /// The final objects of a stream.
    fn finish(&mut self, summary: &Summary) -> Vec<Self::Chunk>;
    /// End the stream with `data: [DONE]` (OpenAI).
    fn done_marker(&self) -> bool;
    /// The SSE `event:` name of a chunk (Anthropic names every event); `None`: none.
    fn event_name(_chunk: &Self::Chunk) -> Option<&'static str> {
        None
    }
    /// The whole response of a non-streamed request.
    fn full(&self, collected: &Collected) -> Self::Full;
}
