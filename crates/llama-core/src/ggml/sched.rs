//! The ggml backend scheduler: splits graphs across backends and allocates their intermediates.

use super::backend::Backend;
use super::context::Graph;
use crate::error::{Error, Result};
use ggml_sys as sys;
use std::ptr::NonNull;
use std::sync::Arc;

use std::time::Instant;

/// One computed graph node: ggml op name, backend name, seconds since the previous node ended.
#[derive(Debug, Clone)]
pub struct OpSample {
    pub op: &'static str,
    pub backend: &'static str,
    pub seconds: f64,
}

/// Per-node timing state, owned by the scheduler and handed to ggml as callback user data.
#[derive(Debug, Default)]
struct OpTimer {
    last: Option<Instant>,
    sched: Option<NonNull<sys::ggml_backend_sched>>,
    samples: Vec<OpSample>,
}

/// ggml's eval callback: asks to observe every node, then times the gap since the last one.
/// Observing each node makes the scheduler run nodes one at a time: this is why timing is opt-in.
unsafe extern "C" fn time_node(
    t: *mut sys::ggml_tensor,
    ask: bool,
    user_data: *mut std::ffi::c_void,
) -> bool {
    if ask {
        return true;
    }
    // SAFETY: user_data is the OpTimer boxed inside the Sched that installed this callback; it
    // lives until the callback is removed, and ggml calls back on the computing thread only.
    let timer = unsafe { &mut *user_data.cast::<OpTimer>() };
    let now = Instant::now();
    let seconds = timer.last.map_or(0.0, |l| (now - l).as_secs_f64());
    timer.last = Some(now);
    // SAFETY: t is a live node of the graph being computed; ggml_op_desc returns a static string,
    // and the backend returned by the scheduler for its node has a static name.
    let (op, backend) = unsafe {
        let op = static_str(sys::ggml_op_desc(t));
        let backend = match timer.sched {
            Some(s) => {
                let b = sys::ggml_backend_sched_get_tensor_backend(s.as_ptr(), t);
                if b.is_null() {
                    "unknown"
                } else {
                    static_str(sys::ggml_backend_name(b))
                }
            }
            None => "unknown",
        };
        (op, backend)
    };
    timer.samples.push(OpSample {
        op,
        backend,
        seconds,
    });
    true
}

/// # Safety
/// `p` must be null or a NUL-terminated string with static lifetime (ggml's op and backend names).
unsafe fn static_str(p: *const std::os::raw::c_char) -> &'static str {
    if p.is_null() {
        return "unknown";
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_str()
        .unwrap_or("unknown")
}

/// A scheduler over one or more backends (the last one must be the CPU).
#[derive(Debug)]
pub struct Sched {
    raw: NonNull<sys::ggml_backend_sched>,
    /// Present while op timing is on; boxed so its address stays fixed for the callback.
    timer: Option<Box<OpTimer>>,
    // Kept alive for as long as the scheduler refers to them.
    _backends: Vec<Arc<Backend>>,
}

// SAFETY: the scheduler is driven by the one thread owning the inference context.
unsafe impl Send for Sched {}

impl Sched {
    /// A scheduler over `backends` for graphs of up to `graph_nodes` nodes.
    pub fn new(backends: Vec<Arc<Backend>>, graph_nodes: usize) -> Result<Self> {
        let mut raw_backends: Vec<_> = backends.iter().map(|b| b.ptr()).collect();
        let mut bufts: Vec<_> = backends.iter().map(|b| b.buffer_type()).collect();
        let n = i32::try_from(raw_backends.len())
            .map_err(|_| Error::Ggml("too many backends".into()))?;
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
            .map(|raw| Sched {
                raw,
                timer: None,
                _backends: backends,
            })
            .ok_or_else(|| Error::Ggml("failed to create the backend scheduler".into()))
    }

    /// Sizes the compute buffers for a worst-case graph, so later graphs allocate nothing new.
    pub fn reserve(&mut self, graph: Graph<'_>) -> Result<()> {
        // SAFETY: valid scheduler; the graph borrows its context for this call.
        if unsafe { sys::ggml_backend_sched_reserve(self.raw.as_ptr(), graph.ptr()) } {
            Ok(())
        } else {
            Err(Error::Ggml("failed to reserve compute buffers".into()))
        }
    }

    /// Assigns backends and storage to every node of `graph`.
    pub fn alloc_graph(&mut self, graph: Graph<'_>) -> Result<()> {
        // SAFETY: valid scheduler; the graph borrows its context for this call.
        if unsafe { sys::ggml_backend_sched_alloc_graph(self.raw.as_ptr(), graph.ptr()) } {
            Ok(())
        } else {
            Err(Error::Ggml("failed to allocate the compute graph".into()))
        }
    }

    /// Runs an allocated graph to completion.
    pub fn compute(&mut self, graph: Graph<'_>) -> Result<()> {
        if let Some(timer) = self.timer.as_mut() {
            timer.last = Some(Instant::now());
        }
        // SAFETY: the graph borrows its context for this call, and was allocated by this
        // scheduler (which owns the storage of its nodes) with its inputs written.
        let status =
            unsafe { sys::ggml_backend_sched_graph_compute(self.raw.as_ptr(), graph.ptr()) };
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

    /// Bytes of compute buffer reserved on backend `i`.
    pub fn buffer_size(&self, i: usize) -> usize {
        self._backends.get(i).map_or(0, |b| {
            // SAFETY: the backend belongs to this scheduler.
            unsafe { sys::ggml_backend_sched_get_buffer_size(self.raw.as_ptr(), b.ptr()) }
        })
    }

    /// Turns per-node timing on or off (see [`Sched::take_op_samples`]).
    pub fn set_op_timing(&mut self, on: bool) {
        if on == self.timer.is_some() {
            return;
        }
        if on {
            let mut timer = Box::new(OpTimer {
                sched: Some(self.raw),
                ..OpTimer::default()
            });
            let ud: *mut OpTimer = &mut *timer;
            // SAFETY: the timer is boxed in self and outlives the callback, which is removed
            // before the box is dropped (here, or in Drop when the scheduler is freed).
            unsafe {
                sys::ggml_backend_sched_set_eval_callback(
                    self.raw.as_ptr(),
                    Some(time_node),
                    ud.cast(),
                )
            };
            self.timer = Some(timer);
        } else {
            // SAFETY: removes the callback before the timer it points to is dropped.
            unsafe {
                sys::ggml_backend_sched_set_eval_callback(
                    self.raw.as_ptr(),
                    None,
                    std::ptr::null_mut(),
                )
            };
            self.timer = None;
        }
    }

    /// Moves out the node timings recorded since the last call.
    pub fn take_op_samples(&mut self, out: &mut Vec<OpSample>) {
        if let Some(timer) = self.timer.as_mut() {
            out.append(&mut timer.samples);
        }
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        // SAFETY: freed exactly once, before the backends it refers to.
        unsafe { sys::ggml_backend_sched_free(self.raw.as_ptr()) }
    }
}
