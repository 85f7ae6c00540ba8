//! llama.cpp's reference outputs for the real models (`testdata/reference/<model>.json`) and the
//! comparisons every model's tests share: tokenization, greedy tokens up to the first near-tie,
//! first-token top-5 log-probabilities, and the chat answer with its usage.

use llama_core::chat::{ChatMessage, ChatTemplate};
use llama_core::sampling::top_logprobs;
use llama_core::{Batch, Context, ContextParams, Model, ModelParams};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the top two reference log-probabilities are closer than this, the greedy order can flip
/// between instruction sets (AVX2 vs AVX-512), so strict comparison stops there.
pub const NEAR_TIE: f32 = 0.02;
/// Tolerance for the most likely token's log-probability compared across machines.
pub const LOGPROB_TOLERANCE: f32 = 0.02;
/// Tolerance for the four runners-up. Their log-probabilities (−4 … −9) move by up to ~0.3
/// between CPUs for K-quant models: llama.cpp itself on an AVX-512 machine, with or without
/// repacked weights, differs that much from the reference file (measured on Qwen2.5-Coder), while
/// our engine gives llama.cpp's values on the same machine to the printed 1e-6, in both weight
/// layouts (checked with libllama built from the same sdist).
pub const TAIL_TOLERANCE: f32 = 0.35;

/// One real model, llama.cpp's outputs for it, and how closely they can be met across CPUs.
pub struct RefModel {
    pub name: &'static str,
    pub file: &'static str,
    pub json: &'static str,
    /// Reference top-2 gap below which greedy comparison stops.
    pub near_tie: f32,
    /// Tolerance of the most likely first token's log-probability.
    pub top1_tolerance: f32,
    /// Tolerance of the four runners-up.
    pub tail_tolerance: f32,
    /// Chat template file (under `testdata/reference/`) for a GGUF that has none.
    pub template_file: Option<&'static str>,
}

pub const SMOLLM2: RefModel = RefModel {
    name: "SmolLM2",
    file: "SmolLM2-135M-Instruct.Q4_1.gguf",
    json: "smollm2.json",
    near_tie: NEAR_TIE,
    top1_tolerance: LOGPROB_TOLERANCE,
    tail_tolerance: TAIL_TOLERANCE,
    template_file: None,
};
pub const QWEN2: RefModel = RefModel {
    name: "Qwen2.5-Coder",
    file: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    json: "qwen2.json",
    near_tie: NEAR_TIE,
    top1_tolerance: LOGPROB_TOLERANCE,
    tail_tolerance: TAIL_TOLERANCE,
    template_file: None,
};
/// Gemma 3 270M (Q4_K_M) is far more sensitive to kernel choice: llama.cpp built from the same
/// sources on an AVX-512 machine differs from `gemma3.json` by up to 0.055 on the top first token
/// and flips a 0.188 top-2 gap (see `reference_gemma3.rs`, which also checks a same-machine
/// reference strictly), so the cross-CPU comparison stops at gaps under 0.2; with repacked
/// weights (the default, as in llama.cpp) its runners-up move by up to 0.42 (measured: "The
/// capital of France is", token 9079).
pub const GEMMA3: RefModel = RefModel {
    name: "Gemma 3",
    file: "gemma-3-270m-q4_k_m.gguf",
    json: "gemma3.json",
    near_tie: 0.2,
    top1_tolerance: 0.08,
    tail_tolerance: 0.5,
    template_file: Some("templates/google-gemma-2-2b-it.jinja"),
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl RefModel {
    /// The model file, or `None` (a skip with a printed reason; a failure in CI) when absent.
    pub fn path(&self) -> Option<PathBuf> {
        let path = workspace().join("models").join(self.file);
        if path.exists() {
            return Some(path);
        }
        let msg = format!(
            "{} not found at {} (run `cargo xtask fetch-model all`)",
            self.name,
            path.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("skipping: {msg}");
        None
    }

    /// llama.cpp's outputs (always in the repository).
    pub fn reference(&self) -> Value {
        let path = workspace().join("testdata/reference").join(self.json);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} unreadable: {e}", path.display()));
        serde_json::from_str(&text).expect("reference JSON parses")
    }

    /// The loaded model with a 2-thread context, or `None` when the file is absent.
    pub fn context(&self, n_ctx: usize) -> Option<Context> {
        let path = self.path()?;
        let model = Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap();
        let params = ContextParams {
            n_ctx,
            n_threads: 2,
            ..ContextParams::default()
        };
        Some(Context::new(Arc::new(model), params).unwrap())
    }
}

/// Token ids from a JSON array.
pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("token array")
        .iter()
        .map(|t| t.as_u64().expect("token id") as u32)
        .collect()
}

