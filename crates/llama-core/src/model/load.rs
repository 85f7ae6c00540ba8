//! Loading a model from a GGUF file: parse, pick backends, place weights.

use super::hparams::HParams;
use super::registry;
use super::weights::{LayerMap, WeightLoader, WeightStore};
use super::Architecture;
use crate::chat::ChatTemplate;
use crate::error::{Error, Result};
use crate::ggml::{self, Backend};
use crate::gguf::GgufFile;
use crate::vocab::Vocab;
use llama_otel::{
    counter_add, gauge_set, histogram_record, set_attr, span, SpanGuard, TraceContext,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to load a model.
#[derive(Debug, Clone, Default)]
pub struct ModelParams {
    /// Layers to offload, counted from the output (llama.cpp's `-ngl`: the output layer and the
    /// last `n_gpu_layers - 1` repeating layers); ignored without a GPU or RPC device.
    pub n_gpu_layers: usize,
    /// How layers are spread over several devices (`-sm`).
    pub split_mode: super::SplitMode,
    /// Proportion of the offloaded layers per device (`-ts`); empty or all zeros: by free memory.
    pub tensor_split: Vec<f32>,
    /// The device used with `SplitMode::None` (`-mg`; negative: none).
    pub main_gpu: i32,
    /// Keep every CPU weight in the mapped file instead of copying matmul weights into the CPU's
    /// repacked layout (llama.cpp's `--no-repack`).
    pub no_repack: bool,
}

/// Descriptive facts about a loaded model (for logs, `/v1/models` and telemetry).
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    pub path: PathBuf,
    pub architecture: String,
    pub file_size: u64,
    pub n_params: u64,
    pub n_tensors: usize,
    /// The file's quantisation as llama.cpp names it (`general.file_type`), e.g. "Q4_K - Medium".
    pub quantization: String,
    /// Bytes of weights placed on each backend (same order as `backend`).
    pub weight_bytes: Vec<usize>,
    /// Tensor type name → number of tensors of that type.
    pub tensor_types: Vec<(String, usize)>,
    pub backend: String,
    pub n_gpu_layers: usize,
    /// ggml's name of each backend ("RPC0[127.0.0.1:50052]", "CUDA0", ..., "CPU" last).
    pub backend_names: Vec<String>,
    /// Backend index of each repeating layer, and of the output layer.
    pub layer_backend: Vec<usize>,
    pub output_backend: usize,
    /// `HOST:PORT` of the RPC servers holding some of the model.
    pub rpc_endpoints: Vec<String>,
}

impl ModelInfo {
    /// One `backend layers bytes` line per backend: its repeating layers as `FIRST-LAST` (`-`
    /// for none), `+output` when it holds the output layer, and its weight bytes.
    pub fn device_split_lines(&self) -> Vec<String> {
        (self.backend_names.iter().enumerate())
            .map(|(bi, name)| {
                let mine =
                    || (0..self.layer_backend.len()).filter(|&il| self.layer_backend[il] == bi);
                let mut layers = match (mine().next(), mine().next_back()) {
                    (Some(a), Some(b)) => format!("{a}-{b}"),
                    _ => "-".to_string(),
                };
                if self.output_backend == bi {
                    layers.push_str("+output");
                }
                let bytes = self.weight_bytes.get(bi).copied().unwrap_or(0);
                format!("{name} {layers} {bytes}")
            })
            .collect()
    }
}

/// Wall time of each loading phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTimings {
    pub parse: Duration,
    pub weights: Duration,
    pub total: Duration,
}

/// A loaded model: immutable, shareable between contexts (`Arc<Model>`).
#[derive(Debug)]
pub struct Model {
    pub(crate) arch: Box<dyn Architecture>,
    pub(crate) hparams: HParams,
    pub(crate) backends: Vec<Arc<Backend>>,
    pub(crate) cpu: usize,
    pub(crate) layer_map: LayerMap,
    pub(crate) info: ModelInfo,
    pub(crate) timings: LoadTimings,
    vocab: Vocab,
    chat_template: Option<ChatTemplate>,
    /// The `llama.model.load` span: contexts created later hang their set-up spans under it.
    load_trace: TraceContext,
    /// The tensors `arch` keeps ids of, lent out per graph build.
    pub(crate) weights: WeightStore,
    pub(crate) file: Arc<GgufFile>,
}

