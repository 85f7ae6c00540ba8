//! The CPU backend's extra weight buffer types ("CPU_REPACK"): weights copied into them are
//! re-laid out for the SIMD matmul kernels of this CPU (e.g. Q4_K as 8×8 interleaved blocks on
//! AVX2/AVX-512), as llama.cpp does by default. Both the speed of prompt processing and the exact
//! logits (the repacked kernels sum in another order) follow from using them where llama.cpp does.

use super::backend::Buffer;
use super::context::{Context, Tensor};
use crate::error::{Error, Result};
use ggml_sys as sys;
use std::ffi::CStr;
use std::ptr::NonNull;

/// A ggml buffer type (a static object owned by its backend registry).
#[derive(Debug, Clone, Copy)]
pub struct BufferType(NonNull<sys::ggml_backend_buffer_type>);

// SAFETY: buffer types are immutable, process-lifetime descriptors.
unsafe impl Send for BufferType {}
// SAFETY: as above.
unsafe impl Sync for BufferType {}

/// The CPU device's extra buffer types, in llama.cpp's order of preference.
pub fn cpu_extra_buffer_types() -> Vec<BufferType> {
    // SAFETY: the CPU device is always registered; the proc address, if present, has the
    // documented `ggml_backend_dev_get_extra_bufts_t` signature and returns a null-terminated
    // array of static buffer types.
    unsafe {
        let dev = sys::ggml_backend_dev_by_type(sys::GGML_BACKEND_DEVICE_TYPE_CPU);
        if dev.is_null() {
            return Vec::new();
        }
        let reg = sys::ggml_backend_dev_backend_reg(dev);
        let name = c"ggml_backend_dev_get_extra_bufts";
        let f = sys::ggml_backend_reg_get_proc_address(reg, name.as_ptr());
        if f.is_null() {
            return Vec::new();
        }
        let f: unsafe extern "C" fn(
            sys::ggml_backend_dev_t,
        ) -> *mut sys::ggml_backend_buffer_type_t = std::mem::transmute(f);
        let mut out = Vec::new();
        let mut p = f(dev);
        while !p.is_null() && !(*p).is_null() {
            out.push(BufferType(NonNull::new_unchecked(*p)));
            p = p.add(1);
        }
        out
    }
}

impl BufferType {
    /// ggml's name of the buffer type ("CPU_REPACK", ...).
    pub fn name(&self) -> String {
        // SAFETY: buffer types return a static name.
        unsafe { CStr::from_ptr(sys::ggml_backend_buft_name(self.0.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    /// Whether the CPU device would run `w · x` with `w` stored in this buffer type, for a
    /// 512-row batch `x` (llama.cpp's `weight_buft_supported` for `GGML_OP_MUL_MAT`). `w` must not
    /// be allocated yet.
    pub fn supports_matmul_weight(&self, w: Tensor<'_>) -> Result<bool> {
        if w.is_allocated() {
            return Ok(false);
        }
        let ctx = Context::new(4, 0)?;
        let ne = w.ne();
        // SAFETY: `ctx` has room for two tensors; `w` is a valid, unallocated tensor of another
        // context, borrowed for the whole call, so it outlives `ctx` and the op made in it. Its `buffer` field is set to a zero-size buffer of
        // this type only while the device is asked, then reset and the buffer freed, exactly as
        // llama.cpp does.
        unsafe {
            let x =
                sys::ggml_new_tensor_4d(ctx.as_ptr(), sys::GGML_TYPE_F32, ne[0], 512, ne[2], ne[3]);
            let op = sys::ggml_mul_mat(ctx.as_ptr(), w.ptr(), x);
            let dummy = sys::ggml_backend_buft_alloc_buffer(self.0.as_ptr(), 0);
            if dummy.is_null() {
                return Err(Error::Ggml(format!(
                    "{}: cannot create a buffer",
                    self.name()
                )));
            }
            (*w.ptr()).buffer = dummy;
            let dev = sys::ggml_backend_dev_by_type(sys::GGML_BACKEND_DEVICE_TYPE_CPU);
            let ok = sys::ggml_backend_dev_supports_op(dev, op);
            (*w.ptr()).buffer = std::ptr::null_mut();
            sys::ggml_backend_buffer_free(dummy);
            Ok(ok)
        }
    }

    /// Allocates storage of this type for every tensor of `ctx` that has none yet (for a
    /// [`TensorArena`](super::TensorArena), which keeps the buffer as long as the context).
    pub(super) fn alloc_ctx_tensors(&self, ctx: &Context) -> Result<Buffer> {
        // SAFETY: ctx is a valid no_alloc context; null means nothing to allocate or OOM.
        let raw =
            unsafe { sys::ggml_backend_alloc_ctx_tensors_from_buft(ctx.as_ptr(), self.0.as_ptr()) };
        NonNull::new(raw)
            .map(Buffer::from_raw)
            .ok_or_else(|| Error::Ggml(format!("failed to allocate tensors in {}", self.name())))
    }
}
