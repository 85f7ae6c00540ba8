//! The qwen2 architecture (Qwen2, Qwen2.5, Qwen2.5-Coder) as llama.cpp defines it: the llama
//! decoder with biases on Q, K and V and NeoX-style RoPE.

use super::hparams::HParams;
use super::llama::{Llama, ROPE_TYPE_NEOX};
use super::weights::WeightLoader;
use super::{Architecture, GraphBuild};
use crate::error::{Error, Result};
use crate::ggml::Tensor;

/// Weights of a qwen2 model: a llama decoder whose Q/K/V projections carry biases.
#[derive(Debug)]
pub struct Qwen2(Llama);

impl Qwen2 {
    /// Requests every tensor of the architecture; the Q/K/V biases are required.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        let inner = Llama::load_with_rope(hp, w, ROPE_TYPE_NEOX)?;
        if !inner.has_qkv_biases() {
            return Err(Error::Model(
                "qwen2: blk.*.attn_{q,k,v}.bias are required".into(),
            ));
        }
        Ok(Qwen2(inner))
    }
}

impl Architecture for Qwen2 {
    fn rope_type(&self) -> i32 {
        self.0.rope_type()
    }

    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a> {
        self.0.build(b)
    }
}
