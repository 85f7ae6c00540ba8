//! The real models against llama.cpp's own outputs (`testdata/reference/*.json`): tokenization,
//! first-token top-5 log-probabilities, greedy continuations up to the first near-tie, and the
//! chat answer with its usage — through the library.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use common::reference::{self, RefModel, QWEN2, SMOLLM2};

fn check_all(m: &RefModel) {
    let Some(mut ctx) = m.context(1024) else {
        return;
    };
    let r = m.reference();
    let model = std::sync::Arc::clone(ctx.model());
    reference::check_tokenization(&model, &r);
    reference::check_generation(m, &mut ctx, &r);
    reference::check_chat(&mut ctx, &r, None);
}

#[test]
fn smollm2_matches_llama_cpp() {
    check_all(&SMOLLM2);
}

#[test]
fn qwen2_matches_llama_cpp() {
    check_all(&QWEN2);
}
