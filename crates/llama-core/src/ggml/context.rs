//! ggml contexts (tensor metadata arenas), tensor handles and compute graphs.

use crate::error::{Error, Result};
use ggml_sys as sys;
use std::ffi::CString;
use std::marker::PhantomData;
use std::ptr::NonNull;

/// A ggml context in `no_alloc` mode: it holds tensor and graph metadata only; tensor data lives
/// in backend buffers (or is placed by the scheduler).
#[derive(Debug)]
pub struct Context {
    raw: NonNull<sys::ggml_context>,
}

// SAFETY: a ggml context is a plain arena without thread affinity; the engine mutates it from
// one thread at a time (it is owned, and mutation needs `&self` only inside one decode call).
unsafe impl Send for Context {}

impl Context {
    /// A metadata arena with room for `n_tensors` tensors and one graph of `graph_nodes` nodes.
    pub fn new(n_tensors: usize, graph_nodes: usize) -> Result<Self> {
        // SAFETY: pure size computations.
        let mem = unsafe {
            sys::ggml_tensor_overhead() * n_tensors
                + if graph_nodes > 0 {
                    sys::ggml_graph_overhead_custom(graph_nodes, false)
                } else {
                    0
                }
        };
        let params = sys::ggml_init_params {
            mem_size: mem,
            mem_buffer: std::ptr::null_mut(),
            no_alloc: true,
        };
        // SAFETY: ggml_init allocates its own pool; null means failure.
        let raw = unsafe { sys::ggml_init(params) };
        NonNull::new(raw)
            .map(|raw| Context { raw })
            .ok_or_else(|| Error::Ggml(format!("ggml_init failed for {mem} bytes of metadata")))
    }

    pub(super) fn as_ptr(&self) -> *mut sys::ggml_context {
        self.raw.as_ptr()
    }

    /// Wraps a tensor just created in this context, borrowing the context for the handle's life.
    pub(super) fn wrap(&self, p: *mut sys::ggml_tensor) -> Tensor<'_> {
        // ggml aborts rather than returning null when the arena is full, so null cannot happen
        // with a correctly sized context; keep the check as a hard invariant.
        Tensor {
            raw: NonNull::new(p).expect("ggml returned a null tensor"),
            _ctx: PhantomData,
        }
    }

    /// A new graph with room for `nodes` nodes, in this context.
    pub fn new_graph(&self, nodes: usize) -> Graph<'_> {
        // SAFETY: the context was sized for a graph of this many nodes by the caller.
        let g = unsafe { sys::ggml_new_graph_custom(self.as_ptr(), nodes, false) };
        Graph {
            raw: NonNull::new(g).expect("ggml returned a null graph"),
            _ctx: PhantomData,
        }
    }

    /// Whether `t` is a tensor of this context: ggml allocates a context's tensors inside its
    /// memory pool, so a live tensor lies in that address range exactly when it is one of them.
    pub(super) fn owns(&self, t: Tensor<'_>) -> bool {
        // SAFETY: reads the bounds of this (live) context's own pool.
        let (base, size) = unsafe {
            (
                sys::ggml_get_mem_buffer(self.as_ptr()) as usize,
                sys::ggml_get_mem_size(self.as_ptr()),
            )
        };
        let p = t.ptr() as usize;
        p >= base && p - base < size
    }

    /// Iterates over the tensors created in this context, in creation order.
    pub fn tensors(&self) -> impl Iterator<Item = Tensor<'_>> + '_ {
        // SAFETY: first/next walk the context's own object list.
        let mut cur = unsafe { sys::ggml_get_first_tensor(self.as_ptr()) };
        std::iter::from_fn(move || {
            let t = NonNull::new(cur)?;
            // SAFETY: `t` belongs to this context.
            cur = unsafe { sys::ggml_get_next_tensor(self.as_ptr(), t.as_ptr()) };
            Some(self.wrap(t.as_ptr()))
        })
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: the context came from ggml_init and is freed exactly once.
        unsafe { sys::ggml_free(self.raw.as_ptr()) }
    }
}

/// A handle to a tensor of a [`Context`], borrowed from that context (`'ctx`) — or from the
/// [`TensorArena`](super::TensorArena) that owns it — so the compiler rejects any use of it
/// after the context is freed. Handles are plain copies; an op's result takes the shortest
/// lifetime of its context and operands, since a node points at its sources.
///
/// The normal path — tensors and nodes used while their context lives — compiles:
///
/// ```
/// use llama_core::ggml::{types, Context};
/// let ctx = Context::new(2, 0).unwrap();
/// let t = ctx.new_tensor(types::F16, &[8, 2]);
/// let sum = ctx.add(t, t);
/// assert_eq!(sum.ne(), [8, 2, 1, 1]);
/// ```
///
/// A handle cannot be used once its context is dropped:
///
/// ```compile_fail,E0505
/// use llama_core::ggml::{types, Context};
/// let ctx = Context::new(1, 0).unwrap();
/// let t = ctx.new_tensor(types::F16, &[8]);
/// drop(ctx); // cannot move out of `ctx` because it is borrowed
/// assert_eq!(t.ne()[0], 8);
/// ```
///
/// nor leave the scope of its context:
///
/// ```compile_fail,E0597
/// use llama_core::ggml::{types, Context};
/// let t = {
///     let ctx = Context::new(1, 0).unwrap();
///     ctx.new_tensor(types::F16, &[8]) // `ctx` does not live long enough
/// };
/// assert_eq!(t.ne()[0], 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tensor<'ctx> {
    raw: NonNull<sys::ggml_tensor>,
    _ctx: PhantomData<&'ctx Context>,
}

