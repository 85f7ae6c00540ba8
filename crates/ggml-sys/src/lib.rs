//! Raw FFI bindings to the vendored ggml tensor library.
//!
//! The default build compiles ggml's CPU backend with the `cc` crate (see `build/cc_build.rs` for
//! the upstream CMake options it mirrors); the `cmake` feature, implied by `cuda`, `metal` and
//! `rpc`, drives upstream's CMakeLists instead. Bindings are pre-generated and committed under
//! `src/bindings/`; the `bindgen` feature regenerates them at build time (needs libclang), and
//! `cargo xtask bindgen` rewrites the committed files.
//!
//! Everything here is `unsafe` C API; llama-core wraps it in one safe module.

#[allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_debug_implementations,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]
mod ffi {
    #[cfg(not(feature = "bindgen"))]
    include!("bindings/bindings.rs");
    #[cfg(feature = "bindgen")]
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

    #[cfg(all(feature = "cuda", not(feature = "bindgen")))]
    include!("bindings/bindings_cuda.rs");
    #[cfg(all(feature = "cuda", feature = "bindgen"))]
    include!(concat!(env!("OUT_DIR"), "/bindings_cuda.rs"));

    #[cfg(all(feature = "metal", not(feature = "bindgen")))]
    include!("bindings/bindings_metal.rs");
    #[cfg(all(feature = "metal", feature = "bindgen"))]
    include!(concat!(env!("OUT_DIR"), "/bindings_metal.rs"));

    #[cfg(all(feature = "rpc", not(feature = "bindgen")))]
    include!("bindings/bindings_rpc.rs");
    #[cfg(all(feature = "rpc", feature = "bindgen"))]
    include!(concat!(env!("OUT_DIR"), "/bindings_rpc.rs"));
}

pub use ffi::*;

/// Which build path produced the linked ggml: `"cc"` or `"cmake"`.
pub const BUILD_PATH: &str = env!("GGML_SYS_BUILD_PATH");

/// The ggml version string compiled into the library (e.g. `"0.25.3"`).
pub fn version() -> String {
    // SAFETY: ggml_version returns a pointer to a static NUL-terminated string.
    unsafe { cstr_to_string(ggml_version()) }
}

/// The upstream commit compiled into the library.
pub fn commit() -> String {
    // SAFETY: ggml_commit returns a pointer to a static NUL-terminated string.
    unsafe { cstr_to_string(ggml_commit()) }
}

/// # Safety
/// `p` must be null or point to a NUL-terminated string valid for the call.
unsafe fn cstr_to_string(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}