impl Model {
    /// Loads `path`; `progress(done_bytes, total_bytes)` reports weight placement.
    pub fn load(
        path: impl AsRef<Path>,
        params: &ModelParams,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Self> {
        let path = path.as_ref();
        let span = span!(
            "llama.model.load",
            "llama.model.path" = path.display().to_string(),
            "llama.model.n_gpu_layers" = params.n_gpu_layers
        );
        let result = Self::load_in(path, params, progress, &span);
        match &result {
            Ok(model) => model.record_load(&span),
            Err(e) => {
                span.set_error(e.to_string());
                counter_add!("llama.model.load.errors", 1, unit: "{error}",
                    description: "Model loads that failed");
            }
        }
        result
    }

    fn load_in(
        path: &Path,
        params: &ModelParams,
        progress: &mut dyn FnMut(u64, u64),
        span: &SpanGuard,
    ) -> Result<Self> {
        let start = Instant::now();
        let mut file = {
            let _parse = span!("llama.gguf.parse", parent: span);
            GgufFile::open(path)?
        };
        let parsed = Instant::now();
        let arch_name = file
            .metadata()
            .get_str("general.architecture")?
            .ok_or_else(|| Error::Model("missing required key 'general.architecture'".into()))?
            .to_string();
        // Report an unknown architecture as such, not as the first hyper-parameter it lacks.
        if registry::find(&arch_name).is_none() {
            return Err(Error::UnsupportedArchitecture {
                name: arch_name,
                supported: registry::names(),
            });
        }
        let hparams = HParams::from_gguf(&file, &arch_name)?;
        let (vocab, chat_template) = load_vocab(&mut file, &hparams, span)?;
        let file = Arc::new(file);
        let super::split::Offload {
            backends,
            points,
            rpc_endpoints,
        } = super::split::offload(params)?;
        let cpu = backends.len() - 1;
        let layer_map = LayerMap::split(hparams.n_layer, params.n_gpu_layers, &points, cpu);
        let weights_span = span!("llama.model.weights", parent: span, "llama.model.mmap" = true);
        let mut loader = WeightLoader::new(&file, &backends, cpu, &layer_map, !params.no_repack)?;
        let arch = load_architecture(&arch_name, &hparams, &mut loader)?;
        let weights = loader.finish(progress)?;
        drop(weights_span);
        let done = Instant::now();
        let mut info = describe(
            &file,
            path,
            &arch_name,
            &weights,
            &backends,
            &layer_map,
            params.n_gpu_layers,
        );
        info.rpc_endpoints = rpc_endpoints;
        let timings = LoadTimings {
            parse: parsed - start,
            weights: done - parsed,
            total: done - start,
        };
        let load_trace = span.context();
        Ok(Model {
            arch,
            hparams,
            backends,
            cpu,
            layer_map,
            info,
            timings,
            vocab,
            chat_template,
            load_trace,
            weights,
            file,
        })
    }

    /// Attributes and metrics of a successful load.
    fn record_load(&self, span: &SpanGuard) {
        let (info, hp) = (&self.info, &self.hparams);
        let types: Vec<String> = info
            .tensor_types
            .iter()
            .map(|(t, n)| format!("{t}:{n}"))
            .collect();
        set_attr!(
            span,
            "llama.model.name" = info.name.clone(),
            "llama.model.architecture" = info.architecture.clone(),
            "llama.model.parameters" = info.n_params as i64,
            "llama.model.quantization" = info.quantization.clone(),
            "llama.model.file_size" = info.file_size as i64,
            "llama.model.tensor_types" = types,
            "llama.model.backend" = info.backend.clone(),
            "llama.model.n_layer" = hp.n_layer,
            "llama.model.n_ctx_train" = hp.n_ctx_train,
            "llama.model.n_vocab" = hp.n_vocab
        );
        crate::memory::record_on_span(span, &self.memory());
        set_attr!(
            span,
            [llama_otel::names::MODEL_DEVICE_SPLIT_ATTR] = info.device_split_lines(),
            [llama_otel::names::MODEL_RPC_ENDPOINTS_ATTR] = info.rpc_endpoints.clone()
        );
        histogram_record!("llama.model.load.duration", self.timings.total.as_secs_f64(), unit: "s",
            description: "Time to load a model (parse, map weights, vocabulary)",
            buckets: &LOAD_SECONDS_BUCKETS, "llama.model.name" = info.name.clone());
        gauge_set!("llama.model.size", info.file_size as f64, unit: "By",
            description: "Size of the loaded model file", "llama.model.name" = info.name.clone());
    }

    /// Backends for one context's computation: the model's GPU backends (shared) and a CPU
    /// backend of its own, with `n_threads` threads. A CPU backend holds its thread count and work
    /// buffer, so two contexts computing at once on the model's CPU backend would race on them
    /// (observed: non-deterministic logits). Weights live in host buffers any CPU backend reads.
    pub(crate) fn compute_backends(&self, n_threads: usize) -> Result<Vec<Arc<Backend>>> {
        let cpu = Backend::cpu()?;
        cpu.set_n_threads(n_threads);
        let mut backends = self.backends.clone();
        backends[self.cpu] = Arc::new(cpu);
        Ok(backends)
    }

    /// Fails when an RPC server holding some of the model has closed its connection (checked
    /// before each decode: ggml would abort the process on the next call to it).
    pub fn check_devices(&self) -> Result<()> {
        crate::devices::check_rpc_connections(&self.info.rpc_endpoints)
    }

    /// The load span, as the parent of later set-up spans (contexts).
    pub fn load_trace(&self) -> &TraceContext {
        &self.load_trace
    }

    /// Whether this is an encoder-only (embedding) model, run by [`crate::Encoder`].
    pub fn is_encoder(&self) -> bool {
        self.arch.encoder().is_some()
    }

    pub fn hparams(&self) -> &HParams {
        &self.hparams
    }

    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub fn timings(&self) -> LoadTimings {
        self.timings
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The model's own chat template (`tokenizer.chat_template`), if it has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat_template.as_ref()
    }

    /// The parsed GGUF file (metadata stays available for tokenizer and template).
    pub fn gguf(&self) -> &GgufFile {
        &self.file
    }

    /// The weight buffers: type, bytes taken and tensor bytes of each.
    pub fn weight_buffers(&self) -> &[super::WeightBuffer] {
        &self.weights.buffers
    }

    /// The weights' memory by buffer type, and the devices' memory.
    pub fn memory(&self) -> crate::memory::MemoryReport {
        let mut report = crate::memory::MemoryReport {
            uses: Vec::new(),
            devices: crate::memory::devices(),
        };
        for b in self.weight_buffers() {
            let kind = crate::memory::MemoryKind::Weights;
            report.add(kind, b.buffer_type.clone(), None, b.allocated as u64);
        }
        report
    }
}

/// Model loads take from tens of milliseconds (mapped, cached) to minutes (uploads to a GPU).
const LOAD_SECONDS_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0,
];

