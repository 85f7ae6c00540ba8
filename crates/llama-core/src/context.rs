//! An inference context: a KV cache and compute state over a shared [`Model`]; `decode` runs
//! batches through the model and keeps the requested logits.

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::ggml::{OpSample, Sched, TensorArena, TensorId};
use crate::kv_cache::{seq_bit, KvCache, KvCacheType, KvTypes};
use crate::model::{GraphBuild, GraphInputs, GraphShape, Model};
use llama_otel::{histogram_record, set_attr, span, SpanContext};
use std::sync::Arc;
use std::time::Instant;

mod memory;
mod seq;
mod state;
mod stats;
pub use state::{SEQ_STATE_MAGIC, SEQ_STATE_VERSION};
pub use stats::DecodeStats;
/// Metadata room for one graph's nodes (llama.cpp sizes this from the tensor count, too). A MoE
/// layer adds about 20 nodes plus two (a view and an add) per expert used.
fn graph_nodes(model: &Model) -> usize {
    let hp = &model.hparams;
    let moe = if hp.n_expert_used > 0 {
        24 + 2 * hp.n_expert_used
    } else {
        0
    };
    (hp.n_layer * (64 + moe) + 512).max(2048)
}

/// How to size and run a context.
#[derive(Debug, Clone)]
pub struct ContextParams {
    /// KV-cache cells (total tokens across all sequences).
    pub n_ctx: usize,
    /// Largest micro-batch run as one graph.
    pub n_ubatch: usize,
    pub n_threads: usize,
    /// Fused attention kernel (llama.cpp's default on CPU); off uses the plain KQ/softmax/V path.
    pub flash_attn: bool,
    /// Sequences decoded side by side (llama.cpp's `n_seq_max`): sizes the sliding-window cache.
    pub n_seq_max: usize,
    /// Sliding-window layers keep every token in the full cache (llama.cpp's `--swa-full`)
    /// instead of a cache of their window only.
    pub swa_full: bool,
    /// Element type of the K cache (llama.cpp's `-ctk`, default f16).
    pub type_k: KvCacheType,
    /// Element type of the V cache (llama.cpp's `-ctv`; a quantized one needs `flash_attn`).
    pub type_v: KvCacheType,
}

impl ContextParams {
    /// The K and V cache types.
    pub fn kv_types(&self) -> KvTypes {
        KvTypes {
            k: self.type_k,
            v: self.type_v,
        }
    }
}

impl Default for ContextParams {
    fn default() -> Self {
        ContextParams {
            n_ctx: 4096,
            n_ubatch: 512,
            n_threads: default_threads(),
            flash_attn: true,
            n_seq_max: 1,
            swa_full: false,
            type_k: KvCacheType::F16,
            type_v: KvCacheType::F16,
        }
    }
}

/// Physical cores are what matters for ggml; `available_parallelism` is the best portable guess.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get())
}

#[derive(Debug)]
struct BuiltGraph {
    shape: GraphShape,
    inputs: GraphInputs<TensorId>,
    logits: TensorId,
    /// Graph and tensors; its nodes also read the weights and KV cache of the owning Context.
    arena: TensorArena,
}

/// The graph built for the current shape (`run_ubatch` builds it before use).
fn current(built: &Option<BuiltGraph>) -> Result<&BuiltGraph> {
    built
        .as_ref()
        .ok_or_else(|| Error::Ggml("graph missing".into()))
}

/// Reusable host-side buffers, so a steady-state decode step allocates nothing.
#[derive(Debug, Default)]
struct Scratch {
    cells: Vec<u32>,
    /// Cells of the micro-batch in the sliding-window cache.
    cells_swa: Vec<u32>,
    tokens: Vec<i32>,
    pos: Vec<i32>,
    seq_bits: Vec<u64>,
    out_ids: Vec<i32>,
    mask: Vec<u16>,
    k_idxs: Vec<i64>,
    v_idxs: Vec<i64>,
    wanted: Vec<usize>,
    op_samples: Vec<OpSample>,
}

/// KV cache plus compute state for running a [`Model`].
#[derive(Debug)]
pub struct Context {
    // Field order is drop order: graph before scheduler before cache before model.
    built: Option<BuiltGraph>,
    sched: Sched,
    /// Every layer, or only the global ones when `kv_swa` holds the sliding-window layers.
    kv: KvCache,
    kv_swa: Option<KvCache>,
    model: Arc<Model>,
    params: ContextParams,
    logits: Vec<f32>,
    /// Batch index → row in `logits` (or -1), for the last decode.
    output_rows: Vec<i32>,
    scratch: Scratch,
    last: DecodeStats,
}

