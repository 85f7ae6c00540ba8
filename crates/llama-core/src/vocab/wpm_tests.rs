//! WordPiece against llama.cpp: its `ggml-vocab-bert-bge` test vectors (compared as
//! `tests/test-tokenizer-0.cpp` does: no special tokens added, special text not parsed) and the
//! nomic-embed reference tokenizations. Missing files skip with a reason (fail under `CI`).

use std::path::{Path, PathBuf};

use super::{Vocab, VocabKind};
use crate::gguf::GgufFile;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn open_vocab(path: &Path) -> Option<Vocab> {
    match GgufFile::open(path) {
        Ok(file) => Some(Vocab::from_gguf(&file).expect("WordPiece vocabulary loads")),
        Err(e) => {
            let reason = format!("{} unreadable: {e}", path.display());
            assert!(std::env::var_os("CI").is_none(), "{reason}");
            eprintln!("skipping: {reason}");
            None
        }
    }
}

/// `(text, ids)` pairs of llama.cpp's `read_tests`: inputs separated by
/// `\n__ggml_vocab_test__\n`, one line of ids per input.
fn read_vectors(inp: &str, out: &str) -> Vec<(String, Vec<u32>)> {
    let sep = "\n__ggml_vocab_test__\n";
    let mut texts = Vec::new();
    let mut rest = inp;
    while !rest.is_empty() {
        match rest.find(sep) {
            Some(at) => {
                texts.push(rest[..at].to_string());
                rest = &rest[at + sep.len()..];
            }
            None => {
                texts.push(rest.to_string());
                break;
            }
        }
    }
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(texts.len(), lines.len(), "one output line per input");
    texts
        .into_iter()
        .zip(lines)
        .map(|(t, l)| {
            let ids = l.split_whitespace().map(|x| x.parse().unwrap()).collect();
            (t, ids)
        })
        .collect()
}

#[test]
fn bert_bge_vectors_match_llama_cpp() {
    let base = root().join("testdata/vocab/ggml-vocab-bert-bge.gguf");
    let Some(vocab) = open_vocab(&base) else {
        return;
    };
    assert_eq!(vocab.kind(), VocabKind::Wpm);
    let read = |ext: &str| std::fs::read_to_string(format!("{}.{ext}", base.display())).unwrap();
    let vectors = read_vectors(&read("inp"), &read("out"));
    assert!(vectors.len() > 30, "{} vectors", vectors.len());
    let mut failures = Vec::new();
    for (text, want) in &vectors {
        let got = vocab.tokenize(text, false, false);
        if &got != want {
            failures.push(format!("{text:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn nomic_vocabulary_matches_the_reference_tokenizations() {
    let Some(vocab) = open_vocab(&root().join("models/nomic-embed-text-v1.5.f16.gguf")) else {
        return;
    };
    let path = root().join("testdata/reference/nomic-embed.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = reference["tokenize"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = serde_json::from_value(case["tokens"].clone()).unwrap();
        assert_eq!(vocab.tokenize(text, false, true), want, "{text:?}");
        // Adding special tokens surrounds the text with [CLS] … [SEP].
        let with = vocab.tokenize(text, true, true);
        assert_eq!((with[0], with[with.len() - 1]), (101, 102));
        assert_eq!(&with[1..with.len() - 1], &want[..]);
    }
    assert_eq!(
        (vocab.bos(), vocab.sep(), vocab.unk(), vocab.pad()),
        (Some(101), Some(102), Some(100), Some(0))
    );
    assert_eq!(vocab.detokenize(&[7592, 1010, 2088, 999]), " hello, world!");
}
