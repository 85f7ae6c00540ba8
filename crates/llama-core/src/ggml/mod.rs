//! The one safe wrapper over ggml: contexts, tensors and graph ops, backends, buffers, scheduler.
//!
//! All of llama-core's `unsafe` lives under this module. Handles own their C objects (`Drop`);
//! a [`Tensor`] is a plain handle that borrows the [`Context`] that made it (`Tensor<'ctx>`), so
//! the compiler rejects a use after the context is freed. Tensors that live longer than one
//! function (weights, the KV cache, a cached graph) are kept as [`TensorId`]s by the
//! [`TensorArena`] that owns their context and buffers, and lent back borrowed from it.

mod abort;
mod arena;
mod backend;
mod context;
mod devices;
mod log;
mod memory;
mod mmap;
mod ops;
pub use ops::RopeParams;
mod repack;
mod sched;

pub use abort::{explain as explain_fatal, on_fatal, FatalHook};
pub use arena::{SealedArena, TensorArena, TensorId};
pub use backend::{Backend, BackendKind, Buffer, HostBytes};
pub use context::{Context, Graph, Tensor};
#[cfg(feature = "rpc")]
pub use devices::{add_rpc_server, serve_rpc};
pub use devices::{devices, list_devices_text, offload_devices, Device, DeviceInfo};
pub use memory::{devices as device_memory, DeviceMemory};
pub use mmap::{map_readonly, release_pages};
pub use repack::{cpu_extra_buffer_types, BufferType};
pub use sched::{OpSample, Sched};

pub use ggml_sys::ggml_type as RawType;

/// ggml type ids used by the engine.
pub mod types {
    pub use ggml_sys::{GGML_TYPE_F16 as F16, GGML_TYPE_I32 as I32, GGML_TYPE_I64 as I64};
    // Types a KV cache may be stored in (llama.cpp's `-ctk/-ctv` list).
    pub use ggml_sys::{
        GGML_TYPE_BF16 as BF16, GGML_TYPE_F32 as F32, GGML_TYPE_IQ4_NL as IQ4_NL,
        GGML_TYPE_Q4_0 as Q4_0, GGML_TYPE_Q4_1 as Q4_1, GGML_TYPE_Q5_0 as Q5_0,
        GGML_TYPE_Q5_1 as Q5_1, GGML_TYPE_Q8_0 as Q8_0,
    };
}

/// Elements per block of type `ty` (1 for plain float types).
pub fn blck_size(ty: RawType) -> i64 {
    // SAFETY: pure table lookup; callers pass ids of types ggml knows.
    unsafe { ggml_sys::ggml_blck_size(ty) }
}

/// Whether `ty` is a block-quantized type.
pub fn is_quantized(ty: RawType) -> bool {
    // SAFETY: pure table lookup; callers pass ids of types ggml knows.
    unsafe { ggml_sys::ggml_is_quantized(ty) }
}

/// Bytes taken by `n` elements of type `ty` in a row (block-quantized types count whole blocks).
pub fn row_size(ty: RawType, n: i64) -> usize {
    // SAFETY: pure function of its arguments.
    unsafe { ggml_sys::ggml_row_size(ty, n) }
}

/// The ggml name of a type ("q4_1", "f32", ...).
pub fn type_name(ty: RawType) -> String {
    // SAFETY: returns a static string (or "NONE") for any id.
    unsafe { cstr(ggml_sys::ggml_type_name(ty)) }
}

/// Whether ggml knows this type (it has a type-traits entry with a block and type size).
pub fn type_is_supported(ty: RawType) -> bool {
    if ty >= ggml_sys::GGML_TYPE_COUNT {
        return false;
    }
    // SAFETY: ty is below GGML_TYPE_COUNT, so the static traits table has an entry for it.
    unsafe {
        let traits = ggml_sys::ggml_get_type_traits(ty);
        !traits.is_null() && (*traits).blck_size > 0 && (*traits).type_size > 0
    }
}

/// # Safety
/// `p` must be null or a NUL-terminated string valid for the call.
unsafe fn cstr(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}
