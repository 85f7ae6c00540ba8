//! Weight loading: creates ggml tensors for the GGUF tensors an architecture asks for, checks
//! their shapes, and places them — on the CPU straight into the memory-mapped file (no copy),
//! on a GPU by upload.

use crate::error::{Error, Result};
use crate::ggml::{
    self, Backend, BackendKind, BufferType, HostBytes, SealedArena, Tensor, TensorArena, TensorId,
};
use crate::gguf::GgufFile;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

impl HostBytes for GgufFile {
    fn host_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// The name of ggml's CPU weight-repacking buffer type.
const REPACK_BUFFER_TYPE: &str = "CPU_REPACK";

/// A weight of the model, as architectures keep it: resolved to its tensor, borrowed from the
/// [`WeightStore`], when a graph is built (`GraphBuild::w`).
pub type Weight = TensorId;

/// Where a tensor's layer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Token embeddings: always on the CPU (looked up by row).
    Input,
    /// Repeating layer `il`.
    Layer(usize),
    /// Final norm and output projection.
    Output,
}

/// Backend index of each layer plus the output ([`LayerMap::split`]: llama.cpp's rule).
#[derive(Debug, Clone)]
pub struct LayerMap {
    pub layer_backend: Vec<usize>,
    pub output_backend: usize,
}

impl LayerMap {
    fn backend_of(&self, p: Placement, cpu: usize) -> usize {
        match p {
            Placement::Input => cpu,
            Placement::Layer(il) => self.layer_backend.get(il).copied().unwrap_or(cpu),
            Placement::Output => self.output_backend,
        }
    }
}

struct Pending {
    tensor: Weight,
    file_offset: usize,
    backend: usize,
    /// A matrix multiplied with activations (not looked up by row): a repacking candidate.
    matmul: bool,
}

/// The input and output tensors every decoder shares.
#[derive(Debug, Clone, Copy)]
pub struct DecoderIo {
    /// Token embeddings, looked up by row: [n_embd, n_vocab].
    pub tok_embd: Weight,
    /// Final norm weight: [n_embd].
    pub output_norm: Weight,
    /// Projection to logits: [n_embd, n_vocab] (the token embeddings when tied).
    pub output: Weight,
}

impl DecoderIo {
    /// Requests `token_embd`, `output_norm` and `output` (tied embeddings: without
    /// `output.weight` the token embeddings project to logits).
    pub fn load(n_embd: usize, n_vocab: usize, w: &mut WeightLoader<'_>) -> Result<Self> {
        let dims = [n_embd, n_vocab];
        let tok_embd = w.require("token_embd.weight", &dims, Placement::Input)?;
        let output_norm = w.require("output_norm.weight", &[n_embd], Placement::Output)?;
        let output = match w.optional("output.weight", &dims, Placement::Output)? {
            Some(t) => t,
            None => w.require("token_embd.weight", &dims, Placement::Output)?,
        };
        Ok(DecoderIo {
            tok_embd,
            output_norm,
            output,
        })
    }
}

/// Collects the tensors an architecture needs, then places them all in [`WeightLoader::finish`].
pub struct WeightLoader<'a> {
    file: &'a Arc<GgufFile>,
    backends: &'a [Arc<Backend>],
    cpu: usize,
    map: &'a LayerMap,
    /// Copy matmul weights into the CPU's repacking buffer type where it supports them.
    repack: bool,
    /// One context per backend, and the buffers of the placed weights.
    arena: TensorArena,
    pending: Vec<Pending>,
    created: HashMap<(String, usize), Weight>,
}

/// The placed weights: the owner of every tensor the architecture keeps an id of.
#[derive(Debug)]
pub struct WeightStore {
    arena: SealedArena,
    pub n_tensors: usize,
    pub n_params: u64,
    /// Weight bytes placed on each backend.
    pub bytes_by_backend: Vec<usize>,
    /// Every weight buffer: its type and what it holds (see [`crate::memory`]).
    pub buffers: Vec<WeightBuffer>,
}

