//! ggml's log output, routed into `tracing` (target `ggml`) at ggml's own levels: error,
//! warn, info, debug. ggml writes lines in pieces (`GGML_LOG_LEVEL_CONT` continues the last
//! one, e.g. progress dots), so text is gathered per thread and emitted a whole line at a
//! time. Debug and info lines (one per repacked tensor, per backend initialised, …) are only
//! forwarded when `LLAMA_GGML_LOG=debug|info` asks for them, as before; the subscriber's level
//! then filters what it shows.

use ggml_sys as sys;
use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

/// The lowest ggml level forwarded.
static MIN: AtomicU32 = AtomicU32::new(sys::GGML_LOG_LEVEL_WARN);

thread_local! {
    /// The level and text of the line being assembled on this thread.
    static PENDING: RefCell<(u32, String)> = const { RefCell::new((sys::GGML_LOG_LEVEL_INFO, String::new())) };
}

/// Installs the callback once per process (before the first backend is created).
pub(super) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let min = match std::env::var("LLAMA_GGML_LOG").as_deref() {
            Ok("debug") => sys::GGML_LOG_LEVEL_DEBUG,
            Ok("info") => sys::GGML_LOG_LEVEL_INFO,
            Ok("none") => sys::GGML_LOG_LEVEL_NONE + 10,
            _ => sys::GGML_LOG_LEVEL_WARN,
        };
        MIN.store(min, Ordering::Relaxed);
        // SAFETY: `log` matches `ggml_log_callback`, ignores its user data and lives for the
        // whole process.
        unsafe { sys::ggml_log_set(Some(log), std::ptr::null_mut()) }
    });
    super::abort::install();
}

/// One complete line at ggml's `level`.
fn emit(level: u32, line: &str) {
    if level < MIN.load(Ordering::Relaxed) || line.trim().is_empty() {
        return;
    }
    match level {
        sys::GGML_LOG_LEVEL_ERROR => tracing::error!(target: "ggml", "{line}"),
        sys::GGML_LOG_LEVEL_WARN => tracing::warn!(target: "ggml", "{line}"),
        sys::GGML_LOG_LEVEL_DEBUG => tracing::debug!(target: "ggml", "{line}"),
        _ => tracing::info!(target: "ggml", "{line}"),
    }
}

/// Appends `text` to this thread's pending line and emits every line it completes.
fn feed(level: u32, text: &str) {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        if level != sys::GGML_LOG_LEVEL_CONT {
            if !pending.1.is_empty() {
                // A new message while the last had no newline: that one is complete.
                let (last, line) = (pending.0, std::mem::take(&mut pending.1));
                emit(last, &line);
            }
            pending.0 = level;
        }
        pending.1.push_str(text);
        while let Some(end) = pending.1.find('\n') {
            let line: String = pending.1.drain(..=end).collect();
            emit(pending.0, line.trim_end_matches(['\n', '\r']));
        }
    });
}

unsafe extern "C" fn log(level: sys::ggml_log_level, text: *const c_char, _user: *mut c_void) {
    if text.is_null() {
        return;
    }
    // SAFETY: ggml passes a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(text) };
    feed(level, &text.to_string_lossy());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata};

    /// Records (level, message) of every event.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<(tracing::Level, String)>>>);

    struct Message(String);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }

    impl tracing::Subscriber for Collect {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut m = Message(String::new());
            event.record(&mut m);
            assert_eq!(event.metadata().target(), "ggml");
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), m.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn pieces_become_whole_lines_at_ggml_levels() {
        let collect = Collect::default();
        tracing::subscriber::with_default(collect.clone(), || {
            feed(sys::GGML_LOG_LEVEL_WARN, "slow ");
            feed(sys::GGML_LOG_LEVEL_CONT, "path\nsecond");
            feed(sys::GGML_LOG_LEVEL_ERROR, "broken\n");
            // Below the default minimum (warn): not forwarded.
            feed(sys::GGML_LOG_LEVEL_INFO, "repacked\n");
        });
        let got = collect.0.lock().unwrap().clone();
        assert_eq!(
            got,
            vec![
                (tracing::Level::WARN, "slow path".to_owned()),
                (tracing::Level::WARN, "second".to_owned()),
                (tracing::Level::ERROR, "broken".to_owned()),
            ]
        );
    }
}