/// Moves the vocabulary out of the file's metadata and compiles the chat template.
fn load_vocab(
    file: &mut GgufFile,
    hparams: &HParams,
    parent: &SpanGuard,
) -> Result<(Vocab, Option<ChatTemplate>)> {
    let _span = span!("llama.vocab.load", parent: parent);
    let vocab = Vocab::take_from_gguf(file)?;
    if vocab.n_tokens() < hparams.n_vocab {
        return Err(Error::Model(format!(
            "vocabulary has {} tokens, the model outputs {}",
            vocab.n_tokens(),
            hparams.n_vocab
        )));
    }
    let template = load_chat_template(file, &vocab)?;
    Ok((vocab, template))
}

/// Compiles `tokenizer.chat_template` with the vocabulary's BOS/EOS texts.
fn load_chat_template(file: &GgufFile, vocab: &Vocab) -> Result<Option<ChatTemplate>> {
    let Some(source) = file.metadata().get_str("tokenizer.chat_template")? else {
        return Ok(None);
    };
    let text = |id: Option<u32>| {
        id.and_then(|t| vocab.token_text(t))
            .unwrap_or("")
            .to_string()
    };
    let template = ChatTemplate::new(source, &text(vocab.bos()), &text(vocab.eos()))?;
    Ok(Some(
        template.with_add_special(vocab.add_bos, vocab.add_eos),
    ))
}

/// Picks the architecture implementation for `general.architecture` from the registry.
fn load_architecture(
    name: &str,
    hp: &HParams,
    w: &mut WeightLoader<'_>,
) -> Result<Box<dyn Architecture>> {
    match registry::find(name) {
        Some(entry) => (entry.load)(hp, w),
        None => Err(Error::UnsupportedArchitecture {
            name: name.to_string(),
            supported: registry::names(),
        }),
    }
}

/// `general.file_type` named as llama.cpp names it; "unknown" when absent or not a known type.
fn quantization(file: &GgufFile) -> String {
    let id = file
        .metadata()
        .get_usize("general.file_type")
        .ok()
        .flatten();
    id.and_then(|id| u32::try_from(id).ok())
        .and_then(super::ftype::name)
        .unwrap_or("unknown")
        .to_string()
}

fn describe(
    file: &GgufFile,
    path: &Path,
    arch: &str,
    weights: &WeightStore,
    backends: &[Arc<Backend>],
    layer_map: &LayerMap,
    n_gpu_layers: usize,
) -> ModelInfo {
    let cpu = backends.len() - 1;
    let offloaded = layer_map
        .layer_backend
        .iter()
        .filter(|&&b| b != cpu)
        .count()
        + usize::from(layer_map.output_backend != cpu);
    let mut types: Vec<(String, usize)> = Vec::new();
    for t in file.tensors() {
        let name = ggml::type_name(t.ggml_type().id());
        match types.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => types.push((name, 1)),
        }
    }
    let name = file
        .metadata()
        .get_str("general.name")
        .ok()
        .flatten()
        .map(str::to_string)
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    ModelInfo {
        name,
        path: path.to_path_buf(),
        architecture: arch.to_string(),
        file_size: file.file_size(),
        n_params: weights.n_params,
        n_tensors: weights.n_tensors,
        quantization: quantization(file),
        weight_bytes: weights.bytes_by_backend.clone(),
        tensor_types: types,
        backend: backends
            .iter()
            .map(|b| b.name())
            .collect::<Vec<_>>()
            .join("+"),
        n_gpu_layers: if offloaded > 0 { n_gpu_layers } else { 0 },
        backend_names: backends.iter().map(|b| b.name()).collect(),
        layer_backend: layer_map.layer_backend.clone(),
        output_backend: layer_map.output_backend,
        rpc_endpoints: Vec::new(),
    }
}
