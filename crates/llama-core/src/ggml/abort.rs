//! ggml's fatal errors. ggml ends the process with `abort()` on a broken invariant — and its RPC
//! client does so whenever a remote server fails during a call, which no caller can catch.
//! What can be done without changing ggml is done here, in `ggml_set_abort_callback`: the
//! message goes to stderr and `tracing` with what it means, and a hook the program registers
//! (the server flushes its telemetry) runs before ggml aborts.

use ggml_sys as sys;
use std::ffi::c_char;
use std::sync::{Once, OnceLock};

/// Called with ggml's message just before the process aborts.
pub type FatalHook = fn(&str);

static HOOK: OnceLock<FatalHook> = OnceLock::new();

/// Registers `hook` (the first registration wins) and installs the abort callback.
pub fn on_fatal(hook: FatalHook) {
    let _ = HOOK.set(hook);
    install();
}

/// Installs the abort callback once per process.
pub(super) fn install() {
    static ONCE: Once = Once::new();
    // SAFETY: `on_abort` matches `ggml_abort_callback_t` and lives for the whole process.
    ONCE.call_once(|| unsafe {
        sys::ggml_set_abort_callback(Some(on_abort));
    });
}

/// What a fatal ggml message means for the user.
pub fn explain(message: &str) -> String {
    if message.contains("RPC") || message.contains("rpc") {
        format!(
            "fatal: ggml: {message}: an RPC server stopped or dropped the connection during a \
             call; ggml's RPC client cannot recover, so this process ends (restart it once the \
             server is back)"
        )
    } else {
        format!("fatal: ggml: {message}")
    }
}

extern "C" fn on_abort(message: *const c_char) {
    // SAFETY: ggml passes a NUL-terminated message valid for the call.
    let text = unsafe { super::cstr(message) };
    let line = explain(&text);
    // No unwinding may cross into C: a panicking hook or subscriber is contained.
    let _ = std::panic::catch_unwind(|| {
        // Without a subscriber this line is dropped, but ggml prints its own abort message.
        tracing::error!(target: "ggml", "{line}");
        if let Some(hook) = HOOK.get() {
            hook(&line);
        }
    });
}