impl<'ctx> Tensor<'ctx> {
    pub(super) fn ptr(self) -> *mut sys::ggml_tensor {
        self.raw.as_ptr()
    }

    pub(super) fn raw(self) -> NonNull<sys::ggml_tensor> {
        self.raw
    }

    /// # Safety
    /// `raw` must be a tensor of a context that outlives `'ctx`.
    pub(super) unsafe fn from_raw(raw: NonNull<sys::ggml_tensor>) -> Self {
        Tensor {
            raw,
            _ctx: PhantomData,
        }
    }

    fn meta(&self) -> &sys::ggml_tensor {
        // SAFETY: the handle borrows its context for 'ctx, so the tensor's metadata (which lives
        // in that context) is valid for as long as the handle exists.
        unsafe { self.raw.as_ref() }
    }

    /// Dimensions, innermost first: `[ne0, ne1, ne2, ne3]`.
    pub fn ne(&self) -> [i64; 4] {
        self.meta().ne
    }

    /// Strides in bytes.
    pub fn nb(&self) -> [usize; 4] {
        self.meta().nb
    }

    /// The element type.
    pub fn ty(&self) -> sys::ggml_type {
        self.meta().type_
    }

    /// The number of elements.
    pub fn nelements(&self) -> i64 {
        self.ne().iter().product()
    }

    /// Bytes of storage the tensor needs.
    pub fn nbytes(&self) -> usize {
        // SAFETY: reads the tensor's own metadata.
        unsafe { sys::ggml_nbytes(self.ptr()) }
    }

    /// Whether the tensor has storage (a buffer or data pointer) yet.
    pub fn is_allocated(&self) -> bool {
        !self.meta().buffer.is_null() || !self.meta().data.is_null()
    }

    /// The tensor's name (ggml keeps up to 63 bytes).
    pub fn name(&self) -> String {
        let bytes: Vec<u8> = self
            .meta()
            .name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Names the tensor (ggml truncates to 63 bytes; NULs are dropped).
    pub fn set_name(self, name: &str) -> Self {
        let c = CString::new(name.replace('\0', "")).unwrap_or_default();
        // SAFETY: ggml copies (and truncates) the name into the tensor.
        unsafe { sys::ggml_set_name(self.ptr(), c.as_ptr()) };
        self
    }

    /// Marks a graph input: the scheduler gives it its own storage, to be filled before compute.
    pub fn set_input(self) -> Self {
        // SAFETY: sets a flag on a valid tensor.
        unsafe { sys::ggml_set_input(self.ptr()) };
        self
    }

    /// Marks a graph output: its storage is not reused by later nodes.
    pub fn set_output(self) -> Self {
        // SAFETY: sets a flag on a valid tensor.
        unsafe { sys::ggml_set_output(self.ptr()) };
        self
    }

    /// Copies `data` into the tensor's storage at byte `offset` (any backend).
    pub fn write<T: Copy>(&self, data: &[T], offset: usize) -> Result<()> {
        let bytes = std::mem::size_of_val(data);
        self.check_io(offset, bytes)?;
        // SAFETY: the tensor is allocated and [offset, offset+bytes) lies inside it (checked).
        unsafe { sys::ggml_backend_tensor_set(self.ptr(), data.as_ptr().cast(), offset, bytes) };
        Ok(())
    }

    /// Copies bytes out of the tensor's storage at byte `offset` into `out` (any backend).
    pub fn read<T: Copy>(&self, out: &mut [T], offset: usize) -> Result<()> {
        let bytes = std::mem::size_of_val(out);
        self.check_io(offset, bytes)?;
        // SAFETY: as in `write`; `out` has room for `bytes` bytes, and T is plain data.
        unsafe { sys::ggml_backend_tensor_get(self.ptr(), out.as_mut_ptr().cast(), offset, bytes) };
        Ok(())
    }

    fn check_io(&self, offset: usize, bytes: usize) -> Result<()> {
        if !self.is_allocated() || self.meta().buffer.is_null() {
            return Err(Error::Ggml(format!(
                "tensor '{}' has no backend storage",
                self.name()
            )));
        }
        match offset.checked_add(bytes) {
            Some(end) if end <= self.nbytes() => Ok(()),
            _ => Err(Error::Ggml(format!(
                "tensor '{}': access of {bytes} bytes at {offset} exceeds its {} bytes",
                self.name(),
                self.nbytes()
            ))),
        }
    }
}

/// A compute graph living in a [`Context`], borrowed from it as a [`Tensor`] is.
#[derive(Debug, Clone, Copy)]
pub struct Graph<'ctx> {
    raw: NonNull<sys::ggml_cgraph>,
    _ctx: PhantomData<&'ctx Context>,
}

impl<'ctx> Graph<'ctx> {
    pub(super) fn ptr(self) -> *mut sys::ggml_cgraph {
        self.raw.as_ptr()
    }

    /// # Safety
    /// `raw` must be a graph of a context that outlives `'ctx`.
    pub(super) unsafe fn from_raw(raw: NonNull<sys::ggml_cgraph>) -> Self {
        Graph {
            raw,
            _ctx: PhantomData,
        }
    }

    /// Adds `t` and everything it depends on to the graph.
    pub fn expand(self, t: Tensor<'ctx>) {
        // SAFETY: both handles borrow live contexts ('ctx); the graph was sized for the model's
        // node count.
        unsafe { sys::ggml_build_forward_expand(self.ptr(), t.ptr()) }
    }

    /// The number of nodes added so far.
    pub fn n_nodes(self) -> usize {
        // SAFETY: reads the graph's node count.
        usize::try_from(unsafe { sys::ggml_graph_n_nodes(self.ptr()) }).unwrap_or(0)
    }
}
