//! Embeddings from encoder-only models: an [`Encoder`] runs inputs (one sequence each) through
//! the model with non-causal attention, without a KV cache, and pools and normalises the hidden
//! states as llama.cpp does.

mod pooling;

pub use pooling::{normalize, Pooling};

use crate::error::{Error, Result};
use crate::ggml::{Sched, Tensor, TensorArena, TensorId};
use crate::model::{EncoderBuild, EncoderInputs, GraphBuild, Model};
use llama_otel::{histogram_record, set_attr, span, SpanGuard};
use std::sync::Arc;

/// F16 negative infinity: masked-out attention scores.
const F16_NEG_INF: u16 = 0xFC00;

/// How to size and run an encoder.
#[derive(Debug, Clone)]
pub struct EncoderParams {
    /// Most tokens run as one graph; a single input may not exceed it (llama.cpp's `n_ubatch`:
    /// a non-causal sequence cannot be split).
    pub n_batch: usize,
    pub n_threads: usize,
    /// Pooling; `None` takes the model's (`{arch}.pooling_type`), else mean.
    pub pooling: Option<Pooling>,
    /// `embd_normalize` for pooled vectors (llama.cpp's default 2, euclidean).
    pub normalize: i32,
    /// Pack several inputs into one graph (up to `n_batch` tokens), as llama.cpp batches
    /// sequences: fewer, larger matrix products, but an input's vector then depends slightly
    /// (~1e-4, cosine > 0.9999) on its neighbours. Off: each input runs alone, bit-identical
    /// whatever it is sent with.
    pub pack_inputs: bool,
}

impl Default for EncoderParams {
    fn default() -> Self {
        EncoderParams {
            n_batch: 2048,
            n_threads: crate::context::default_threads(),
            pooling: None,
            normalize: 2,
            pack_inputs: false,
        }
    }
}

/// One input's embedding: a single pooled vector, or one raw vector per token when pooling is
/// [`Pooling::None`] (llama.cpp normalises only pooled vectors).
pub type Embedding = Vec<Vec<f32>>;

#[derive(Debug)]
struct BuiltGraph {
    n_tokens: usize,
    inputs: EncoderInputs<TensorId>,
    hidden: TensorId,
    /// The graph and its tensors; its nodes read the weights of the model this encoder holds.
    arena: TensorArena,
}

/// Compute state for embedding with an encoder-only [`Model`].
#[derive(Debug)]
pub struct Encoder {
    // Field order is drop order: graph before scheduler before model.
    built: Option<BuiltGraph>,
    sched: Sched,
    model: Arc<Model>,
    params: EncoderParams,
    pooling: Pooling,
}

fn graph_nodes(model: &Model) -> usize {
    (model.hparams.n_layer * 64 + 512).max(2048)
}

impl Encoder {
    /// The model's weights, this encoder's compute buffers and the devices' memory.
    pub fn memory(&self) -> crate::memory::MemoryReport {
        let mut report = self.model.memory();
        crate::memory::add_compute(&mut report, &self.model, &self.sched);
        report
    }

    /// Fails for decoder models and for a pooling the model cannot give.
    pub fn new(model: Arc<Model>, params: EncoderParams) -> Result<Self> {
        if !model.is_encoder() {
            return Err(Error::Embed(format!(
                "{} is not an encoder-only model",
                model.info.architecture
            )));
        }
        if params.n_batch == 0 {
            return Err(Error::Embed("n_batch must be positive".into()));
        }
        let pooling = match (params.pooling, model.hparams.pooling_type) {
            (Some(p), _) => p,
            (None, Some(t)) => Pooling::from_llama(t)?,
            (None, None) => Pooling::Mean,
        };
        let _init = span!("llama.encoder.init", parent: model.load_trace(),
            "llama.context.n_ubatch" = params.n_batch, "llama.context.n_threads" = params.n_threads);
        let sched = Sched::new(
            model.compute_backends(params.n_threads)?,
            graph_nodes(&model),
        )?;
        let mut enc = Encoder {
            built: None,
            sched,
            model,
            params,
            pooling,
        };
        let n = enc.params.n_batch.min(enc.model.hparams.n_ctx_train.max(1));
        let worst = enc.build(n)?;
        enc.sched.reserve(worst.arena.graph())?;
        enc.sched.reset();
        Ok(enc)
    }

