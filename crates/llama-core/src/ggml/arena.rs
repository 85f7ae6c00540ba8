//! Owners of ggml contexts for tensors that outlive one function: model weights, the KV cache and
//! a cached graph. An arena keeps its tensors as [`TensorId`]s and lends them back as [`Tensor`]s
//! borrowed from itself, so storing tensors next to their context needs no self-referential
//! struct: the borrow checker sees every handle in use tied to the arena that owns its context.

use super::backend::{Backend, Buffer, HostBytes};
use super::context::{Context, Graph, Tensor};
use super::repack::BufferType;
use crate::error::{Error, Result};
use ggml_sys as sys;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A tensor of a [`TensorArena`], stored without a lifetime. It grants nothing by itself: only
/// the arena that made it turns it back into a [`Tensor`] ([`TensorArena::get`]), which checks
/// that the id is its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TensorId {
    raw: NonNull<sys::ggml_tensor>,
    arena: u64,
}

// SAFETY: an id is inert data; its pointer is only followed by `TensorArena::get` of the arena
// that made it (the tags must match), which lends it out borrowed from that arena.
unsafe impl Send for TensorId {}
// SAFETY: as above: shared ids give no access to the tensor.
unsafe impl Sync for TensorId {}

/// Tags arenas so that an id is resolved only by the arena that made it.
static NEXT_TAG: AtomicU64 = AtomicU64::new(1);

/// One or more ggml contexts, the backend buffers holding their tensors' data and, for a
/// compute graph, the graph: all freed together, after every handle lent out has ended.
///
/// Tensors are kept as ids and lent back borrowed from the arena:
///
/// ```
/// use llama_core::ggml::{types, TensorArena};
/// let mut arena = TensorArena::new();
/// let c = arena.add_context(1).unwrap();
/// let id = arena.keep(arena.context(c).new_tensor(types::F16, &[8]));
/// assert_eq!(arena.get(id).ne()[0], 8);
/// ```
///
/// so a handle cannot outlive the arena:
///
/// ```compile_fail,E0505
/// use llama_core::ggml::{types, TensorArena};
/// let mut arena = TensorArena::new();
/// let c = arena.add_context(1).unwrap();
/// let id = arena.keep(arena.context(c).new_tensor(types::F16, &[8]));
/// let t = arena.get(id);
/// drop(arena); // cannot move out of `arena` because it is borrowed
/// assert_eq!(t.ne()[0], 8);
/// ```
#[derive(Debug)]
pub struct TensorArena {
    // Field order is drop order: data buffers, then the metadata they were allocated for.
    buffers: Vec<Buffer>,
    graph: Option<NonNull<sys::ggml_cgraph>>,
    contexts: Vec<Context>,
    tag: u64,
}

// SAFETY: contexts, buffers and the graph (which lives in the first context) are all owned here
// and moved together; none of them has thread affinity.
unsafe impl Send for TensorArena {}

impl TensorArena {
    /// An empty arena (see [`TensorArena::add_context`]).
    pub fn new() -> Self {
        TensorArena {
            buffers: Vec::new(),
            graph: None,
            contexts: Vec::new(),
            tag: NEXT_TAG.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Adds a metadata context with room for `n_tensors` tensors; returns its index.
    pub fn add_context(&mut self, n_tensors: usize) -> Result<usize> {
        self.contexts.push(Context::new(n_tensors, 0)?);
        Ok(self.contexts.len() - 1)
    }

    /// An arena of one context sized for a graph of `nodes` nodes, holding that (empty) graph.
    pub fn with_graph(nodes: usize) -> Result<Self> {
        let ctx = Context::new(nodes, nodes)?;
        let graph = ctx.new_graph(nodes).ptr();
        Ok(TensorArena {
            graph: NonNull::new(graph),
            contexts: vec![ctx],
            ..TensorArena::new()
        })
    }

    /// Context `i`, to create tensors in.
    pub fn context(&self, i: usize) -> &Context {
        &self.contexts[i]
    }

    /// The graph of an arena made by [`TensorArena::with_graph`].
    pub fn graph(&self) -> Graph<'_> {
        let g = self
            .graph
            .expect("only TensorArena::with_graph makes an arena with a graph");
        // SAFETY: the graph lives in this arena's first context, which outlives the borrow of
        // `self` the handle carries.
        unsafe { Graph::from_raw(g) }
    }

    /// Stores `t`, a tensor of one of this arena's contexts, as an id. A graph node kept this
    /// way still points at its sources in other contexts (weights, the KV cache): whoever caches
    /// a graph also owns those, as the engine's `Context` owns its KV cache and an `Arc` of the
    /// model next to its graph.
    pub fn keep(&self, t: Tensor<'_>) -> TensorId {
        assert!(
            self.contexts.iter().any(|c| c.owns(t)),
            "tensor '{}' belongs to another context",
            t.name()
        );
        TensorId {
            raw: t.raw(),
            arena: self.tag,
        }
    }

    /// The tensor `id` stands for; `id` must come from this arena.
    pub fn get(&self, id: TensorId) -> Tensor<'_> {
        assert_eq!(id.arena, self.tag, "tensor id of another arena");
        // SAFETY: ids carrying this arena's tag were made by `keep`, from tensors of its
        // contexts; those contexts outlive the borrow of `self` the handle carries.
        unsafe { Tensor::from_raw(id.raw) }
    }

