//! Token counts of one request, shared by its `scheduler::request::RequestTrace` (which fills
//! them in when the engine is done) and the HTTP request log line (which reads them when the
//! response body ends). A leaf module: plain values, nothing of HTTP or the engine.

use std::sync::{Arc, Mutex, PoisonError};

/// Prompt and completion tokens, as far as known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: Option<u64>,
    pub completion: Option<u64>,
}

/// One request's [`Tokens`], written by the scheduler thread and read by the HTTP side.
#[derive(Debug, Clone, Default)]
pub struct TokenUsage(Arc<Mutex<Tokens>>);

impl TokenUsage {
    /// Records the request's prompt tokens and, for generations, its completion tokens.
    pub fn set(&self, prompt: usize, completion: Option<usize>) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.prompt = Some(prompt as u64);
        t.completion = completion.map(|n| n as u64);
    }

    /// What is known now.
    pub fn get(&self) -> Tokens {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