    /// The encoder model.
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The pooling in effect (asked for, or the model's own).
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// The parameters this encoder was created with.
    pub fn params(&self) -> &EncoderParams {
        &self.params
    }

    /// Width of each vector.
    pub fn n_embd(&self) -> usize {
        self.model.hparams.n_embd
    }

    /// Longest input (in tokens) one call accepts.
    pub fn max_input_tokens(&self) -> usize {
        self.params.n_batch.min(self.model.hparams.n_ctx_train)
    }

    fn build(&self, n_tokens: usize) -> Result<BuiltGraph> {
        let enc = self
            .model
            .arch
            .encoder()
            .ok_or_else(|| Error::Embed("not an encoder".into()))?;
        let nodes = graph_nodes(&self.model);
        let arena = TensorArena::with_graph(nodes)?;
        let (ctx, graph) = (arena.context(0), arena.graph());
        let inputs = EncoderInputs::new(ctx, n_tokens);
        let b = EncoderBuild {
            ctx,
            graph,
            hp: &self.model.hparams,
            weights: &self.model.weights,
            inp: inputs,
            n_tokens,
            rope: GraphBuild::rope_params(&self.model.hparams, self.model.arch.rope_type()),
        };
        let hidden = enc.build_encoder(&b).set_output();
        graph.expand(hidden);
        Ok(BuiltGraph {
            n_tokens,
            inputs: inputs.map(|t| arena.keep(t)),
            hidden: arena.keep(hidden),
            arena,
        })
    }

    /// Embeds each input (its tokens, special tokens included). By default each input runs as a
    /// graph of its own: packed together, masked-out neighbours still shift SIMD reduction
    /// groupings (softmax, K·Q·V) and F16 activation rounding, which moved vectors by ~1e-4;
    /// alone, an input's vector is bit-identical whatever it is sent with. With
    /// [`EncoderParams::pack_inputs`] consecutive inputs share graphs of up to `n_batch` tokens.
    pub fn embed(&mut self, inputs: &[Vec<u32>]) -> Result<Vec<Embedding>> {
        self.embed_normalized(inputs, self.params.normalize)
    }

    /// [`Encoder::embed`] with another `embd_normalize` for this call (a request's own).
    pub fn embed_normalized(
        &mut self,
        inputs: &[Vec<u32>],
        normalize: i32,
    ) -> Result<Vec<Embedding>> {
        let n_tokens: usize = inputs.iter().map(Vec::len).sum();
        let span = span!(
            "llama.embed",
            "llama.embed.n_inputs" = inputs.len(),
            "llama.embed.n_tokens" = n_tokens,
            "llama.embed.pooling" = self.pooling.name()
        );
        let start = std::time::Instant::now();
        let result = self.embed_inner(inputs, normalize, &span);
        if let Err(e) = &result {
            span.set_error(e.to_string());
        }
        histogram_record!("llama.embed.duration", start.elapsed().as_secs_f64(), unit: "s",
            description: "Wall time of one embedding call", buckets: &EMBED_SECONDS_BUCKETS);
        set_attr!(span, "llama.embed.ok" = result.is_ok());
        result
    }

    fn embed_inner(
        &mut self,
        inputs: &[Vec<u32>],
        normalize: i32,
        parent: &SpanGuard,
    ) -> Result<Vec<Embedding>> {
        self.validate(inputs)?;
        let limit = if self.params.pack_inputs {
            self.max_input_tokens()
        } else {
            0 // one input per graph
        };
        let mut out = Vec::with_capacity(inputs.len());
        let mut start = 0;
        while start < inputs.len() {
            let (mut end, mut total) = (start + 1, inputs[start].len());
            while end < inputs.len() && total + inputs[end].len() <= limit {
                total += inputs[end].len();
                end += 1;
            }
            out.extend(self.run_group(&inputs[start..end], normalize, parent)?);
            start = end;
        }
        Ok(out)
    }

    fn validate(&self, inputs: &[Vec<u32>]) -> Result<()> {
        let n_vocab = self.model.hparams.n_vocab as u32;
        let max = self.max_input_tokens();
        for (i, input) in inputs.iter().enumerate() {
            if input.is_empty() {
                return Err(Error::Embed(format!("input {i} is empty")));
            }
            if input.len() > max {
                return Err(Error::Embed(format!(
                    "input {i} has {} tokens, more than the {max} one batch holds",
                    input.len()
                )));
            }
            if let Some(&t) = input.iter().find(|&&t| t >= n_vocab) {
                return Err(Error::Embed(format!(
                    "token id {t} out of range (vocabulary of {n_vocab})"
                )));
            }
        }
        Ok(())
    }

    /// Runs `inputs` (together at most `max_input_tokens`) as one graph and pools each; the
    /// block-diagonal mask keeps them apart.
    fn run_group(
        &mut self,
        inputs: &[Vec<u32>],
        normalize: i32,
        parent: &SpanGuard,
    ) -> Result<Vec<Embedding>> {
        let n_tokens: usize = inputs.iter().map(Vec::len).sum();
        // One graph computation, as a generative context's decode call: the same span name, so
        // a trace shows every model evaluation alike.
        let _decode = span!("llama.decode", parent: parent,
            "llama.decode.n_tokens" = n_tokens, "llama.decode.n_seqs" = inputs.len(),
            "llama.decode.n_outputs" = inputs.len(), "llama.decode.encoder" = true);
        if self.built.as_ref().map(|b| b.n_tokens) != Some(n_tokens) {
            self.built = None;
            self.sched.reset();
            let built = self.build(n_tokens)?;
            self.sched.alloc_graph(built.arena.graph())?;
            self.built = Some(built);
        }
        let built = self
            .built
            .as_ref()
            .ok_or_else(|| Error::Ggml("graph missing".into()))?;
        write_inputs(&built.inputs.map(|id| built.arena.get(id)), inputs)?;
        self.sched.compute(built.arena.graph())?;
        let n_embd = self.n_embd();
        let mut hidden = vec![0f32; n_embd * n_tokens]; // [n_embd, n_tokens]
        built.arena.get(built.hidden).read(&mut hidden, 0)?;
        let mut at = 0;
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            let rows = &hidden[at * n_embd..(at + input.len()) * n_embd];
            at += input.len();
            let mut vectors = self.pooling.apply(rows, n_embd);
            if self.pooling != Pooling::None {
                vectors
                    .iter_mut()
                    .for_each(|v| pooling::normalize(v, normalize));
            }
            out.push(vectors);
        }
        Ok(out)
    }
}

