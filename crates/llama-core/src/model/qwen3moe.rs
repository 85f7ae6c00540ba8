//! The qwen3moe architecture (Qwen3-30B-A3B, Qwen3-235B-A22B) as llama.cpp defines it: the
//! qwen3 decoder whose feed-forward is a softmax-routed mixture of SwiGLU experts
//! (`expert_count` experts, `expert_used_count` per token, chosen weights renormalised).

use super::blocks::MoeWeights;
use super::graph::GraphBuild;
use super::hparams::HParams;
use super::qwen3::{Ffn, Qwen3};
use super::weights::{Placement, WeightLoader};
use super::Architecture;
use crate::error::{Error, Result};
use crate::ggml::Tensor;

/// Weights of a qwen3moe model: a qwen3 decoder with expert feed-forwards.
#[derive(Debug)]
pub struct Qwen3Moe(Qwen3);

impl Qwen3Moe {
    /// Requests every tensor; `expert_count` and `expert_used_count` are required.
    pub fn load(hp: &HParams, w: &mut WeightLoader<'_>) -> Result<Self> {
        if hp.n_expert == 0 || hp.n_expert_used == 0 || hp.n_expert_used > hp.n_expert {
            return Err(Error::Model(format!(
                "qwen3moe: needs 0 < expert_used_count ({}) <= expert_count ({})",
                hp.n_expert_used, hp.n_expert
            )));
        }
        Ok(Qwen3Moe(Qwen3::load_with(hp, w, load_moe_ffn)?))
    }
}

fn load_moe_ffn(hp: &HParams, w: &mut WeightLoader<'_>, il: usize) -> Result<Ffn> {
    let p = Placement::Layer(il);
    let n = |s: &str| format!("blk.{il}.{s}");
    let (n_embd, n_expert) = (hp.n_embd, hp.n_expert);
    // llama.cpp's fallback for files without expert_feed_forward_length.
    let n_ff_exp = if hp.n_ff_exp > 0 {
        hp.n_ff_exp
    } else {
        hp.n_ff / hp.n_expert_used
    };
    let w = MoeWeights {
        gate_inp: w.require(&n("ffn_gate_inp.weight"), &[n_embd, n_expert], p)?,
        gate_exps: w.require(&n("ffn_gate_exps.weight"), &[n_embd, n_ff_exp, n_expert], p)?,
        down_exps: w.require(&n("ffn_down_exps.weight"), &[n_ff_exp, n_embd, n_expert], p)?,
        up_exps: w.require(&n("ffn_up_exps.weight"), &[n_embd, n_ff_exp, n_expert], p)?,
    };
    Ok(Ffn::Moe {
        w,
        n_used: hp.n_expert_used,
    })
}

impl Architecture for Qwen3Moe {
    fn rope_type(&self) -> i32 {
        self.0.rope_type()
    }

    fn build<'a>(&self, b: &GraphBuild<'a>) -> Tensor<'a> {
        self.0.build(b)
    }
}
