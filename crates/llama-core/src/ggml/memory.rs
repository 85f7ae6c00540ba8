//! Reading where ggml's memory is: the buffer type behind a buffer or a backend (the names
//! llama.cpp logs, "CPU", "CPU_Mapped", "CPU_REPACK", "CUDA0"), and each device's free and total
//! memory as its backend reports it.

use super::backend::{Backend, Buffer};
use ggml_sys as sys;

/// One ggml device and its memory (`ggml_backend_dev_memory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMemory {
    /// ggml's device name ("CPU", "CUDA0").
    pub name: String,
    /// The device's description (CPU model, GPU name).
    pub description: String,
    /// Whether this is a GPU (or integrated GPU) rather than the CPU or an accelerator.
    pub gpu: bool,
    /// Bytes free. The CPU backend reports the whole physical memory as free.
    pub free: u64,
    /// Bytes in total (physical memory for the CPU).
    pub total: u64,
}

/// Every registered ggml device with its free and total memory, asked now.
pub fn devices() -> Vec<DeviceMemory> {
    super::log::install();
    // SAFETY: the registry is initialised on first use and devices are process-lifetime.
    let n = unsafe { sys::ggml_backend_dev_count() };
    (0..n)
        .filter_map(|i| {
            // SAFETY: i < count; a null device is skipped.
            let dev = unsafe { sys::ggml_backend_dev_get(i) };
            if dev.is_null() {
                return None;
            }
            let (mut free, mut total) = (0usize, 0usize);
            // SAFETY: valid device; both out-pointers are live locals. Names are static strings.
            let (name, description, ty) = unsafe {
                sys::ggml_backend_dev_memory(dev, &mut free, &mut total);
                (
                    super::cstr(sys::ggml_backend_dev_name(dev)),
                    super::cstr(sys::ggml_backend_dev_description(dev)),
                    sys::ggml_backend_dev_type(dev),
                )
            };
            Some(DeviceMemory {
                name,
                description,
                gpu: ty == sys::GGML_BACKEND_DEVICE_TYPE_GPU
                    || ty == sys::GGML_BACKEND_DEVICE_TYPE_IGPU,
                free: free as u64,
                total: total as u64,
            })
        })
        .collect()
}

impl Buffer {
    /// The name of this buffer's type ("CPU", "CPU_Mapped", "CPU_REPACK", "CUDA0").
    pub fn type_name(&self) -> String {
        // SAFETY: valid buffer; buffer types return static names.
        unsafe { super::cstr(sys::ggml_backend_buffer_name(self.as_ptr())) }
    }
}

impl Backend {
    /// The name of the buffer type this backend allocates compute buffers in.
    pub fn buffer_type_name(&self) -> String {
        // SAFETY: valid buffer type of a live backend; the name is static.
        unsafe { super::cstr(sys::ggml_backend_buft_name(self.buffer_type())) }
    }
}

impl super::Tensor<'_> {
    /// The buffer type name of the buffer holding this tensor (None: not allocated).
    pub fn buffer_type_name(&self) -> Option<String> {
        // SAFETY: a live tensor; its buffer, when set, is a live buffer with a static type name.
        unsafe {
            let buf = (*self.ptr()).buffer;
            (!buf.is_null()).then(|| super::cstr(sys::ggml_backend_buffer_name(buf)))
        }
    }
}
