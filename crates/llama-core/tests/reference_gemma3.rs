//! Gemma 3 270M (arch `gemma3`, SentencePiece vocabulary) against llama.cpp's own outputs:
//! tokenization, first-token log-probabilities, greedy continuations and a chat completion
//! through the Gemma chat template.
//!
//! Two references: `gemma3.json` (llama-server, made on another machine) and
//! `gemma3-local.json` (libllama at the same commit on this project's machine class — AVX-512 —
//! with the same repacked-weight kernels as this engine, `testdata/reference/tools/gemma3_local_ref.c`;
//! compared only on CPUs with those instructions; its last prompt has
//! 1024 tokens, so the local layers' 512-token sliding window is exercised). This quantized
//! 270M model amplifies last-bit kernel differences: on one machine, llama.cpp's own first-token
//! log-probabilities move by up to 0.1 with flash attention on/off and 0.26 with weight
//! repacking, so `gemma3.json` is compared with measured, wider tolerances and the brief's
//! criteria (0.02) apply to the local reference. Where `gemma3.json` is matched closely (chat),
//! it is compared strictly.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use llama_core::chat::{ChatMessage, ChatTemplate};
use llama_core::sampling::top_logprobs;
use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use serde_json::Value;
use std::sync::Arc;

const MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("token array")
        .iter()
        .map(|t| t.as_u64().expect("token id") as u32)
        .collect()
}

/// `[id, logprob]` as the reference stores it.
fn id_lp(v: &Value) -> (u32, f32) {
    (
        v[0].as_u64().expect("token id") as u32,
        v[1].as_f64().expect("logprob") as f32,
    )
}

/// Whether this CPU runs the kernels `gemma3-local.json` was made with (ggml built with
/// `-march=native` on an AVX-512 machine). Elsewhere other SIMD kernels give other last bits, and
/// only the cross-machine comparisons apply; the test says so.
fn same_kernels_as_local_reference() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let ok = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
            && std::arch::is_x86_feature_detected!("avx512vbmi");
        if !ok {
            eprintln!(
                "gemma3-local.json was made with AVX-512 kernels this CPU lacks: not compared here"
            );
        }
        ok
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        eprintln!("gemma3-local.json was made with x86 AVX-512 kernels: not compared on this CPU");
        false
    }
}

fn model() -> Option<Arc<Model>> {
    let path = common::model_file(MODEL)?;
    let m = Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap();
    Some(Arc::new(m))
}

fn context(model: Arc<Model>) -> Context {
    let params = ContextParams {
        n_ctx: 2048,
        n_threads: 2,
        ..ContextParams::default()
    };
    Context::new(model, params).unwrap()
}

fn reference() -> Value {
    common::reference_json("gemma3.json")
}

/// Decodes `prompt` from an empty cache; returns the logits row of its last token.
fn decode_prompt(ctx: &mut Context, prompt: &[u32]) -> Vec<f32> {
    ctx.clear();
    let mut b = Batch::new();
    b.add_sequence(prompt, 0, 0, true);
    ctx.decode(&b).unwrap();
    ctx.logits(prompt.len() - 1).unwrap().to_vec()
}

/// Appends `token` at `pos` and returns its logits.
fn decode_one(ctx: &mut Context, token: u32, pos: usize) -> Vec<f32> {
    let mut b = Batch::new();
    b.add(token, pos as i32, 0, true);
    ctx.decode(&b).unwrap();
    ctx.logits(0).unwrap().to_vec()
}

/// First generated position where the reference's top two are within `near_tie` (or the length).
fn first_near_tie(top2: &[Value], near_tie: f32) -> usize {
    top2.iter()
        .position(|t| {
            let (a, b) = (id_lp(&t[0]), id_lp(&t[1]));
            (a.1 - b.1).abs() < near_tie
        })
        .unwrap_or(top2.len())
}

