//! nomic-embed-text v1.5 (nomic-bert, F16) against llama.cpp's `/v1/embeddings` vectors in
//! `testdata/reference/nomic-embed.json`: every vector within cosine 0.9999, batched inputs equal
//! to one-at-a-time, and the other poolings / normalisations consistent with the hidden states.
//! Without the model the tests skip (fail under `CI`).

#![allow(clippy::unwrap_used)]

use llama_core::{Context, ContextParams, Encoder, EncoderParams, Model, ModelParams, Pooling};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// One test at a time: the tests share the model, whose CPU backend runs one graph at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn model() -> Option<Arc<Model>> {
    static MODEL: OnceLock<Option<Arc<Model>>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = root().join("models/nomic-embed-text-v1.5.f16.gguf");
            match Model::load(&path, &ModelParams::default(), &mut |_, _| {}) {
                Ok(m) => Some(Arc::new(m)),
                Err(e) => {
                    let reason = format!("{} not loadable: {e}", path.display());
                    assert!(std::env::var_os("CI").is_none(), "{reason}");
                    eprintln!("skipping: {reason}");
                    None
                }
            }
        })
        .clone()
}

/// `(text, embedding)` pairs of the reference.
fn reference() -> Vec<(String, Vec<f32>)> {
    let text = std::fs::read_to_string(root().join("testdata/reference/nomic-embed.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["embed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let t = e["text"].as_str().unwrap().to_string();
            (t, serde_json::from_value(e["embedding"].clone()).unwrap())
        })
        .collect()
}

fn encoder(model: &Arc<Model>, pooling: Option<Pooling>, normalize: i32) -> Encoder {
    let params = EncoderParams {
        n_threads: 2,
        pooling,
        normalize,
        ..Default::default()
    };
    Encoder::new(model.clone(), params).unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

fn tokenize(model: &Model, texts: &[&str]) -> Vec<Vec<u32>> {
    texts
        .iter()
        .map(|t| model.vocab().tokenize(t, true, true))
        .collect()
}

#[test]
fn reference_embeddings_match_llama_cpp() {
    let _serial = serial();
    let Some(model) = model() else { return };
    assert_eq!(model.info().architecture, "nomic-bert");
    let refs = reference();
    assert!(!refs.is_empty());
    let mut enc = encoder(&model, None, 2);
    assert_eq!(enc.pooling(), Pooling::Mean, "the file says mean pooling");
    for (text, want) in &refs {
        let got = enc.embed(&tokenize(&model, &[text])).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), 1, "one pooled vector");
        let v = &got[0][0];
        assert_eq!(v.len(), want.len());
        let cos = cosine(v, want);
        eprintln!("{text:?}: cosine {cos:.7}");
        assert!(cos >= 0.9999, "{text:?}: cosine {cos}");
        let norm: f64 = v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-5,
            "euclidean-normalised, norm {norm}"
        );
    }
}

#[test]
fn batched_inputs_equal_one_at_a_time() {
    let _serial = serial();
    let Some(model) = model() else { return };
    let refs = reference();
    let texts: Vec<&str> = refs.iter().map(|(t, _)| t.as_str()).collect();
    let inputs = tokenize(&model, &texts);
    let mut enc = encoder(&model, None, 2);
    let batched = enc.embed(&inputs).unwrap();
    assert_eq!(batched.len(), inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let alone = enc.embed(std::slice::from_ref(input)).unwrap();
        assert_eq!(alone[0], batched[i], "input {i}");
        assert!(cosine(&batched[i][0], &refs[i].1) >= 0.9999);
    }
}

#[test]
fn packed_inputs_stay_within_the_reference_tolerance() {
    let _serial = serial();
    let Some(model) = model() else { return };
    let refs = reference();
    let texts: Vec<&str> = refs.iter().map(|(t, _)| t.as_str()).collect();
    let inputs = tokenize(&model, &texts);
    let params = EncoderParams {
        n_threads: 2,
        pack_inputs: true,
        ..Default::default()
    };
    let mut packed = Encoder::new(model.clone(), params).unwrap();
    let got = packed.embed(&inputs).unwrap();
    let alone = encoder(&model, None, 2).embed(&inputs).unwrap();
    for (i, (text, want)) in refs.iter().enumerate() {
        let (c_ref, c_alone) = (cosine(&got[i][0], want), cosine(&got[i][0], &alone[i][0]));
        eprintln!("packed {text:?}: cosine {c_ref:.7} to llama.cpp, {c_alone:.8} to alone");
        assert!(c_ref >= 0.9999 && c_alone >= 0.99999, "{text:?}");
    }
}

#[test]
fn poolings_agree_with_the_per_token_states() {
    let _serial = serial();
    let Some(model) = model() else { return };
    let inputs = tokenize(&model, &["search_query: What is OpenTelemetry?"]);
    let n = inputs[0].len();
    let tokens = encoder(&model, Some(Pooling::None), 2)
        .embed(&inputs)
        .unwrap();
    assert_eq!(tokens[0].len(), n, "one raw vector per token");
    let raw = |p: Pooling| encoder(&model, Some(p), -1).embed(&inputs).unwrap()[0][0].clone();
    assert_eq!(raw(Pooling::Cls), tokens[0][0]);
    assert_eq!(raw(Pooling::Last), tokens[0][n - 1]);
    let mean = raw(Pooling::Mean);
    for (d, &m) in mean.iter().enumerate() {
        let avg = tokens[0].iter().map(|t| f64::from(t[d])).sum::<f64>() / n as f64;
        assert!((avg - f64::from(m)).abs() < 1e-5);
    }
    // Taxicab normalisation: absolute values sum to 1, direction unchanged.
    let l1 = encoder(&model, None, 1).embed(&inputs).unwrap()[0][0].clone();
    let sum: f32 = l1.iter().map(|x| x.abs()).sum();
    assert!((sum - 1.0).abs() < 1e-4, "taxicab sum {sum}");
    assert!(cosine(&l1, &mean) > 0.999_999);
}

#[test]
fn encoder_models_are_refused_by_decoding_contexts_and_bad_inputs_fail() {
    let _serial = serial();
    let Some(model) = model() else { return };
    let err = Context::new(model.clone(), ContextParams::default()).unwrap_err();
    assert!(err.to_string().contains("encoder"), "{err}");
    let mut enc = encoder(&model, None, 2);
    assert!(enc.embed(&[vec![]]).is_err(), "empty input");
    assert!(enc.embed(&[vec![u32::MAX]]).is_err(), "token out of range");
    let too_long = vec![101; enc.max_input_tokens() + 1];
    assert!(enc.embed(&[too_long]).is_err());
    assert!(enc.embed(&[]).unwrap().is_empty());
}