/// The first generated position where the reference's top two are closer than `near_tie`, if
/// the reference records them (`top2`).
pub fn first_near_tie(case: &Value, near_tie: f32) -> Option<usize> {
    case["top2"].as_array()?.iter().position(|pair| {
        let lp = |k: usize| pair[k][1].as_f64().expect("top2 logprob") as f32;
        lp(0) - lp(1) < near_tie
    })
}

/// Decodes `prompt` and returns the logits row of its last token.
fn prefill(ctx: &mut Context, prompt: &[u32]) -> usize {
    ctx.clear();
    let mut b = Batch::new();
    b.add_sequence(prompt, 0, 0, true);
    ctx.decode(&b).unwrap();
    prompt.len() - 1
}

/// Greedy generation of `n` tokens (stopping early at an end-of-generation token, which is not
/// included) with our top-8 at every step.
pub fn greedy_run(ctx: &mut Context, prompt: &[u32], n: usize) -> (Vec<u32>, Vec<Vec<(u32, f32)>>) {
    let mut row = prefill(ctx, prompt);
    let (mut tokens, mut tops) = (Vec::new(), Vec::new());
    for step in 0..n {
        let top = top_logprobs(ctx.logits(row).unwrap(), 8);
        let next = top[0].0;
        tops.push(top);
        if ctx.model().vocab().is_eog(next) {
            break;
        }
        tokens.push(next);
        let mut b = Batch::new();
        b.add(next, (prompt.len() + step) as i32, 0, true);
        ctx.decode(&b).unwrap();
        row = 0;
    }
    (tokens, tops)
}

/// Compares greedy tokens with the reference case's; returns how many were compared strictly.
/// The comparison stops at the reference's first near-tie (`top2`), or — for references without
/// `top2` — at a divergence where our own top two (`tops[i]`) are a near-tie with llama.cpp's
/// choice second. Says where it stopped.
pub fn compare_greedy(
    m: &RefModel,
    label: &str,
    got: &[u32],
    tops: &[Vec<(u32, f32)>],
    case: &Value,
) -> usize {
    let want = ids(&case["tokens"]);
    let limit = first_near_tie(case, m.near_tie)
        .unwrap_or(want.len())
        .min(want.len());
    for (step, &expected) in want[..limit].iter().enumerate() {
        let Some(&g) = got.get(step) else {
            panic!(
                "{label}: generation ended after {step} tokens, llama.cpp went on with {expected}"
            );
        };
        if g != expected {
            let top = &tops[step];
            let gap = top[0].1 - top[1].1;
            let tie = case["top2"].is_null() && gap < NEAR_TIE && top[1].0 == expected;
            assert!(tie, "{label}: step {step}: got token {g}, llama.cpp chose {expected} (our top-2 gap {gap})");
            eprintln!("{label}: our top two are a near-tie at step {step} (gap {gap}); compared {step} tokens strictly");
            return step;
        }
    }
    if limit < want.len() {
        eprintln!("{label}: stopped at the reference's near-tie at step {limit}; compared {limit} of {} tokens strictly", want.len());
    }
    limit
}

/// The reference's five most likely first tokens against our top eight: the most likely one
/// must be ours too with its log-probability within the model's `top1_tolerance`; the other four must
/// be among our top eight (ranks may swap where they are close) within [`TAIL_TOLERANCE`].
/// Returns the largest deviation seen.
pub fn compare_first_top5(m: &RefModel, label: &str, ours: &[(u32, f32)], case: &Value) -> f32 {
    let want = case["first_top5"].as_array().expect("first_top5");
    assert_eq!(want.len(), 5, "{label}: the reference lists 5 first tokens");
    assert!(
        ours.len() >= 5,
        "{label}: only {} log-probabilities to compare: {ours:?}",
        ours.len()
    );
    let mut worst = 0f32;
    for (k, w) in want.iter().enumerate() {
        // Older files hold {"id", "logprob"} objects, newer ones [id, logprob] pairs.
        let (id, lp) = if w.is_array() {
            (&w[0], &w[1])
        } else {
            (&w["id"], &w["logprob"])
        };
        let (id, lp) = (id.as_u64().unwrap() as u32, lp.as_f64().unwrap() as f32);
        let got = ours.iter().position(|(t, _)| *t == id);
        let got = got.unwrap_or_else(|| {
            panic!(
                "{label}: token {id} (rank {k}) not in our top {} {ours:?}",
                ours.len()
            )
        });
        if k == 0 {
            assert_eq!(
                got, 0,
                "{label}: llama.cpp's most likely token {id} is our rank {got}"
            );
        }
        let tolerance = if k == 0 {
            m.top1_tolerance
        } else {
            m.tail_tolerance
        };
        let diff = (ours[got].1 - lp).abs();
        worst = worst.max(diff);
        assert!(
            diff < tolerance,
            "{label}: token {id} (rank {k}): {} vs llama.cpp {lp} (ours {ours:?})",
            ours[got].1
        );
    }
    worst
}

