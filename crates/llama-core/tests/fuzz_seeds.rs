//! The `model_meta` fuzz target's seed corpus (`fuzz/seeds/model_meta/`) reaches the deep paths
//! it is meant to start from: every seed parses, its hyper-parameters and vocabulary build, it
//! tokenizes, and its chat template (where it has one) renders. A seed that fails early would
//! leave the fuzzer to rediscover the format on its own.
#![allow(clippy::unwrap_used)] // test code: failures should panic

use llama_core::chat::{ChatMessage, ChatTemplate};
use llama_core::gguf::GgufFile;
use llama_core::model::HParams;
use llama_core::vocab::{Vocab, VocabKind};
use std::path::Path;

fn seeds() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/model_meta");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn every_model_meta_seed_builds_hparams_vocab_and_template() {
    let mut kinds = Vec::new();
    let mut templates = 0;
    for path in seeds() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut file = GgufFile::from_bytes(std::fs::read(&path).unwrap()).unwrap();
        let arch = file
            .metadata()
            .get_str("general.architecture")
            .unwrap()
            .unwrap()
            .to_string();
        let hp = HParams::from_gguf(&file, &arch).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hp.n_layer, 2, "{name}");
        assert_eq!(hp.has_swa(), arch == "gemma3", "{name}: sliding window");
        let vocab = Vocab::take_from_gguf(&mut file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !vocab.tokenize("Hello world", false, false).is_empty(),
            "{name}"
        );
        kinds.push(vocab.kind());
        if let Some(source) = file.metadata().get_str("tokenizer.chat_template").unwrap() {
            let text = |id: Option<u32>| id.and_then(|t| vocab.token_text(t)).unwrap_or("");
            let t = ChatTemplate::new(source, text(vocab.bos()), text(vocab.eos()))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let out = t
                .render(&[ChatMessage::new("user", "Hi")], true)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(out.contains("Hi"), "{name}: {out:?}");
            templates += 1;
        }
    }
    for kind in [VocabKind::Spm, VocabKind::Bpe, VocabKind::Wpm] {
        assert!(kinds.contains(&kind), "no {kind:?} seed among {kinds:?}");
    }
    assert!(templates >= 3, "{templates} seeds with a chat template");
}
