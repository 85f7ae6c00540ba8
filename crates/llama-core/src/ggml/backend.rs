//! ggml backends (CPU, and a GPU with the `cuda` / `metal` features) and their buffers.

use super::context::{Context, Tensor};
use crate::error::{Error, Result};
use ggml_sys as sys;
use std::ptr::NonNull;
use std::sync::Arc;

/// Which kind of device a backend computes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Cpu,
    Gpu,
}

/// An initialised ggml backend.
#[derive(Debug)]
pub struct Backend {
    raw: NonNull<sys::ggml_backend>,
    kind: BackendKind,
}

// SAFETY: ggml backends may be used from any thread, one call at a time; the engine drives each
// backend from the single thread that owns its context.
unsafe impl Send for Backend {}
// SAFETY: shared references only read the backend's name and buffer type.
unsafe impl Sync for Backend {}

impl Backend {
    /// The CPU backend.
    pub fn cpu() -> Result<Self> {
        super::log::install();
        // SAFETY: plain constructor; null means failure.
        let raw = unsafe { sys::ggml_backend_cpu_init() };
        NonNull::new(raw)
            .map(|raw| Backend {
                raw,
                kind: BackendKind::Cpu,
            })
            .ok_or_else(|| Error::Ggml("failed to initialise the CPU backend".into()))
    }

    /// The first GPU backend compiled in and present on this machine, if any.
    pub fn gpu() -> Option<Self> {
        super::log::install();
        // SAFETY: returns null when no GPU device is registered.
        let raw = unsafe {
            sys::ggml_backend_init_by_type(sys::GGML_BACKEND_DEVICE_TYPE_GPU, std::ptr::null())
        };
        NonNull::new(raw).map(|raw| Backend {
            raw,
            kind: BackendKind::Gpu,
        })
    }

    /// Wraps a backend ggml initialised (None for null).
    pub(super) fn from_raw(raw: *mut sys::ggml_backend, kind: BackendKind) -> Option<Self> {
        NonNull::new(raw).map(|raw| Backend { raw, kind })
    }

    /// The kind of device it computes on.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    pub(super) fn ptr(&self) -> *mut sys::ggml_backend {
        self.raw.as_ptr()
    }

    /// ggml's name of the backend ("CPU", "CUDA0", ...).
    pub fn name(&self) -> String {
        // SAFETY: the backend returns a static name.
        unsafe { super::cstr(sys::ggml_backend_name(self.ptr())) }
    }

    /// Sets the CPU thread count (no-op for other backends).
    pub fn set_n_threads(&self, n: usize) {
        if self.kind == BackendKind::Cpu {
            let n = i32::try_from(n.max(1)).unwrap_or(i32::MAX);
            // SAFETY: this is a CPU backend.
            unsafe { sys::ggml_backend_cpu_set_n_threads(self.ptr(), n) }
        }
    }

    pub(super) fn buffer_type(&self) -> sys::ggml_backend_buffer_type_t {
        // SAFETY: valid backend.
        unsafe { sys::ggml_backend_get_default_buffer_type(self.ptr()) }
    }

    /// Allocates storage on this backend for every tensor of `ctx` that has none yet (for a
    /// [`TensorArena`](super::TensorArena), which keeps the buffer as long as the context).
    pub(super) fn alloc_ctx_tensors(&self, ctx: &Context) -> Result<Buffer> {
        // SAFETY: ctx is a valid no_alloc context; null means nothing to allocate or OOM.
        let raw = unsafe { sys::ggml_backend_alloc_ctx_tensors(ctx.as_ptr(), self.ptr()) };
        NonNull::new(raw)
            .map(|raw| Buffer { raw, _owner: None })
            .ok_or_else(|| Error::Ggml(format!("failed to allocate tensors on {}", self.name())))
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        // SAFETY: freed exactly once; everything that uses it (scheduler, buffers) is dropped first
        // by its owners.
        unsafe { sys::ggml_backend_free(self.raw.as_ptr()) }
    }
}

/// Bytes that a host buffer can wrap without copying (a memory-mapped model file).
pub trait HostBytes: Send + Sync {
    fn host_bytes(&self) -> &[u8];
}