/// How closely a reference file can be matched (see the module docs for the measurements).
#[derive(Clone, Copy)]
struct Tolerance {
    /// Greedy tokens are compared strictly up to the first reference gap below this.
    near_tie: f32,
    /// The most likely first token's log-probability may differ by this much, the others by
    /// `logprob`.
    logprob_top1: f32,
    logprob: f32,
    /// Each reference top-5 token must be among our `rank` most likely.
    rank: usize,
}

/// llama.cpp on this machine class, same kernels as ours: the brief's criteria.
const LOCAL: Tolerance = Tolerance {
    near_tie: 0.02,
    logprob_top1: 0.02,
    logprob: 0.02,
    rank: 5,
};

/// `gemma3.json`, made on another machine: llama.cpp at the same commit on this machine already
/// differs from it by up to 0.055 in the top first-token log-probability and 0.32 in the others
/// with plain weights, 0.42 with repacked weights (its default and ours; one rank-5 token is rank
/// 6 here), and picks the other token of a 0.188 top-2 gap ("Once upon a time", step 3). Limits
/// are those measurements with a margin.
const OTHER_MACHINE: Tolerance = Tolerance {
    near_tie: 0.2,
    logprob_top1: 0.08,
    logprob: 0.5,
    rank: 10,
};

/// The first 40 characters of a case's prompt, for messages.
fn short_name(case: &Value) -> String {
    let prompt: String = case["prompt"].as_str().unwrap().chars().take(40).collect();
    format!("{prompt:?}")
}

/// Greedy tokens identical to `case["tokens"]` up to the first near-tie of its `top2`.
fn greedy_matches(ctx: &mut Context, case: &Value, tol: Tolerance) {
    let prompt = ids(&case["prompt_tokens"]);
    let want = ids(&case["tokens"]);
    let top2 = case["top2"].as_array().unwrap();
    assert_eq!(top2.len(), want.len());
    let tie = first_near_tie(top2, tol.near_tie);
    let name = short_name(case);
    let mut logits = decode_prompt(ctx, &prompt);
    for (step, &expected) in want.iter().enumerate().take(tie + 1) {
        let got = top_logprobs(&logits, 1)[0].0;
        if step == tie {
            let (a, b) = (id_lp(&top2[step][0]).0, id_lp(&top2[step][1]).0);
            assert!(
                got == a || got == b,
                "{name} step {step} (near-tie): got {got}, llama.cpp's top two are {a}, {b}"
            );
            eprintln!(
                "{name}: {step} tokens identical; stopped at the reference near-tie at step {step}"
            );
            return;
        }
        assert_eq!(
            got, expected,
            "{name} step {step}: got token {got}, llama.cpp chose {expected}"
        );
        logits = decode_one(ctx, got, prompt.len() + step);
    }
    eprintln!("{name}: all {} tokens identical", want.len());
}

/// Every reference first-token top-5 entry among our `tol.rank` best, within `tol.logprob`.
fn first_top5_matches(ctx: &mut Context, case: &Value, tol: Tolerance) {
    let prompt = ids(&case["prompt_tokens"]);
    let ours = top_logprobs(&decode_prompt(ctx, &prompt), tol.rank);
    let name = short_name(case);
    let top5 = case["first_top5"].as_array().unwrap();
    assert_eq!(
        ours[0].0,
        id_lp(&top5[0]).0,
        "{name}: most likely first token"
    );
    for (k, want) in top5.iter().enumerate() {
        let (id, lp) = id_lp(want);
        let got = ours.iter().find(|(t, _)| *t == id).map(|&(_, l)| l);
        let got = got.unwrap_or_else(|| {
            panic!(
                "{name}: token {id} (rank {k}) not in our top {}: {ours:?}",
                tol.rank
            )
        });
        let limit = if k == 0 {
            tol.logprob_top1
        } else {
            tol.logprob
        };
        assert!(
            (got - lp).abs() < limit,
            "{name}: token {id} (rank {k}): {got} vs llama.cpp {lp}"
        );
    }
}

