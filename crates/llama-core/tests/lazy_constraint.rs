//! Lazy constraints (llama.cpp's `grammar_lazy`) on Qwen2.5-Coder's vocabulary: free before
//! the trigger, the call grammar from the trigger on — a word trigger that is one token
//! (`<tool_call>`) and a pattern that ends inside a token.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use llama_core::sampling::constraint::{Constraint, ConstraintSpec, LazyTriggers};
use llama_core::{Model, ModelParams};

const QWEN: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

fn lazy(patterns: &[String]) -> ConstraintSpec {
    let lark = r#"start: "<tool_call>\n" %json {"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}, "required": ["name", "arguments"]} "\n</tool_call>""#;
    ConstraintSpec::Lazy {
        grammar: Box::new(ConstraintSpec::Lark(lark.into())),
        triggers: LazyTriggers {
            patterns: patterns.to_vec(),
            after: None,
        },
    }
}

fn allowed(c: &mut Constraint, model: &Model, text: &str) -> bool {
    let tokens = model.vocab().tokenize(text, false, true);
    let mask = c.compute_mask().unwrap();
    mask.is_allowed(tokens[0])
}

#[test]
fn free_until_the_trigger_then_constrained() {
    let Some(path) = common::model_file(QWEN) else {
        return;
    };
    let model = Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap();
    let env = model.constraint_env().unwrap();
    let mut c = Constraint::new(env, &lazy(&[regex::escape("<tool_call>")])).unwrap();
    for t in model
        .vocab()
        .tokenize("Let me look that up.\n", false, true)
    {
        assert!(!c.is_active(), "no trigger yet");
        c.accept(t).unwrap();
    }
    let call = model.vocab().tokenize("<tool_call>", false, true);
    assert_eq!(call.len(), 1, "<tool_call> is one token in Qwen2.5");
    c.accept(call[0]).unwrap();
    assert!(c.is_active(), "the trigger wakes the grammar");
    assert!(allowed(&mut c, &model, "\n"));
    assert!(!allowed(&mut c, &model, "Hello"));
    for t in model.vocab().tokenize("\n{\"name\": \"", false, true) {
        c.accept(t).unwrap();
    }
    assert!(allowed(&mut c, &model, "get"));
    assert!(!allowed(&mut c, &model, "search"), "only the tool's name");
}

#[test]
fn a_pattern_ending_inside_a_token_hands_the_grammar_the_rest() {
    let Some(path) = common::model_file(QWEN) else {
        return;
    };
    let model = Model::load(&path, &ModelParams::default(), &mut |_, _| {}).unwrap();
    let env = model.constraint_env().unwrap();
    // Triggered by "<tool_call>\n{" — the text from the trigger on is fed to the grammar.
    let mut c = Constraint::new(env, &lazy(&["<tool_call>\\s*\\{".into()])).unwrap();
    for t in model
        .vocab()
        .tokenize("Sure. <tool_call>\n{\"na", false, true)
    {
        c.accept(t).unwrap();
    }
    assert!(c.is_active());
    assert!(allowed(&mut c, &model, "me"), "continues \"name\"");
    assert!(!allowed(&mut c, &model, "x"));
    // Text the grammar cannot take at the trigger is an error, not an unconstrained answer.
    let env = model.constraint_env().unwrap();
    let mut c = Constraint::new(env, &lazy(&["<tool_call>\\s*\\{".into()])).unwrap();
    let bad = model.vocab().tokenize("<tool_call> {\"nope", false, true);
    let results: Vec<_> = bad.into_iter().map(|t| c.accept(t)).collect();
    assert!(results.iter().any(Result::is_err), "{results:?}");
}
