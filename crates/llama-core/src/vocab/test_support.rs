//! Test-only loaders: the SmolLM2 vocabulary and chat template read from the real GGUF file, and
//! llama.cpp's reference outputs. Missing files skip with a printed reason (fail under `CI`).

use std::path::PathBuf;
use std::sync::OnceLock;

use super::{Vocab, VocabParts};
use crate::gguf::GgufFile;

fn skip(reason: String) -> Option<()> {
    assert!(std::env::var_os("CI").is_none(), "{reason}");
    eprintln!("skipping: {reason}");
    None
}

/// The SmolLM2 GGUF: `LLAMA_TEST_MODEL`, else `models/` at the workspace root.
pub(crate) fn model_path() -> PathBuf {
    std::env::var_os("LLAMA_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        })
}

fn load_file() -> Option<&'static GgufFile> {
    static FILE: OnceLock<Option<GgufFile>> = OnceLock::new();
    let file = FILE.get_or_init(|| GgufFile::open(model_path()).ok());
    if file.is_none() {
        skip(format!(
            "SmolLM2 model not found at {} (run `cargo xtask fetch-model`)",
            model_path().display()
        ))?;
    }
    file.as_ref()
}

/// The SmolLM2-135M-Instruct vocabulary.
pub(crate) fn load_test_vocab() -> Option<&'static Vocab> {
    static VOCAB: OnceLock<Vocab> = OnceLock::new();
    let file = load_file()?;
    Some(VOCAB.get_or_init(|| Vocab::from_gguf(file).expect("SmolLM2 vocabulary loads")))
}

/// A tiny hand-made SentencePiece vocabulary: `<unk> <s> </s>`, three byte tokens, `▁`, `h`,
/// `i`, `▁h`, `▁hi` (ids 0..=10) and the user-defined `<tool>` (11).
pub(crate) fn spm_test_parts() -> VocabParts {
    let toks: &[(&str, f32, i32)] = &[
        ("<unk>", 0.0, 2),
        ("<s>", 0.0, 3),
        ("</s>", 0.0, 3),
        ("<0x0A>", 0.0, 6),
        ("<0xC3>", 0.0, 6),
        ("<0xA9>", 0.0, 6),
        ("\u{2581}", -1.0, 1),
        ("h", -2.0, 1),
        ("i", -2.0, 1),
        ("\u{2581}h", -1.5, 1),
        ("\u{2581}hi", -1.0, 1),
        ("<tool>", 0.0, 4),
    ];
    VocabParts {
        model: "llama".into(),
        tokens: toks.iter().map(|t| t.0.to_string()).collect(),
        scores: Some(toks.iter().map(|t| t.1).collect()),
        token_types: Some(toks.iter().map(|t| t.2).collect()),
        ..Default::default()
    }
}

/// SmolLM2's `tokenizer.chat_template`.
pub(crate) fn load_test_chat_template() -> Option<&'static str> {
    load_file()?
        .metadata()
        .get_str("tokenizer.chat_template")
        .ok()
        .flatten()
}

/// llama.cpp's reference outputs for SmolLM2 (`testdata/reference/smollm2.json`).
pub(crate) fn load_reference() -> Option<serde_json::Value> {
    let path = std::env::var_os("LLAMA_TEST_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference/smollm2.json")
        });
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("reference file is valid JSON")),
        Err(e) => {
            skip(format!(
                "llama.cpp reference {} unreadable: {e}",
                path.display()
            ))?;
            None
        }
    }
}
