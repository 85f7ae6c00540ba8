//! Models: hyper-parameters, weights placed on backends, and per-architecture graph builders.

mod blocks;
mod encoder;
mod ftype;
mod gemma3;
mod graph;
mod hparams;
mod llama;
mod load;
mod nomic_bert;
mod phi3;
mod qwen2;
mod qwen3;
mod qwen3moe;
mod registry;
mod split;
mod weights;

pub use encoder::{EncoderBuild, EncoderInputs};
pub use graph::{GraphBuild, GraphInputs, GraphShape};
pub use hparams::{HParams, RopeScaling};
pub use load::{LoadTimings, Model, ModelInfo, ModelParams};
pub use registry::names as supported_architectures;
pub use split::{parse_tensor_split, SplitMode, TensorSplit};
pub use weights::{LayerMap, WeightBuffer};

use crate::ggml::Tensor;

/// One model architecture: how to build its forward graph. Adding an architecture is one new
/// file implementing this trait plus a line in `load::load_architecture`.
pub trait Architecture: Send + Sync + std::fmt::Debug {
    /// llama.cpp's rope type for this architecture (`0` normal, `2` NeoX).
    fn rope_type(&self) -> i32;

    /// Builds the forward graph of one micro-batch; returns the logits, F32 `[n_vocab, n_outputs]`.
    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a>;

    /// Encoder-only (BERT-family) models return themselves here: they run through
    /// [`crate::embed::Encoder`], never through a decoding [`crate::Context`].
    fn encoder(&self) -> Option<&dyn EncoderArchitecture> {
        None
    }
}

/// An encoder-only architecture: non-causal attention over the batch, no KV cache, no head.
pub trait EncoderArchitecture: Send + Sync + std::fmt::Debug {
    /// Builds the graph of one batch; returns the hidden states, F32 `[n_embd, n_tokens]`.
    fn build_encoder<'a>(&self, b: &EncoderBuild<'a>) -> Tensor<'a>;
}