#[test]
fn tokenize_matches_llama_cpp() {
    let Some(model) = model() else {
        return;
    };
    let vocab = model.vocab();
    for case in reference()["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            vocab.tokenize(text, false, true),
            ids(&case["tokens"]),
            "{text:?}"
        );
    }
    // Prompts with BOS, including a 1024-token text.
    for file in ["gemma3.json", "gemma3-local.json"] {
        for case in common::reference_json(file)["generate"].as_array().unwrap() {
            let text = case["prompt"].as_str().unwrap();
            let with_bos = vocab.tokenize(text, true, true);
            assert_eq!(
                with_bos,
                ids(&case["prompt_tokens"]),
                "{} with BOS",
                short_name(case)
            );
        }
    }
}

/// Every generate case of `file`: first-token top-5, then greedy tokens, within `tol`.
fn check_cases(file: &str, tol: Tolerance) {
    let Some(model) = model() else {
        return;
    };
    let mut ctx = context(model);
    for case in common::reference_json(file)["generate"].as_array().unwrap() {
        first_top5_matches(&mut ctx, case, tol);
        greedy_matches(&mut ctx, case, tol);
    }
}

#[test]
fn generation_matches_llama_cpp_on_this_machine_class() {
    if same_kernels_as_local_reference() {
        check_cases("gemma3-local.json", LOCAL);
    }
}

#[test]
fn generation_matches_the_reference_file_up_to_its_near_ties() {
    check_cases("gemma3.json", OTHER_MACHINE);
}

/// Greedy generation of at most `max` tokens, stopping at an end-of-generation token.
fn generate(ctx: &mut Context, model: &Model, prompt: &[u32], max: usize) -> (Vec<u32>, bool) {
    let mut logits = decode_prompt(ctx, prompt);
    let mut out = Vec::new();
    while out.len() < max {
        let tok = top_logprobs(&logits, 1)[0].0;
        if model.vocab().is_eog(tok) {
            return (out, true);
        }
        out.push(tok);
        logits = decode_one(ctx, tok, prompt.len() + out.len() - 1);
    }
    (out, false)
}

#[test]
fn chat_completion_through_the_gemma_template_matches_llama_cpp() {
    let Some(model) = model() else {
        return;
    };
    let source = std::fs::read_to_string(common::reference_path(
        "templates/google-gemma-2-2b-it.jinja",
    ))
    .unwrap();
    let vocab = model.vocab();
    let text_of = |id: Option<u32>| id.and_then(|t| vocab.token_text(t)).unwrap_or("");
    // The template prints `{{ bos_token }}`; like llama.cpp, it drops that text when the
    // tokenizer adds BOS itself.
    let template = ChatTemplate::new(&source, text_of(vocab.bos()), text_of(vocab.eos()))
        .unwrap()
        .with_add_special(vocab.add_bos(), vocab.add_eos());
    let mut ctx = context(model.clone());
    for case in reference()["chat"].as_array().unwrap() {
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| ChatMessage::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
            .collect();
        let rendered = template.render(&messages, true).unwrap();
        let prompt = vocab.tokenize(&rendered, true, true);
        let usage = &case["usage"];
        assert_eq!(
            prompt.len() as u64,
            usage["prompt_tokens"].as_u64().unwrap(),
            "prompt tokens of {rendered:?}"
        );
        let max = case["max_tokens"].as_u64().unwrap() as usize;
        let (tokens, stopped) = generate(&mut ctx, &model, &prompt, max);
        assert_eq!(vocab.detokenize(&tokens), case["content"].as_str().unwrap());
        assert_eq!(
            tokens.len() as u64,
            usage["completion_tokens"].as_u64().unwrap()
        );
        assert_eq!(
            (prompt.len() + tokens.len()) as u64,
            usage["total_tokens"].as_u64().unwrap()
        );
        let finish = if stopped { "stop" } else { "length" };
        assert_eq!(finish, case["finish_reason"].as_str().unwrap());
    }
}