/// A generation's outcome as the reference's `chat` entry records it.
pub struct ChatOutcome {
    pub prompt_tokens: usize,
    pub content: String,
    /// Generated tokens, counting an end-of-generation token as llama.cpp does.
    pub completion_tokens: usize,
    pub finish_reason: &'static str,
}

/// Our chat outcome equals llama.cpp's (text, finish reason and usage).
pub fn compare_chat(label: &str, got: &ChatOutcome, reference: &Value) {
    let chat = &reference["chat"][0];
    let usage = &chat["usage"];
    assert_eq!(
        got.prompt_tokens as u64,
        usage["prompt_tokens"].as_u64().unwrap(),
        "{label}: chat prompt tokens"
    );
    assert_eq!(
        got.content,
        chat["content"].as_str().unwrap(),
        "{label}: chat answer"
    );
    assert_eq!(
        got.finish_reason,
        chat["finish_reason"].as_str().unwrap(),
        "{label}: finish reason"
    );
    assert_eq!(
        got.completion_tokens as u64,
        usage["completion_tokens"].as_u64().unwrap(),
        "{label}: completion tokens"
    );
}

/// Every `tokenize` case (no BOS, special tokens parsed) and every `generate` prompt (BOS as the
/// model wants it) tokenizes exactly as llama.cpp's.
pub fn check_tokenization(model: &Model, reference: &Value) {
    let vocab = model.vocab();
    for case in reference["tokenize"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            vocab.tokenize(text, false, true),
            ids(&case["tokens"]),
            "tokenizing {text:?}"
        );
    }
    for case in reference["generate"].as_array().unwrap() {
        let text = case["prompt"].as_str().unwrap();
        assert_eq!(
            vocab.tokenize(text, true, true),
            ids(&case["prompt_tokens"]),
            "prompt {text:?}"
        );
    }
}

/// Greedy tokens and first-token top-5 for every `generate` case, through the library.
pub fn check_generation(m: &RefModel, ctx: &mut Context, reference: &Value) {
    for case in reference["generate"].as_array().unwrap() {
        let label = format!("{:?}", case["prompt"].as_str().unwrap());
        let prompt = ids(&case["prompt_tokens"]);
        let (tokens, tops) = greedy_run(ctx, &prompt, ids(&case["tokens"]).len());
        let worst = compare_first_top5(m, &label, &tops[0], case);
        eprintln!("{label}: first-token top-5 within {worst:.4} of llama.cpp");
        compare_greedy(m, &label, &tokens, &tops, case);
    }
}

/// The reference chat's messages.
pub fn chat_messages(reference: &Value) -> Vec<ChatMessage> {
    reference["chat"][0]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| ChatMessage::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect()
}

/// Renders the reference chat with `template` (the model's own when `None`), generates greedily
/// up to `max_tokens` or an end-of-generation token, and compares text and usage with llama.cpp's.
pub fn check_chat(ctx: &mut Context, reference: &Value, template: Option<&ChatTemplate>) {
    let model = Arc::clone(ctx.model());
    let template = template.or(model.chat_template()).expect("a chat template");
    let text = template.render(&chat_messages(reference), true).unwrap();
    let vocab = model.vocab();
    let prompt = vocab.tokenize(&text, true, true);
    let max_tokens = reference["chat"][0]["max_tokens"].as_u64().unwrap() as usize;
    let (tokens, _) = greedy_run(ctx, &prompt, max_tokens);
    let stopped = tokens.len() < max_tokens;
    let got = ChatOutcome {
        prompt_tokens: prompt.len(),
        content: vocab.detokenize(&tokens),
        completion_tokens: tokens.len() + usize::from(stopped),
        finish_reason: if stopped { "stop" } else { "length" },
    };
    compare_chat("library", &got, reference);
}