/// Tokens, positions (from 0 in each input) and the block-diagonal mask: every token sees every
/// token of its own input, and nothing else.
fn write_inputs(inp: &EncoderInputs<Tensor<'_>>, inputs: &[Vec<u32>]) -> Result<()> {
    let n: usize = inputs.iter().map(Vec::len).sum();
    let mut tokens = Vec::with_capacity(n);
    let mut pos = Vec::with_capacity(n);
    let mut seq = Vec::with_capacity(n);
    for (s, input) in inputs.iter().enumerate() {
        tokens.extend(input.iter().map(|&t| t as i32));
        pos.extend(0..input.len() as i32);
        seq.extend(std::iter::repeat_n(s, input.len()));
    }
    let mut mask = vec![F16_NEG_INF; n * n]; // [n_kv = n, n_tokens = n]
    for (q, &sq) in seq.iter().enumerate() {
        for (k, &sk) in seq.iter().enumerate() {
            if sq == sk {
                mask[q * n + k] = 0;
            }
        }
    }
    inp.tokens.write(&tokens, 0)?;
    inp.pos.write(&pos, 0)?;
    inp.kq_mask.write(&mask, 0)
}

/// Seconds buckets for embedding calls: 1 ms to 30 s.
const EMBED_SECONDS_BUCKETS: [f64; 12] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 5.0, 30.0,
];
