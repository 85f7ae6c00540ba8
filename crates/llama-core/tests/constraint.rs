//! Constrained sampling on Qwen2.5-Coder: every grammar in llama.cpp's `grammars/` folder
//! compiles, and generated output (greedy and seeded sampling) is accepted by the grammar or
//! validates against the JSON schema it was generated under.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use llama_core::chat::ChatMessage;
use llama_core::sampling::{Constraint, ConstraintSpec, Sampler, SamplingParams};
use llama_core::{Batch, Context, ContextParams, Error, Model, ModelParams};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

const QWEN: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// llama.cpp's `grammars/*.gbnf` (copied unchanged from the llama-cpp-python 0.3.36 sdist).
fn grammar_files() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/grammars");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "gbnf"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn load_qwen() -> Option<Arc<Model>> {
    let path = common::model_file(QWEN)?;
    Some(Arc::new(
        Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap(),
    ))
}

fn constraint(model: &Model, spec: &ConstraintSpec) -> llama_core::Result<Constraint> {
    Constraint::new(model.constraint_env()?, spec)
}

/// Generates up to `max` tokens for a chat prompt under `spec`; returns the text and whether
/// generation ended with an end-of-generation token.
fn generate(
    model: &Arc<Model>,
    prompt: &str,
    spec: &ConstraintSpec,
    params: SamplingParams,
    max: usize,
) -> (String, bool) {
    let template = model.chat_template().expect("a chat template");
    let text = template
        .render(&[ChatMessage::new("user", prompt)], true)
        .unwrap();
    let tokens = model.vocab().tokenize(&text, true, true);
    let mut ctx = Context::new(
        model.clone(),
        ContextParams {
            n_ctx: tokens.len() + max + 8,
            ..ContextParams::default()
        },
    )
    .unwrap();
    let mut sampler = Sampler::new(params);
    sampler.set_constraint(Some(constraint(model, spec).unwrap()));
    let mut batch = Batch::new();
    batch.add_sequence(&tokens, 0, 0, true);
    ctx.decode(&batch).unwrap();
    let mut out = Vec::new();
    for pos in (tokens.len() as i32..).take(max) {
        let logits = ctx.logits(batch.len() - 1).unwrap().to_vec();
        let t = sampler.sample(&logits).unwrap();
        sampler.accept_sampled(t).unwrap();
        if model.vocab().is_eog(t) {
            return (String::from_utf8_lossy(&detok(model, &out)).into(), true);
        }
        out.push(t);
        batch.clear();
        batch.add(t, pos, 0, true);
        ctx.decode(&batch).unwrap();
    }
    (String::from_utf8_lossy(&detok(model, &out)).into(), false)
}

fn detok(model: &Model, tokens: &[u32]) -> Vec<u8> {
    model.vocab().detokenize_bytes(tokens, false, false)
}

/// Whether every token of `text` (re-tokenized) is allowed by a fresh matcher for `spec`, and
/// whether the whole text is then a complete match.
fn grammar_check(model: &Model, spec: &ConstraintSpec, text: &str) -> (bool, bool) {
    let mut c = constraint(model, spec).unwrap();
    let env = c.env().clone();
    // Re-tokenize greedily with the model's own vocabulary: any tokenization of an accepted
    // string is accepted by llguidance.
    for t in model.vocab().tokenize(text, false, false) {
        let mask = c.compute_mask().unwrap();
        if !mask.is_allowed(t) {
            eprintln!("token {t} {:?} not allowed", env.token_bytes(t));
            return (false, false);
        }
        c.accept(t).unwrap();
    }
    (true, c.is_accepting())
}

#[test]
fn every_llama_cpp_grammar_compiles() {
    let Some(model) = load_qwen() else { return };
    let files = grammar_files();
    assert!(files.len() >= 8, "found only {} grammars", files.len());
    for (name, src) in &files {
        let spec = ConstraintSpec::Gbnf(src.clone());
        if let Err(e) = constraint(&model, &spec) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn invalid_grammars_and_schemas_are_errors_naming_the_problem() {
    let Some(model) = load_qwen() else { return };
    let cases = [
        ConstraintSpec::Gbnf("root ::= foo\n".into()),
        ConstraintSpec::Gbnf("root ::= [a-\n".into()),
        ConstraintSpec::Lark("start: \"a\" nope\n".into()),
        ConstraintSpec::JsonSchema(
            json!({"type": "object", "properties": {"a": {"type": "nope"}}}),
        ),
        ConstraintSpec::JsonSchema(json!(42)),
    ];
    for spec in cases {
        let err = constraint(&model, &spec).unwrap_err();
        assert!(
            matches!(err, Error::InvalidConstraint { .. }),
            "{spec:?}: {err}"
        );
        assert!(err.to_string().starts_with("sampling: invalid "), "{err}");
    }
}

fn sampling_modes() -> [(&'static str, SamplingParams); 2] {
    [
        ("greedy", SamplingParams::greedy()),
        (
            "temp 0.9 seed 7",
            SamplingParams {
                temperature: 0.9,
                seed: Some(7),
                ..SamplingParams::default()
            },
        ),
    ]
}

#[test]
fn generated_text_is_accepted_by_llama_cpp_grammars() {
    let Some(model) = load_qwen() else { return };
    let files = grammar_files();
    let cases = [
        ("json.gbnf", "Describe a cat as a JSON object."),
        (
            "arithmetic.gbnf",
            "Write an arithmetic expression that equals 42.",
        ),
        ("list.gbnf", "List three fruits."),
        ("c.gbnf", "Write a C function that adds two ints."),
    ];
    for (file, prompt) in cases {
        let src = &files.iter().find(|(n, _)| n == file).unwrap().1;
        let spec = ConstraintSpec::Gbnf(src.clone());
        for (mode, params) in sampling_modes() {
            let (text, ended) = generate(&model, prompt, &spec, params, 96);
            eprintln!("{file} {mode} (ended {ended}): {text:?}");
            assert!(!text.is_empty(), "{file} {mode}: empty output");
            let (prefix_ok, complete) = grammar_check(&model, &spec, &text);
            assert!(prefix_ok, "{file} {mode}: {text:?}");
            assert!(complete || !ended, "{file} {mode}: ended early: {text:?}");
            if file == "json.gbnf" && ended {
                serde_json::from_str::<Value>(&text).unwrap();
            }
        }
    }
}