impl Context {
    pub fn new(model: Arc<Model>, params: ContextParams) -> Result<Self> {
        if model.is_encoder() {
            return Err(Error::Model(format!(
                "{} is an encoder-only (embedding) model: use Encoder, not Context",
                model.info.architecture
            )));
        }
        if params.n_ctx == 0 || params.n_ubatch == 0 {
            return Err(Error::Batch("n_ctx and n_ubatch must be positive".into()));
        }
        let hp = &model.hparams;
        params
            .kv_types()
            .check(params.flash_attn, hp.n_embd_head_k, hp.n_embd_head_v)?;
        let init = span!("llama.context.init", parent: model.load_trace(),
            "llama.context.n_ctx" = params.n_ctx, "llama.context.n_ubatch" = params.n_ubatch,
            "llama.context.n_threads" = params.n_threads, "llama.context.flash_attn" = params.flash_attn);
        let (kv, kv_swa) = {
            let _s = span!("llama.kv_cache.alloc", parent: &init, "llama.kv_cache.cells" = params.n_ctx,
                "llama.kv_cache.type_k" = params.type_k.name(), "llama.kv_cache.type_v" = params.type_v.name());
            KvCache::for_model(&model, &params)?
        };
        let swa_bytes = kv_swa.as_ref().map_or(0, KvCache::bytes);
        set_attr!(init, "llama.kv_cache.bytes" = kv.bytes() + swa_bytes);
        if let Some(swa) = &kv_swa {
            set_attr!(init, "llama.kv_cache.swa_cells" = swa.size());
            set_attr!(init, "llama.kv_cache.swa_bytes" = swa_bytes);
        }
        let sched = Sched::new(
            model.compute_backends(params.n_threads)?,
            graph_nodes(&model),
        )?;
        let mut ctx = Context {
            built: None,
            sched,
            kv,
            kv_swa,
            logits: Vec::with_capacity(params.n_seq_max.max(1) * model.hparams.n_vocab),
            model,
            params,
            output_rows: Vec::new(),
            scratch: Scratch::default(),
            last: DecodeStats::default(),
        };
        {
            let _s = span!("llama.graph.reserve", parent: &init);
            ctx.reserve()?;
        }
        set_attr!(
            init,
            "llama.context.compute_buffer_bytes" = ctx.compute_buffer_bytes()
        );
        crate::memory::record_on_span(&init, &ctx.memory());
        Ok(ctx)
    }

    /// Sizes compute buffers for the worst case (a full micro-batch attending to the whole cache).
    fn reserve(&mut self) -> Result<()> {
        let n = self.params.n_ubatch.min(self.params.n_ctx);
        let worst = GraphShape {
            n_tokens: n,
            n_outputs: n,
            n_kv: self.kv.size(),
            n_kv_swa: self.kv_swa.as_ref().map_or(0, KvCache::size),
        };
        let built = self.build(worst)?;
        self.sched.reserve(built.arena.graph())?;
        self.sched.reset();
        Ok(())
    }