    /// Allocates storage on `backend` for every tensor of context `i` that has none yet.
    pub fn alloc(&mut self, i: usize, backend: &Backend) -> Result<&Buffer> {
        let buf = backend.alloc_ctx_tensors(&self.contexts[i])?;
        Ok(self.push(buf))
    }

    /// Allocates storage of type `buft` for every tensor of context `i` that has none yet.
    pub fn alloc_in(&mut self, i: usize, buft: BufferType) -> Result<&Buffer> {
        let buf = buft.alloc_ctx_tensors(&self.contexts[i])?;
        Ok(self.push(buf))
    }

    /// Wraps host memory (a memory-mapped model file, kept alive by the buffer) as a CPU weights
    /// buffer without copying; returns its index for [`TensorArena::place`].
    pub fn map_host(&mut self, owner: Arc<dyn HostBytes>) -> Result<usize> {
        self.push(Buffer::from_host(owner)?);
        Ok(self.buffers.len() - 1)
    }

    /// Places tensor `t` at byte `offset` of buffer `buffer` (no copy).
    pub fn place(&self, buffer: usize, t: TensorId, offset: usize) -> Result<()> {
        let buf = self
            .buffers
            .get(buffer)
            .ok_or_else(|| Error::Ggml(format!("no buffer {buffer} in this arena")))?;
        buf.place(self.get(t), offset)
    }

    /// Bytes of every buffer of the arena.
    pub fn buffer_bytes(&self) -> usize {
        self.buffers.iter().map(Buffer::size).sum()
    }

    /// Buffer `i` (an index [`TensorArena::map_host`] returned), for its type and size.
    pub fn buffer(&self, i: usize) -> &Buffer {
        &self.buffers[i]
    }

    /// Every buffer of the arena, in allocation order.
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers
    }

    fn push(&mut self, buf: Buffer) -> &Buffer {
        self.buffers.push(buf);
        &self.buffers[self.buffers.len() - 1]
    }

    /// Freezes the arena: no more tensors, buffers or placements, only [`SealedArena::get`].
    pub fn seal(self) -> SealedArena {
        SealedArena(self)
    }
}

impl Default for TensorArena {
    fn default() -> Self {
        Self::new()
    }
}

/// An arena that only resolves ids: what a loaded model shares between threads.
#[derive(Debug)]
pub struct SealedArena(TensorArena);

// SAFETY: a shared reference only resolves ids (and reads buffer sizes): no context is reachable
// to create tensors in. The handles lent out are read by ggml when they are sources of other
// contexts' nodes; the engine writes (data, names, flags) only tensors of arenas it owns alone.
unsafe impl Sync for SealedArena {}

impl SealedArena {
    /// The tensor `id` stands for; `id` must come from this arena.
    pub fn get(&self, id: TensorId) -> Tensor<'_> {
        self.0.get(id)
    }

    /// Bytes of every buffer of the arena.
    pub fn buffer_bytes(&self) -> usize {
        self.0.buffer_bytes()
    }

    /// Every buffer of the arena, in allocation order.
    pub fn buffers(&self) -> &[Buffer] {
        self.0.buffers()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ggml::types;

    #[test]
    #[should_panic(expected = "tensor id of another arena")]
    fn an_id_resolves_only_in_the_arena_that_made_it() {
        let (mut a, mut b) = (TensorArena::new(), TensorArena::new());
        let (ca, _) = (a.add_context(1).unwrap(), b.add_context(1).unwrap());
        let id = a.keep(a.context(ca).new_tensor(types::F16, &[8]));
        assert_eq!(a.get(id).ne()[0], 8);
        let _ = b.get(id);
    }

    #[test]
    #[should_panic(expected = "belongs to another context")]
    fn an_arena_keeps_only_tensors_of_its_own_contexts() {
        let mut a = TensorArena::new();
        a.add_context(1).unwrap();
        let other = Context::new(1, 0).unwrap();
        let _ = a.keep(other.new_tensor(types::F16, &[8]));
    }
}