/// One buffer of weights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightBuffer {
    /// ggml's buffer type name: "CPU_Mapped" (the file, mapped), "CPU_REPACK", "CUDA0", ...
    pub buffer_type: String,
    /// Bytes this buffer takes: its size, or for the mapped file the bytes of the tensors placed
    /// in it (the rest of the mapping is never read; copied tensors' pages are released).
    pub allocated: usize,
    /// Sum of the tensors' data sizes (`ggml_nbytes`) in this buffer.
    pub tensor_bytes: usize,
    pub n_tensors: usize,
}

impl WeightStore {
    /// The tensor of weight `w`, borrowed from the store.
    pub fn get(&self, w: Weight) -> Tensor<'_> {
        self.arena.get(w)
    }
}

impl<'a> WeightLoader<'a> {
    pub fn new(
        file: &'a Arc<GgufFile>,
        backends: &'a [Arc<Backend>],
        cpu: usize,
        map: &'a LayerMap,
        repack: bool,
    ) -> Result<Self> {
        let n = file.tensors().len() + 8;
        let mut arena = TensorArena::new();
        for _ in backends {
            arena.add_context(n)?;
        }
        Ok(WeightLoader {
            file,
            backends,
            cpu,
            map,
            repack,
            arena,
            pending: Vec::new(),
            created: HashMap::new(),
        })
    }

    /// The dimensions of tensor `name` in the file (innermost first), if it exists.
    pub fn dims_of(&self, name: &str) -> Option<Vec<u64>> {
        self.file.tensor(name).map(|t| t.dims().to_vec())
    }

    /// A tensor that must exist with exactly these dimensions (innermost first).
    pub fn require(&mut self, name: &str, dims: &[usize], p: Placement) -> Result<Weight> {
        self.optional(name, dims, p)?
            .ok_or_else(|| Error::Model(format!("missing tensor '{name}'")))
    }

    /// A tensor that may be absent; present with other dimensions is an error.
    pub fn optional(&mut self, name: &str, dims: &[usize], p: Placement) -> Result<Option<Weight>> {
        let backend = self.map.backend_of(p, self.cpu);
        if let Some(&t) = self.created.get(&(name.to_string(), backend)) {
            return Ok(Some(t));
        }
        let Some(info) = self.file.tensor(name) else {
            return Ok(None);
        };
        let got: Vec<u64> = info.dims().to_vec();
        let want: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        if got != want {
            return Err(Error::Model(format!(
                "tensor '{name}' has shape {got:?}, expected {want:?}"
            )));
        }
        let ty = info.ggml_type().id();
        if !ggml::type_is_supported(ty) {
            return Err(Error::Model(format!(
                "tensor '{name}' has unsupported type id {ty}"
            )));
        }
        let ne: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        let ctx = self.arena.context(backend);
        let tensor = self.arena.keep(ctx.new_tensor(ty, &ne).set_name(name));
        let file_offset = usize::try_from(info.file_offset()).map_err(|_| {
            Error::Model(format!("tensor '{name}' offset exceeds the address space"))
        })?;
        self.pending.push(Pending {
            tensor,
            file_offset,
            backend,
            matmul: p != Placement::Input && dims.len() == 2,
        });
        self.created.insert((name.to_string(), backend), tensor);
        Ok(Some(tensor))
    }

    /// The first extra CPU buffer type that supports some of `pending`'s matmul weights, with the
    /// names of those it supports (llama.cpp tries the extra types before the plain CPU one).
    fn repack_type(&self, pending: &[&Pending]) -> Result<Option<(BufferType, HashSet<String>)>> {
        if !self.repack || pending.is_empty() {
            return Ok(None);
        }
        // Only the repacking type: ggml's AMX type (listed first on CPUs with AMX) crashes with
        // an illegal instruction in virtual machines that hide the tile state — llama.cpp at the
        // vendored commit crashes the same way there — and computes other logits than the
        // repacked kernels llama.cpp uses everywhere else.
        let extra = ggml::cpu_extra_buffer_types();
        for buft in extra.into_iter().filter(|b| b.name() == REPACK_BUFFER_TYPE) {
            let mut names = HashSet::new();
            for p in pending.iter().filter(|p| p.matmul) {
                let t = self.arena.get(p.tensor);
                if buft.supports_matmul_weight(t)? {
                    names.insert(t.name());
                }
            }
            if !names.is_empty() {
                return Ok(Some((buft, names)));
            }
        }
        Ok(None)
    }

