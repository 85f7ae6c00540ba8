//! The observability stack in `observability/`: `stack-up`, `stack-down` and `stack-status` drive
//! Docker Compose; `check-observability` checks the stack's files without Docker — statically,
//! and by evaluating every dashboard and alert query in a real Prometheus that scrapes the real
//! server while requests run.

mod check;
mod compose;
mod files;
pub(crate) mod process;

pub use check::{check, CheckOpts};
pub use compose::{down, status, up, DownOpts, StatusOpts, UpOpts};
