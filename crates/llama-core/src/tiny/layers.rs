//! The repeating-layer tensors of each tiny model, named and shaped as llama.cpp loads them.

use super::encode::{add_norm, add_weight, Rng};
use super::{TinyModel, N_EMBD, N_EXPERT, N_FF, N_FF_EXP, N_HEAD, N_HEAD_KV};
use crate::error::Result;
use crate::gguf::GgufWriter;

/// Router logits are drawn wider so that expert choices are clear-cut.
const ROUTER_SCALE: f32 = 2.0;

/// Adds every tensor of layer `il` of model `m`.
pub(super) fn add_layer(w: &mut GgufWriter, rng: &mut Rng, m: TinyModel, il: usize) -> Result<()> {
    let n = |s: &str| format!("blk.{il}.{s}");
    let head = N_EMBD / N_HEAD;
    let kv = head * N_HEAD_KV;
    add_norm(w, rng, &n("attn_norm.weight"), N_EMBD)?;
    if m == TinyModel::Phi3 {
        add_weight(
            w,
            rng,
            &n("attn_qkv.weight"),
            &[N_EMBD, N_EMBD + 2 * kv],
            1.0,
        )?;
    } else {
        add_weight(w, rng, &n("attn_q.weight"), &[N_EMBD, N_EMBD], 1.0)?;
        add_weight(w, rng, &n("attn_k.weight"), &[N_EMBD, kv], 1.0)?;
        add_weight(w, rng, &n("attn_v.weight"), &[N_EMBD, kv], 1.0)?;
    }
    add_weight(w, rng, &n("attn_output.weight"), &[N_EMBD, N_EMBD], 1.0)?;
    if matches!(m, TinyModel::Qwen3 | TinyModel::Qwen3Moe) {
        add_norm(w, rng, &n("attn_q_norm.weight"), head)?;
        add_norm(w, rng, &n("attn_k_norm.weight"), head)?;
    }
    add_norm(w, rng, &n("ffn_norm.weight"), N_EMBD)?;
    match m {
        TinyModel::Qwen3Moe => {
            add_weight(
                w,
                rng,
                &n("ffn_gate_inp.weight"),
                &[N_EMBD, N_EXPERT],
                ROUTER_SCALE,
            )?;
            add_weight(
                w,
                rng,
                &n("ffn_gate_exps.weight"),
                &[N_EMBD, N_FF_EXP, N_EXPERT],
                1.0,
            )?;
            add_weight(
                w,
                rng,
                &n("ffn_down_exps.weight"),
                &[N_FF_EXP, N_EMBD, N_EXPERT],
                1.0,
            )?;
            add_weight(
                w,
                rng,
                &n("ffn_up_exps.weight"),
                &[N_EMBD, N_FF_EXP, N_EXPERT],
                1.0,
            )?;
        }
        TinyModel::Phi3 => {
            add_weight(w, rng, &n("ffn_up.weight"), &[N_EMBD, 2 * N_FF], 1.0)?;
            add_weight(w, rng, &n("ffn_down.weight"), &[N_FF, N_EMBD], 1.0)?;
        }
        TinyModel::Qwen3 | TinyModel::Llama3 => {
            add_weight(w, rng, &n("ffn_gate.weight"), &[N_EMBD, N_FF], 1.0)?;
            add_weight(w, rng, &n("ffn_up.weight"), &[N_EMBD, N_FF], 1.0)?;
            add_weight(w, rng, &n("ffn_down.weight"), &[N_FF, N_EMBD], 1.0)?;
        }
    }
    Ok(())
}