    /// Copies a tensor's bytes from the file into its (allocated) storage; returns the byte count.
    fn upload(&self, p: &Pending) -> Result<usize> {
        let t = self.arena.get(p.tensor);
        let n = t.nbytes();
        let bytes = self
            .file
            .as_bytes()
            .get(p.file_offset..p.file_offset + n)
            .ok_or_else(|| {
                Error::Model(format!("tensor '{}' data lies outside the file", t.name()))
            })?;
        t.write(bytes, 0)?;
        self.file.release(p.file_offset, n);
        Ok(n)
    }

    /// Bytes of a requested tensor.
    fn nbytes(&self, p: &Pending) -> usize {
        self.arena.get(p.tensor).nbytes()
    }

    /// Places every requested tensor; `progress(done, total)` is called as bytes are placed.
    /// The description of a weights buffer of type `buffer_type` holding `tensors`.
    fn describe(
        &self,
        buffer_type: String,
        allocated: usize,
        tensors: &[&Pending],
    ) -> WeightBuffer {
        WeightBuffer {
            buffer_type,
            allocated,
            tensor_bytes: tensors.iter().map(|p| self.nbytes(p)).sum(),
            n_tensors: tensors.len(),
        }
    }

    pub fn finish(mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<WeightStore> {
        let total: u64 = self.pending.iter().map(|p| self.nbytes(p) as u64).sum();
        let mut described = Vec::new();
        let mut bytes_by_backend = vec![0usize; self.backends.len()];
        let mut done = 0u64;
        for (bi, backend) in self.backends.iter().enumerate() {
            let mine: Vec<&Pending> = self.pending.iter().filter(|p| p.backend == bi).collect();
            if mine.is_empty() {
                continue;
            }
            if backend.kind() == BackendKind::Cpu {
                let plan = self.repack_type(&mine)?;
                let (mapped, copied): (Vec<&Pending>, Vec<&Pending>) = match &plan {
                    Some((_, names)) => mine
                        .iter()
                        .partition(|p| !names.contains(&self.arena.get(p.tensor).name())),
                    None => (mine.clone(), Vec::new()),
                };
                let host: Arc<dyn HostBytes> = self.file.clone();
                let buf = self.arena.map_host(host)?;
                for p in &mapped {
                    self.arena.place(buf, p.tensor, p.file_offset)?;
                    done += self.nbytes(p) as u64;
                    progress(done, total);
                }
                let mapped_bytes = mapped.iter().map(|p| self.nbytes(p)).sum();
                let name = self.arena.buffer(buf).type_name();
                described.push(self.describe(name, mapped_bytes, &mapped));
                if let Some((buft, _)) = plan {
                    // Every tensor of the context not placed in the mapping gets repacked storage.
                    let repacked = self.arena.alloc_in(bi, buft)?;
                    repacked.set_weights_usage();
                    let (name, size) = (repacked.type_name(), repacked.size());
                    for p in &copied {
                        done += self.upload(p)? as u64;
                        progress(done, total);
                    }
                    described.push(self.describe(name, size, &copied));
                }
            } else {
                let buf = self.arena.alloc(bi, backend)?;
                buf.set_weights_usage();
                let (name, size) = (buf.type_name(), buf.size());
                for p in &mine {
                    done += self.upload(p)? as u64;
                    progress(done, total);
                }
                described.push(self.describe(name, size, &mine));
            }
            bytes_by_backend[bi] = mine.iter().map(|p| self.nbytes(p)).sum();
        }
        let arena = &self.arena;
        let n_params = (self.pending.iter())
            .map(|p| arena.get(p.tensor).nelements() as u64)
            .sum();
        Ok(WeightStore {
            arena: self.arena.seal(),
            n_tensors: self.pending.len(),
            n_params,
            bytes_by_backend,
            buffers: described,
        })
    }
}
