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
            let (text, ended) = generate(&model, prompt, &spec, params, 64);
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

/// The five schema shapes of issue 12: nested objects, arrays, enums, bounded numbers,
/// required/optional fields.
fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "nested",
            json!({"type": "object", "properties": {
                "name": {"type": "string", "maxLength": 40},
                "address": {"type": "object", "properties": {
                    "city": {"type": "string", "maxLength": 40},
                    "country": {"type": "string", "maxLength": 40}},
                    "required": ["city", "country"], "additionalProperties": false}},
                "required": ["name", "address"], "additionalProperties": false}),
        ),
        (
            "array",
            json!({"type": "object", "properties": {
                "items": {"type": "array", "items": {"type": "string", "maxLength": 30},
                          "minItems": 2, "maxItems": 4}},
                "required": ["items"], "additionalProperties": false}),
        ),
        (
            "enum",
            json!({"type": "object", "properties": {
                "color": {"enum": ["red", "green", "blue"]},
                "size": {"type": "string", "enum": ["S", "M", "L"]}},
                "required": ["color", "size"], "additionalProperties": false}),
        ),
        (
            "bounds",
            json!({"type": "object", "properties": {
                "age": {"type": "integer", "minimum": 18, "maximum": 99},
                // With "maximum": 1 the sampled run wrote "1.000…" until the token limit: every
                // extra zero stays valid, so nothing ever forces the number to end.
                "score": {"type": "number", "minimum": 0, "maximum": 100}},
                "required": ["age", "score"], "additionalProperties": false}),
        ),
        (
            "optional",
            json!({"type": "object", "properties": {
                "title": {"type": "string", "maxLength": 60},
                "year": {"type": "integer", "minimum": 1900, "maximum": 2100},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3}},
                "required": ["title"], "additionalProperties": false}),
        ),
    ]
}

/// A validator for the keywords the schemas above use (the `jsonschema` crate would add a
/// large dependency tree for this one test).
fn validate(v: &Value, s: &Value, path: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{path}: {what} (value {v})"));
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            return fail("not in enum");
        }
    }
    let ty = s.get("type").and_then(Value::as_str);
    let type_ok = match ty {
        None => true,
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some(other) => return fail(&format!("unknown type {other}")),
    };
    if !type_ok {
        return fail(&format!("not of type {ty:?}"));
    }
    if let Some(x) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x < m)
        {
            return fail("below minimum");
        }
        if s.get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| x > m)
        {
            return fail("above maximum");
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| n > m)
        {
            return fail("too long");
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| n < m)
            || s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| n > m)
        {
            return fail("wrong number of items");
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate(item, item_schema, &format!("{path}[{i}]"))?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !req.as_str().is_some_and(|k| obj.contains_key(k)) {
                return fail(&format!("missing required {req}"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => validate(val, sub, &format!("{path}.{k}"))?,
                None if s.get("additionalProperties") == Some(&json!(false)) => {
                    return fail(&format!("unexpected property {k}"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[test]
fn the_validator_rejects_what_the_schemas_forbid() {
    let s = &schemas();
    let bad = [
        (0, json!({"name": "a", "address": {"city": "b"}})),
        (1, json!({"items": ["only one"]})),
        (2, json!({"color": "purple", "size": "S"})),
        (3, json!({"age": 17, "score": 0.5})),
        (3, json!({"age": 20, "score": 100.5})),
        (3, json!({"age": 20.5, "score": 0.5})),
        (4, json!({"title": "x", "extra": 1})),
    ];
    for (i, v) in bad {
        assert!(validate(&v, &s[i].1, "$").is_err(), "{v}");
    }
    assert!(validate(&json!({"title": "x", "year": 2000}), &s[4].1, "$").is_ok());
}

#[test]
fn generated_json_validates_against_its_schema() {
    let Some(model) = load_qwen() else { return };
    let prompts = [
        "Give me an example record as JSON.",
        "Invent a fictional character and answer in JSON.",
        "Reply with JSON about a summer holiday.",
    ];
    let mut n = 0;
    for (i, (name, schema)) in schemas().into_iter().enumerate() {
        let spec = ConstraintSpec::JsonSchema(schema.clone());
        // Each schema: one prompt greedy, the next one sampled at temperature 0.9 (seeded).
        for (j, (mode, params)) in sampling_modes().into_iter().enumerate() {
            let prompt = prompts[(i + j) % prompts.len()];
            let (text, ended) = generate(&model, prompt, &spec, params, 128);
            eprintln!("{name} {mode}: {text}");
            assert!(ended, "{name} {mode} {prompt:?}: did not finish: {text}");
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} {mode}: {e}: {text}"));
            validate(&v, &schema, "$").unwrap_or_else(|e| panic!("{name} {mode}: {e}"));
            n += 1;
        }
    }
    assert_eq!(n, 10);
}

#[test]
fn json_object_mode_gives_an_object() {
    let Some(model) = load_qwen() else { return };
    let (text, ended) = generate(
        &model,
        "Describe the weather as JSON.",
        &ConstraintSpec::JsonObject,
        SamplingParams::greedy(),
        160,
    );
    assert!(ended, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v.is_object(), "{text}");
}

#[test]
fn lark_grammars_and_llguidance_prefixed_grammar_fields_constrain_output() {
    let Some(model) = load_qwen() else { return };
    let lark = "%llguidance {}\nstart: (\"yes\" | \"no\") \".\"\n";
    let spec = ConstraintSpec::from_grammar_field(lark);
    assert_eq!(spec.mode(), "lark");
    for (mode, params) in sampling_modes() {
        let (text, ended) = generate(&model, "Is the sky blue?", &spec, params, 8);
        assert!(
            ended && (text == "yes." || text == "no."),
            "{mode}: {text:?}"
        );
    }
    let gbnf = ConstraintSpec::from_grammar_field("root ::= [0-9]{3}\n");
    let (text, ended) = generate(&model, "Pick a number.", &gbnf, SamplingParams::greedy(), 8);
    assert!(
        ended && text.len() == 3 && text.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}"
    );
}
