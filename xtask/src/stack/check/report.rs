//! The pass/fail tally of `check-observability`.

use anyhow::Result;

/// Counts and prints check results.
#[derive(Default)]
pub(super) struct Report {
    pub(super) passed: usize,
    pub(super) failed: usize,
}

impl Report {
    /// Prints `ok    NAME: detail` or `FAIL  NAME: error` and counts it.
    pub(super) fn record(&mut self, name: &str, result: Result<String>) {
        match result {
            Ok(detail) => {
                self.passed += 1;
                if detail.is_empty() {
                    println!("ok    {name}");
                } else {
                    println!("ok    {name}: {detail}");
                }
            }
            Err(e) => {
                self.failed += 1;
                println!("FAIL  {name}: {e:#}");
            }
        }
    }
}
