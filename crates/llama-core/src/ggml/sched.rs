//! The ggml backend scheduler: splits graphs across backends and allocates their intermediates.

use super::backend::Backend;
use super::context::Graph;
use crate::error::{Error, Result};
use ggml_sys as sys;
use std::ptr::NonNull;
use std::sync::Arc;

/// Called for every graph node when op timing is on: `(node, ask)`; see ggml-backend.h.
#[allow(dead_code)] // used by the opt-in ggml op timing
pub type EvalCallback = sys::ggml_backend_sched_eval_callback;

/// A scheduler over one or more backends (the last one must be the CPU).
#[derive(Debug)]
pub struct Sched {
    raw: NonNull<sys::ggml_backend_sched>,
    // Kept alive for as long as the scheduler refers to them.
    _backends: Vec<Arc<Backend>>,
}

// SAFETY: the scheduler is driven by the one thread owning the inference context.
unsafe impl Send for Sched {}

impl Sched {
    pub fn new(backends: Vec<Arc<Backend>>, graph_nodes: usize) -> Result<Self> {
        let mut raw_backends: Vec<_> = backends.iter().map(|b| b.ptr()).collect();
        let mut bufts: Vec<_> = backends.iter().map(|b| b.buffer_type()).collect();
        let n = i32::try_from(raw_backends.len()).map_err(|_| Error::Ggml("too many backends".into()))?;
        // SAFETY: both arrays hold n valid entries that outlive the call; the backends outlive
        // the scheduler (kept in `_backends`).
        let raw = unsafe {
            sys::ggml_backend_sched_new(
                raw_backends.as_mut_ptr(),
                bufts.as_mut_ptr(),
                n,
                graph_nodes,
                false,
                true,
            )
        };
        NonNull::new(raw)
            .map(|raw| Sched { raw, _backends: backends })
            .ok_or_else(|| Error::Ggml("failed to create the backend scheduler".into()))
    }

    /// Sizes the compute buffers for a worst-case graph, so later graphs allocate nothing new.
    pub fn reserve(&mut self, graph: Graph) -> Result<()> {
        // SAFETY: valid scheduler and graph.
        if unsafe { sys::ggml_backend_sched_reserve(self.raw.as_ptr(), graph.ptr()) } {
            Ok(())
        } else {
            Err(Error::Ggml("failed to reserve compute buffers".into()))
        }
    }

    /// Assigns backends and storage to every node of `graph`.
    pub fn alloc_graph(&mut self, graph: Graph) -> Result<()> {
        // SAFETY: valid scheduler and graph; the graph's context outlives its computation.
        if unsafe { sys::ggml_backend_sched_alloc_graph(self.raw.as_ptr(), graph.ptr()) } {
            Ok(())
        } else {
            Err(Error::Ggml("failed to allocate the compute graph".into()))
        }
    }

    /// Runs an allocated graph to completion.
    pub fn compute(&mut self, graph: Graph) -> Result<()> {
        // SAFETY: the graph was allocated by this scheduler and its inputs were written.
        let status = unsafe { sys::ggml_backend_sched_graph_compute(self.raw.as_ptr(), graph.ptr()) };
        if status == sys::GGML_STATUS_SUCCESS {
            Ok(())
        } else {
            Err(Error::Ggml(format!("graph compute failed ({status})")))
        }
    }

    /// Forgets the current allocation (before building a differently shaped graph).
    pub fn reset(&mut self) {
        // SAFETY: valid scheduler.
        unsafe { sys::ggml_backend_sched_reset(self.raw.as_ptr()) }
    }

    #[allow(dead_code)]
    pub fn n_splits(&self) -> usize {
        // SAFETY: valid scheduler.
        usize::try_from(unsafe { sys::ggml_backend_sched_get_n_splits(self.raw.as_ptr()) }).unwrap_or(0)
    }

    /// Bytes of compute buffer reserved on backend `i`.
    pub fn buffer_size(&self, i: usize) -> usize {
        self._backends.get(i).map_or(0, |b| {
            // SAFETY: the backend belongs to this scheduler.
            unsafe { sys::ggml_backend_sched_get_buffer_size(self.raw.as_ptr(), b.ptr()) }
        })
    }

    /// Installs (or removes) a per-node callback, used for op timing.
    ///
    /// The callback receives `user_data` unchanged; the caller keeps what it points to alive until
    /// the callback is removed.
    #[allow(dead_code)]
    pub fn set_eval_callback(&mut self, cb: EvalCallback, user_data: *mut std::ffi::c_void) {
        // SAFETY: valid scheduler; lifetime of user_data is the caller's contract (documented).
        unsafe { sys::ggml_backend_sched_set_eval_callback(self.raw.as_ptr(), cb, user_data) }
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        // SAFETY: freed exactly once, before the backends it refers to.
        unsafe { sys::ggml_backend_sched_free(self.raw.as_ptr()) }
    }
}