    fn build(&self, shape: GraphShape) -> Result<BuiltGraph> {
        let nodes = graph_nodes(&self.model);
        let arena = TensorArena::with_graph(nodes)?;
        let (ctx, graph) = (arena.context(0), arena.graph());
        let kv_swa = self.kv_swa.as_ref();
        let inputs = GraphBuild::inputs(ctx, &self.model.hparams, &self.kv, kv_swa, shape);
        let b = GraphBuild {
            ctx,
            graph,
            hp: &self.model.hparams,
            weights: &self.model.weights,
            kv: &self.kv,
            kv_swa,
            inp: inputs,
            shape,
            flash_attn: self.params.flash_attn,
            rope: GraphBuild::rope_params(&self.model.hparams, self.model.arch.rope_type()),
        };
        let logits = self.model.arch.build(&b).set_output();
        graph.expand(logits);
        Ok(BuiltGraph {
            shape,
            inputs: inputs.map(|t| arena.keep(t)),
            logits: arena.keep(logits),
            arena,
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    pub fn params(&self) -> &ContextParams {
        &self.params
    }

    pub fn n_ctx(&self) -> usize {
        self.kv.size()
    }

    pub fn n_vocab(&self) -> usize {
        self.model.hparams.n_vocab
    }

    /// Cells in use across all sequences.
    pub fn kv_used(&self) -> usize {
        self.kv.cells.used()
    }

    /// Bytes of K/V storage (both caches of an iSWA pair).
    pub fn kv_bytes(&self) -> usize {
        self.kv.bytes() + self.kv_swa.as_ref().map_or(0, KvCache::bytes)
    }

    /// Size and used cells of the sliding-window layers' own cache (None: no such cache).
    pub fn kv_swa_cells(&self) -> Option<(usize, usize)> {
        self.kv_swa.as_ref().map(|c| (c.size(), c.cells.used()))
    }

    /// The window past which cached tokens are dropped (0: none; see [`Context::seq_pos_min`]).
    pub fn n_swa(&self) -> usize {
        self.kv_swa.as_ref().map_or(0, KvCache::n_swa)
    }

    pub fn last_stats(&self) -> &DecodeStats {
        &self.last
    }

    /// Compute-buffer bytes reserved per backend.
    pub fn compute_buffer_bytes(&self) -> usize {
        (0..self.model.backends.len())
            .map(|i| self.sched.buffer_size(i))
            .sum()
    }

    /// Times every ggml node into `llama.ggml.op.duration` (by op and backend). Off by default:
    /// observing each node makes the scheduler run nodes one at a time, which costs throughput
    /// (see the README's telemetry section for measured figures).
    pub fn set_op_timing(&mut self, on: bool) {
        self.sched.set_op_timing(on);
    }

    fn record_op_samples(&mut self) {
        self.sched.take_op_samples(&mut self.scratch.op_samples);
        for s in self.scratch.op_samples.drain(..) {
            histogram_record!("llama.ggml.op.duration", s.seconds, unit: "s",
                description: "Compute time of ggml graph nodes (opt-in)", buckets: &OP_SECONDS_BUCKETS,
                "ggml.op" = s.op, "ggml.backend" = s.backend);
        }
    }

    /// Logits of batch token `i` from the last [`Context::decode`], if they were requested.
    pub fn logits(&self, i: usize) -> Option<&[f32]> {
        let row = usize::try_from(*self.output_rows.get(i)?).ok()?;
        let n = self.n_vocab();
        self.logits.get(row * n..(row + 1) * n)
    }

    /// Runs `batch` through the model, micro-batch by micro-batch, and keeps the logits of the
    /// tokens that asked for them. A batch that does not fit in the free cache cells is refused
    /// before anything is computed.
    pub fn decode(&mut self, batch: &Batch) -> Result<DecodeStats> {
        self.decode_linked(batch, &[])
    }

    /// [`Context::decode`], recording a `llama.decode` span linked to `links` (the spans of the
    /// requests whose tokens are in the batch).
    pub fn decode_linked(&mut self, batch: &Batch, links: &[SpanContext]) -> Result<DecodeStats> {
        let start = Instant::now();
        let span = span!("llama.decode", links: links,
            "llama.decode.n_tokens" = batch.len(), "llama.decode.n_seqs" = batch.n_seqs(),
            "llama.decode.n_outputs" = batch.n_outputs());
        let result = self.decode_inner(batch);
        let mut stats = match result {
            Ok(stats) => stats,
            Err(e) => {
                span.set_error(e.to_string());
                return Err(e);
            }
        };
        stats.duration = start.elapsed();
        if let Some((_, used)) = self.kv_swa_cells() {
            set_attr!(span, "llama.kv_cache.swa_used_cells" = used);
        }
        set_attr!(
            span,
            "llama.decode.n_ubatches" = stats.n_ubatches,
            "llama.decode.graphs_built" = stats.graphs_built,
            "llama.kv_cache.used_cells" = stats.kv_used
        );
        histogram_record!("llama.decode.duration", stats.duration.as_secs_f64(), unit: "s",
            description: "Wall time of one decode call (all micro-batches)", buckets: &DECODE_SECONDS_BUCKETS,
            exemplar: &span);
        histogram_record!("llama.decode.tokens", stats.n_tokens as f64, unit: "{token}",
            description: "Tokens per decode call", buckets: &DECODE_TOKENS_BUCKETS);
        stats.span = span.span_context();
        self.last = stats.clone();
        Ok(stats)
    }

    fn decode_inner(&mut self, batch: &Batch) -> Result<DecodeStats> {
        self.validate(batch)?;
        self.model.check_devices()?;
        let free = self.kv.size() - self.kv.cells.used();
        if batch.len() > free {
            return Err(Error::KvCacheFull {
                needed: batch.len(),
                free,
                size: self.kv.size(),
            });
        }
        let n_vocab = self.n_vocab();
        self.logits.clear();
        self.output_rows.clear();
        self.output_rows.resize(batch.len(), -1);
        let mut stats = DecodeStats {
            n_tokens: batch.len(),
            n_seqs: batch.n_seqs(),
            ..Default::default()
        };
        let mut row = 0i32;
        for start_i in (0..batch.len()).step_by(self.params.n_ubatch) {
            let end = (start_i + self.params.n_ubatch).min(batch.len());
            self.decode_ubatch(batch, start_i..end, &mut stats)?;
            for k in 0..self.scratch.wanted.len() {
                let i = self.scratch.wanted[k];
                self.output_rows[i] = row;
                row += 1;
            }
            stats.n_ubatches += 1;
        }
        debug_assert_eq!(self.logits.len(), row as usize * n_vocab);
        stats.n_outputs = row as usize;
        stats.kv_used = self.kv.cells.used();
        Ok(stats)
    }

    fn validate(&self, batch: &Batch) -> Result<()> {
        if batch.is_empty() {
            return Err(Error::Batch("empty batch".into()));
        }
        let n_vocab = self.n_vocab() as u32;
        if let Some(&t) = batch.tokens.iter().find(|&&t| t >= n_vocab) {
            return Err(Error::Batch(format!(
                "token id {t} out of range (vocabulary of {n_vocab})"
            )));
        }
        if let Some(&p) = batch.pos.iter().find(|&&p| p < 0) {
            return Err(Error::Batch(format!("negative position {p}")));
        }
        for &s in &batch.seq {
            seq_bit(s)?;
        }
        Ok(())
    }

    /// Runs tokens `range` of `batch` as one graph; afterwards `scratch.wanted` holds the batch
    /// indices whose logits were appended.
    fn decode_ubatch(
        &mut self,
        batch: &Batch,
        range: std::ops::Range<usize>,
        stats: &mut DecodeStats,
    ) -> Result<()> {
        let mut wanted = std::mem::take(&mut self.scratch.wanted);
        wanted.clear();
        wanted.extend(range.clone().filter(|&i| batch.logits[i]));
        let discard_output = wanted.is_empty();
        if discard_output {
            // A graph always ends in logits; compute the last row and drop it.
            wanted.push(range.end - 1);
        }
        let result = self.run_ubatch(batch, range, &wanted, stats);
        if discard_output {
            wanted.clear();
        }
        self.scratch.wanted = wanted;
        result
    }

    fn run_ubatch(
        &mut self,
        batch: &Batch,
        range: std::ops::Range<usize>,
        wanted: &[usize],
        stats: &mut DecodeStats,
    ) -> Result<()> {
        let n_tokens = range.len();
        let discard_output = !batch.logits[range.clone()].iter().any(|&l| l);
        self.place_tokens(batch, range.clone())?;
        let n_kv = self.kv.cells.n_active(KV_PAD);
        let shape = GraphShape {
            n_tokens,
            n_outputs: wanted.len(),
            n_kv,
            n_kv_swa: self.kv_swa.as_ref().map_or(0, |c| c.cells.n_active(KV_PAD)),
        };
        if self.built.as_ref().map(|b| b.shape) != Some(shape) {
            self.built = None;
            self.sched.reset();
            let built = self.build(shape)?;
            self.sched.alloc_graph(built.arena.graph())?;
            self.built = Some(built);
            stats.graphs_built += 1;
        }
        self.set_inputs(batch, range.clone(), wanted, shape)?;
        let built = current(&self.built)?;
        self.sched.compute(built.arena.graph())?;
        self.record_op_samples();
        let built = current(&self.built)?;
        if discard_output {
            return Ok(());
        }
        let n = self.model.hparams.n_vocab * wanted.len();
        let at = self.logits.len();
        self.logits.resize(at + n, 0.0);
        built
            .arena
            .get(built.logits)
            .read(&mut self.logits[at..], 0)
    }

    /// Assigns cache cells to the micro-batch's tokens.
    fn place_tokens(&mut self, batch: &Batch, range: std::ops::Range<usize>) -> Result<()> {
        let s = &mut self.scratch;
        s.seq_bits.clear();
        for &q in &batch.seq[range.clone()] {
            s.seq_bits.push(seq_bit(q)?);
        }
        // Tile-aligned when possible (a sequence then computes the same bits beside others or
        // after a shared prefix as alone: kv_cache/cells/tiled.rs), else any ordered cells.
        let cells = &mut self.kv.cells;
        if !cells.find_free_tiled(&s.seq_bits, &batch.pos[range.clone()], &mut s.cells)
            && !cells.find_free_ordered(&s.seq_bits, &mut s.cells)
        {
            let free = self.kv.size() - self.kv.cells.used();
            return Err(Error::KvCacheFull {
                needed: range.len(),
                free,
                size: self.kv.size(),
            });
        }
        // Both caches must have room before either is written.
        if let Some(swa) = &mut self.kv_swa {
            swa.find_slot_swa(&s.seq_bits, &batch.pos[range.clone()], &mut s.cells_swa)?;
        }
        for (k, i) in range.clone().enumerate() {
            let cell = s.cells[k] as usize;
            self.kv
                .cells
                .assign(cell, batch.pos[i], seq_bit(batch.seq[i])?);
        }
        if let Some(swa) = &mut self.kv_swa {
            swa.cells
                .assign_swa(&s.cells_swa, &batch.pos[range], &s.seq_bits);
        }
        Ok(())
    }

    fn set_inputs(
        &mut self,
        batch: &Batch,
        range: std::ops::Range<usize>,
        wanted: &[usize],
        shape: GraphShape,
    ) -> Result<()> {
        let n_kv = shape.n_kv;
        let built = current(&self.built)?;
        let inp = built.inputs.map(|id| built.arena.get(id));
        let s = &mut self.scratch;
        s.tokens.clear();
        s.tokens
            .extend(batch.tokens[range.clone()].iter().map(|&t| t as i32));
        s.pos.clear();
        s.pos.extend_from_slice(&batch.pos[range.clone()]);
        s.seq_bits.clear();
        for &q in &batch.seq[range.clone()] {
            s.seq_bits.push(seq_bit(q)?);
        }
        inp.tokens.write(&s.tokens, 0)?;
        inp.pos.write(&s.pos, 0)?;
        if let Some(out) = inp.out_ids {
            s.out_ids.clear();
            s.out_ids
                .extend(wanted.iter().map(|&i| (i - range.start) as i32));
            out.write(&s.out_ids, 0)?;
        }
        s.mask.clear();
        s.mask.resize(n_kv * range.len(), 0);
        self.kv
            .cells
            .write_mask(n_kv, &s.pos, &s.seq_bits, &mut s.mask);
        inp.kq_mask.write(&s.mask, 0)?;
        if let Some(mask_swa) = inp.kq_mask_swa {
            let n_swa = self.model.hparams.n_swa;
            // The sliding-window layers' own cache when there is one, else the full cache.
            let (cache, n) =
                (self.kv_swa.as_ref()).map_or((&self.kv, n_kv), |c| (c, shape.n_kv_swa));
            s.mask.resize(n * range.len(), 0);
            cache
                .cells
                .write_mask_swa(n, n_swa, &s.pos, &s.seq_bits, &mut s.mask);
            mask_swa.write(&s.mask, 0)?;
        }
        if let (Some(swa), Some((k, v))) = (&self.kv_swa, inp.swa_idxs) {
            swa.write_idxs(&s.cells_swa, [k, v], [&mut s.k_idxs, &mut s.v_idxs])?;
        }
        let idxs = [inp.k_idxs, inp.v_idxs];
        self.kv
            .write_idxs(&s.cells, idxs, [&mut s.k_idxs, &mut s.v_idxs])
    }
}

/// Seconds buckets for decode calls: 1 ms (a single decode step) to 30 s (a long prompt).
const DECODE_SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
];

/// Tokens per decode call: 1 (one slot decoding) to a full batch.
const DECODE_TOKENS_BUCKETS: [f64; 12] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0,
];

/// Seconds buckets for single ggml nodes: 1 µs to 100 ms.
const OP_SECONDS_BUCKETS: [f64; 11] = [
    1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1,
];

/// Attention looks at cells rounded up to this many, so graphs are reused across decode steps.
const KV_PAD: usize = 256;
