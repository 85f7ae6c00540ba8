//! Tokenization of the real Qwen2.5 (BPE `qwen2`) and Gemma 3 (SentencePiece) vocabularies
//! against llama.cpp's reference outputs (`testdata/reference/<model>.json`): `tokenize` entries
//! (no BOS, special tokens parsed) and `generate` prompts (BOS as the model wants it). SmolLM2 is
//! covered by the library's `vocab::smollm2_tests`. Missing models skip with a note outside CI and
//! fail under `CI`.

use std::path::PathBuf;

use llama_core::gguf::GgufFile;
use llama_core::vocab::Vocab;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("token list")
        .iter()
        .map(|t| u32::try_from(t.as_u64().expect("token id")).expect("u32 id"))
        .collect()
}

fn check(model_file: &str, reference: &str) {
    let path = root().join("models").join(model_file);
    if !path.exists() {
        let reason = format!(
            "{} not found (run `cargo xtask fetch-model`)",
            path.display()
        );
        assert!(std::env::var_os("CI").is_none(), "{reason}");
        eprintln!("skipping: {reason}");
        return;
    }
    let file = GgufFile::open(&path).expect("model opens");
    let vocab = Vocab::from_gguf(&file).expect("vocabulary loads");
    let ref_path = root().join("testdata/reference").join(reference);
    let text = std::fs::read_to_string(&ref_path).expect("reference file");
    let reference: Value = serde_json::from_str(&text).expect("reference JSON");
    let tokenize = reference["tokenize"].as_array().expect("tokenize entries");
    assert!(!tokenize.is_empty());
    for case in tokenize {
        let text = case["text"].as_str().expect("text");
        assert_eq!(
            vocab.tokenize(text, false, true),
            ids(&case["tokens"]),
            "{text:?}"
        );
    }
    for case in reference["generate"].as_array().expect("generate entries") {
        let prompt = case["prompt"].as_str().expect("prompt");
        assert_eq!(
            vocab.tokenize(prompt, true, true),
            ids(&case["prompt_tokens"]),
            "{prompt:?}"
        );
    }
}

#[test]
fn qwen2_reference_tokenizations_match_llama_cpp() {
    check("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "qwen2.json");
}

#[test]
fn gemma3_reference_tokenizations_match_llama_cpp() {
    check("gemma-3-270m-q4_k_m.gguf", "gemma3.json");
}
