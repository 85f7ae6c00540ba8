//! Loading a model from a GGUF file: parse, pick backends, place weights.

use super::hparams::HParams;
use super::llama::Llama;
use super::weights::{LayerMap, WeightLoader, WeightStore};
use super::Architecture;
use crate::error::{Error, Result};
use crate::ggml::{self, Backend};
use crate::chat::ChatTemplate;
use crate::gguf::GgufFile;
use crate::vocab::Vocab;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to load a model.
#[derive(Debug, Clone)]
pub struct ModelParams {
    /// Repeating layers to put on the GPU (counted from the last); ignored without a GPU backend.
    pub n_gpu_layers: usize,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams { n_gpu_layers: 0 }
    }
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
    /// Bytes of weights placed on each backend (same order as `backend`).
    pub weight_bytes: Vec<usize>,
    /// Tensor type name → number of tensors of that type.
    pub tensor_types: Vec<(String, usize)>,
    pub backend: String,
    pub n_gpu_layers: usize,
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
    // Tensor handles in `arch` point into the store; it is dropped after `arch` (field order).
    _weights: WeightStore,
    pub(crate) file: Arc<GgufFile>,
}

impl Model {
    /// Loads `path`; `progress(done_bytes, total_bytes)` reports weight placement.
    pub fn load(path: impl AsRef<Path>, params: &ModelParams, progress: &mut dyn FnMut(u64, u64)) -> Result<Self> {
        let start = Instant::now();
        let path = path.as_ref();
        let file = Arc::new(GgufFile::open(path)?);
        let parsed = Instant::now();
        let arch_name = file
            .metadata()
            .get_str("general.architecture")?
            .ok_or_else(|| Error::Model("missing required key 'general.architecture'".into()))?
            .to_string();
        let hparams = HParams::from_gguf(&file, &arch_name)?;
        let (backends, cpu, gpu) = pick_backends(params.n_gpu_layers)?;
        let layer_map = LayerMap::new(hparams.n_layer, params.n_gpu_layers, gpu, cpu);
        let mut loader = WeightLoader::new(&file, &backends, cpu, &layer_map)?;
        let arch = load_architecture(&arch_name, &hparams, &mut loader)?;
        let weights = loader.finish(progress)?;
        let vocab = Vocab::from_gguf(&file)?;
        if vocab.n_tokens() < hparams.n_vocab {
            return Err(Error::Model(format!(
                "vocabulary has {} tokens, the model outputs {}",
                vocab.n_tokens(),
                hparams.n_vocab
            )));
        }
        let chat_template = load_chat_template(&file, &vocab)?;
        let done = Instant::now();
        let info = describe(&file, path, &arch_name, &weights, &backends, gpu, params.n_gpu_layers);
        let timings = LoadTimings { parse: parsed - start, weights: done - parsed, total: done - start };
        Ok(Model { arch, hparams, backends, cpu, layer_map, info, timings, vocab, chat_template, _weights: weights, file })
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
}

/// Compiles `tokenizer.chat_template` with the vocabulary's BOS/EOS texts.
fn load_chat_template(file: &GgufFile, vocab: &Vocab) -> Result<Option<ChatTemplate>> {
    let Some(source) = file.metadata().get_str("tokenizer.chat_template")? else { return Ok(None) };
    let text = |id: Option<u32>| id.and_then(|t| vocab.token_text(t)).unwrap_or("").to_string();
    Ok(Some(ChatTemplate::new(source, &text(vocab.bos()), &text(vocab.eos()))?))
}

/// Picks the architecture implementation for `general.architecture`.
fn load_architecture(name: &str, hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Box<dyn Architecture>> {
    match name {
        "llama" => Ok(Box::new(Llama::load(hp, w)?)),
        other => Err(Error::Model(format!("unsupported architecture '{other}'"))),
    }
}

/// The CPU backend always; a GPU backend in front of it when asked for and available.
fn pick_backends(n_gpu_layers: usize) -> Result<(Vec<Arc<Backend>>, usize, Option<usize>)> {
    let cpu = Arc::new(Backend::cpu()?);
    if n_gpu_layers > 0 {
        if let Some(gpu) = Backend::gpu() {
            return Ok((vec![Arc::new(gpu), cpu], 1, Some(0)));
        }
    }
    Ok((vec![cpu], 0, None))
}

fn describe(
    file: &GgufFile,
    path: &Path,
    arch: &str,
    weights: &WeightStore,
    backends: &[Arc<Backend>],
    gpu: Option<usize>,
    n_gpu_layers: usize,
) -> ModelInfo {
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
        .unwrap_or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default());
    ModelInfo {
        name,
        path: path.to_path_buf(),
        architecture: arch.to_string(),
        file_size: file.file_size(),
        n_params: weights.n_params,
        n_tensors: weights.n_tensors,
        weight_bytes: weights.bytes_by_backend.clone(),
        tensor_types: types,
        backend: backends.iter().map(|b| b.name()).collect::<Vec<_>>().join("+"),
        n_gpu_layers: if gpu.is_some() { n_gpu_layers } else { 0 },
    }
}