/// A backend buffer: either allocated by ggml or wrapping host memory it keeps alive.
pub struct Buffer {
    raw: NonNull<sys::ggml_backend_buffer>,
    _owner: Option<Arc<dyn HostBytes>>,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer")
            .field("size", &self.size())
            .finish()
    }
}

// SAFETY: backend buffers are plain memory regions; access is coordinated by their owners.
unsafe impl Send for Buffer {}
// SAFETY: shared references only read the buffer's size and base.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Takes ownership of a buffer ggml allocated.
    pub(super) fn from_raw(raw: NonNull<sys::ggml_backend_buffer>) -> Self {
        Buffer { raw, _owner: None }
    }

    /// Wraps host memory (e.g. an mmap) as a CPU buffer without copying; `owner` is kept alive as
    /// long as the buffer. ggml only ever reads weight tensors placed in it.
    pub(super) fn from_host(owner: Arc<dyn HostBytes>) -> Result<Self> {
        let bytes = owner.host_bytes();
        // SAFETY: the memory stays valid while `owner` lives, which the Buffer guarantees. The
        // mapping is read-only: weights placed here are never graph destinations.
        let raw =
            unsafe { sys::ggml_backend_cpu_buffer_from_ptr(bytes.as_ptr() as *mut _, bytes.len()) };
        let buffer = NonNull::new(raw)
            .ok_or_else(|| Error::Ggml("failed to wrap the model mapping as a buffer".into()))?;
        // SAFETY: valid buffer; marks it as weights so the scheduler treats it as such.
        unsafe {
            sys::ggml_backend_buffer_set_usage(
                buffer.as_ptr(),
                sys::GGML_BACKEND_BUFFER_USAGE_WEIGHTS,
            )
        };
        Ok(Buffer {
            raw: buffer,
            _owner: Some(owner),
        })
    }

    /// Bytes of the buffer.
    pub fn size(&self) -> usize {
        // SAFETY: valid buffer.
        unsafe { sys::ggml_backend_buffer_get_size(self.raw.as_ptr()) }
    }

    pub(super) fn as_ptr(&self) -> *mut sys::ggml_backend_buffer {
        self.raw.as_ptr()
    }

    /// Places tensor `t` at byte `offset` of this buffer (no copy); the arena owning both keeps
    /// the buffer as long as the tensor's context.
    pub(super) fn place(&self, t: Tensor<'_>, offset: usize) -> Result<()> {
        if t.is_allocated() {
            return Err(Error::Ggml(format!(
                "tensor '{}' is already placed",
                t.name()
            )));
        }
        match offset.checked_add(t.nbytes()) {
            Some(end) if end <= self.size() => {}
            _ => {
                return Err(Error::Ggml(format!(
                    "tensor '{}' ({} bytes at {offset}) does not fit a {}-byte buffer",
                    t.name(),
                    t.nbytes(),
                    self.size()
                )))
            }
        }
        // SAFETY: [offset, offset + nbytes) lies inside the buffer (checked above).
        let status = unsafe {
            let base = sys::ggml_backend_buffer_get_base(self.raw.as_ptr()).cast::<u8>();
            sys::ggml_backend_tensor_alloc(self.raw.as_ptr(), t.ptr(), base.add(offset).cast())
        };
        if status == sys::GGML_STATUS_SUCCESS {
            Ok(())
        } else {
            Err(Error::Ggml(format!(
                "placing tensor '{}' failed ({status})",
                t.name()
            )))
        }
    }

    /// Fills the whole buffer with `value`.
    pub fn clear(&self, value: u8) {
        // SAFETY: valid buffer.
        unsafe { sys::ggml_backend_buffer_clear(self.raw.as_ptr(), value) }
    }

    /// Marks the buffer as holding weights (the scheduler keeps ops next to their weights).
    pub fn set_weights_usage(&self) {
        // SAFETY: valid buffer.
        unsafe {
            sys::ggml_backend_buffer_set_usage(
                self.raw.as_ptr(),
                sys::GGML_BACKEND_BUFFER_USAGE_WEIGHTS,
            )
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: freed exactly once, before `_owner` (field order) releases the memory it wraps.
        unsafe { sys::ggml_backend_buffer_free(self.raw.as_ptr()) }
    }
}
