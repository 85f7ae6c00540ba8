//! Token-exactness tests against llama.cpp's reference outputs for SmolLM2-135M-Instruct.

use super::test_support::{load_reference, load_test_vocab};
use super::{Detokenizer, PreTokenizer, TokenAttr, Vocab};

fn ids(value: &serde_json::Value) -> Vec<u32> {
    value
        .as_array()
        .expect("token list")
        .iter()
        .map(|v| v.as_u64().expect("token id") as u32)
        .collect()
}

fn setup() -> Option<(&'static Vocab, serde_json::Value)> {
    Some((load_test_vocab()?, load_reference()?))
}

#[test]
fn reference_tokenize_entries_match_llama_cpp() {
    let Some((vocab, reference)) = setup() else {
        return;
    };
    let entries = reference["tokenize"].as_array().expect("tokenize entries");
    assert!(!entries.is_empty());
    for entry in entries {
        let text = entry["text"].as_str().expect("text");
        assert_eq!(
            vocab.tokenize(text, false, true),
            ids(&entry["tokens"]),
            "text: {text:?}"
        );
    }
}

#[test]
fn reference_generate_prompts_match_llama_cpp_with_add_special() {
    let Some((vocab, reference)) = setup() else {
        return;
    };
    let entries = reference["generate"].as_array().expect("generate entries");
    assert!(!entries.is_empty());
    for entry in entries {
        let prompt = entry["prompt"].as_str().expect("prompt");
        assert_eq!(
            vocab.tokenize(prompt, true, true),
            ids(&entry["prompt_tokens"]),
            "{prompt:?}"
        );
    }
}

#[test]
fn reference_texts_round_trip_through_detokenize() {
    let Some((vocab, reference)) = setup() else {
        return;
    };
    let texts = reference["tokenize"]
        .as_array()
        .into_iter()
        .chain(reference["generate"].as_array())
        .flatten()
        .filter_map(|e| e.get("text").or_else(|| e.get("prompt")))
        .filter_map(|t| t.as_str());
    for text in texts {
        let tokens = vocab.tokenize(text, false, true);
        assert_eq!(vocab.detokenize_with(&tokens, false, true), text);
        if !tokens.iter().any(|&t| vocab.is_control(t)) {
            assert_eq!(vocab.detokenize(&tokens), text);
        }
    }
}

#[test]
fn smollm2_special_tokens_follow_llama_cpp() {
    let Some(vocab) = load_test_vocab() else {
        return;
    };
    assert_eq!(vocab.n_tokens(), 49152);
    assert_eq!(vocab.pre_tokenizer(), PreTokenizer::Smollm);
    assert_eq!(
        (vocab.bos(), vocab.eos(), vocab.unk()),
        (Some(1), Some(2), Some(0))
    );
    assert_eq!(vocab.eot(), Some(0));
    assert!(!vocab.add_bos() && !vocab.add_eos());
    // <|endoftext|>, <|im_end|>, and <reponame> (llama.cpp takes it for FIM "repo").
    assert_eq!(vocab.eog_tokens().collect::<Vec<_>>(), [0, 2, 4]);
    assert!(!vocab.is_eog(1) && !vocab.is_eog(198));
    assert_eq!(vocab.token_id("<|im_start|>"), Some(1));
    assert_eq!(vocab.token_text(198), Some("Ċ"));
    assert!(vocab
        .token_attr(1)
        .is_some_and(|a| a.intersects(TokenAttr::CONTROL)));
    assert_eq!(vocab.token_to_piece(1, false), b"");
    assert_eq!(vocab.token_to_piece(1, true), b"<|im_start|>");
    assert_eq!(vocab.token_to_piece(198, false), b"\n");
    assert!(vocab.n_merges() > 40_000);
}

#[test]
fn control_text_is_plain_text_without_parse_special() {
    let Some(vocab) = load_test_vocab() else {
        return;
    };
    let parsed = vocab.tokenize("<|im_end|>", false, true);
    let plain = vocab.tokenize("<|im_end|>", false, false);
    assert_eq!(parsed, [2]);
    assert!(plain.len() > 1 && !plain.contains(&2));
    assert_eq!(vocab.detokenize(&plain), "<|im_end|>");
}

#[test]
fn streaming_detokenizer_joins_emoji_split_across_tokens() {
    let Some(vocab) = load_test_vocab() else {
        return;
    };
    let text = "emoji 🦙🔥 and 日本語!";
    let tokens = vocab.tokenize(text, false, false);
    // The llama emoji has no single token: some token holds only part of its bytes.
    assert!(tokens
        .iter()
        .any(|&t| std::str::from_utf8(vocab.token_to_piece(t, false)).is_err()));
    let mut detok = Detokenizer::new(false);
    let mut chunks = Vec::new();
    for &t in &tokens {
        chunks.push(detok.push(vocab, t));
    }
    chunks.push(detok.finish());
    assert!(
        chunks.iter().any(String::is_empty),
        "some partial piece was held back"
    );
    assert!(chunks.iter().all(|c| !c.contains('\u{fffd}')));
    assert_eq!(chunks.concat(), text);
}

#[test]
fn long_mixed_text_round_trips() {
    let Some(vocab) = load_test_vocab() else {
        return;
    };
    let unit = "The quick brown fox — 12345 jumps!\n\tdon't  stop  🦙 日本語 café\r\n";
    let text = unit.repeat(10_000 / unit.chars().count() + 1);
    let start = std::time::Instant::now();
    let tokens = vocab.tokenize(&text, false, true);
    let elapsed = start.elapsed();
    eprintln!(
        "tokenized {} chars into {} tokens in {elapsed:?}",
        text.chars().count(),
        tokens.len()
    );
    assert_eq!(vocab.detokenize(&tokens), text);
}
