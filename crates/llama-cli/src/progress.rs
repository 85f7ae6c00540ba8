//! A one-line progress bar on stderr, drawn only when stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Progress of a byte-counted task.
#[derive(Debug)]
pub struct Progress {
    label: &'static str,
    tty: bool,
    start: Instant,
    last_pct: Option<u64>,
}

impl Progress {
    pub fn new(label: &'static str) -> Self {
        Progress {
            label,
            tty: std::io::stderr().is_terminal(),
            start: Instant::now(),
            last_pct: None,
        }
    }

    pub fn update(&mut self, done: u64, total: u64) {
        if !self.tty || total == 0 {
            return;
        }
        let pct = done.saturating_mul(100) / total;
        if self.last_pct == Some(pct) {
            return;
        }
        self.last_pct = Some(pct);
        let filled = (pct / 4) as usize;
        eprint!(
            "\r{} [{}{}] {pct:>3}% {:.0}/{:.0} MiB",
            self.label,
            "#".repeat(filled),
            " ".repeat(25 - filled),
            done as f64 / 1048576.0,
            total as f64 / 1048576.0
        );
        let _ = std::io::stderr().flush();
    }

    pub fn finish(&self) {
        if self.tty {
            eprintln!(" done in {:.2}s", self.start.elapsed().as_secs_f64());
        }
    }
}
