//! ggml's log output: warnings and errors go to stderr, debug and info lines (one per repacked
//! tensor, per backend initialised, …) only when `LLAMA_GGML_LOG=debug|info` asks for them —
//! llama.cpp filters them by verbosity the same way; ggml's default logger prints everything.

use ggml_sys as sys;
use std::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

/// The level of the last line, which `GGML_LOG_LEVEL_CONT` continues.
static LAST: AtomicU32 = AtomicU32::new(sys::GGML_LOG_LEVEL_INFO);
/// The lowest level printed.
static MIN: AtomicU32 = AtomicU32::new(sys::GGML_LOG_LEVEL_WARN);

/// Installs the filter once per process (before the first backend is created).
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
}

unsafe extern "C" fn log(level: sys::ggml_log_level, text: *const c_char, _user: *mut c_void) {
    let level = if level == sys::GGML_LOG_LEVEL_CONT {
        LAST.load(Ordering::Relaxed)
    } else {
        LAST.store(level, Ordering::Relaxed);
        level
    };
    if level < MIN.load(Ordering::Relaxed) || text.is_null() {
        return;
    }
    // SAFETY: ggml passes a NUL-terminated string valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(text) };
    eprint!("{}", text.to_string_lossy());
}
