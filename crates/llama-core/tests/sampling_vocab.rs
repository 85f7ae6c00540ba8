//! Sampling stages that need a real vocabulary: DRY's sequence breakers (strings matched
//! against Qwen2.5's tokens) and the constraint token trie.
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use llama_core::gguf::GgufFile;
use llama_core::sampling::{Sampler, SamplingParams};
use llama_core::vocab::Vocab;

fn qwen_vocab() -> Option<Vocab> {
    let path = common::model_file("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")?;
    Some(Vocab::from_gguf(&GgufFile::open(path).unwrap()).unwrap())
}

#[test]
fn dry_does_not_penalize_single_token_breakers() {
    let Some(vocab) = qwen_vocab() else { return };
    let nl = vocab.tokenize("\n", false, false);
    let word = vocab.tokenize(" cat", false, false);
    assert_eq!((nl.len(), word.len()), (1, 1));
    let (nl, word) = (nl[0], word[0]);
    let n = vocab.n_tokens();
    // History: w nl w nl w. Without breakers, `nl` would extend the 3-token repeat
    // "w nl w" (penalty 5 * 1.75^(3-1) ≈ 15); with "\n" as a breaker the repeat may not reach
    // back past the last newline, and a single-token breaker is never penalized itself.
    let history = [word, nl, word, nl, word];
    let mut logits = vec![-10.0f32; n];
    logits[nl as usize] = 1.0;
    logits[word as usize] = 0.9;
    let params = SamplingParams {
        dry_multiplier: 5.0,
        dry_allowed_length: 1,
        ..SamplingParams::greedy()
    };
    let mut s = Sampler::for_vocab(params.clone(), &vocab);
    for t in history {
        s.accept(t);
    }
    assert_eq!(s.sample(&logits).unwrap(), nl);
    let mut plain = Sampler::new(params);
    for t in history {
        plain.accept(t);
    }
    assert_eq!(plain.sample(&logits).unwrap(), word);
}

#[test]
fn the_constraint_trie_marks_control_tokens_and_pads_to_the_logit_width() {
    let Some(vocab) = qwen_vocab() else { return };
    let n = vocab.n_tokens();
    let env = vocab.constraint_env(n + 100).unwrap();
    assert_eq!(env.n_vocab(), n + 100);
    let im_end = vocab.token_id("<|im_end|>").unwrap();
    assert_eq!(env.token_bytes(im_end), b"\xff<|im_end|>");
    assert!(env.eos_tokens().contains(&im_end));
    let hello = vocab.tokenize("Hello", false, false)[0];
    assert_eq!(env.token_bytes(hello), b"Hello");
    assert!(env.token_bytes((n + 50) as u32).is_empty());
    // Cached: the same width gives the same environment.
    let again = vocab.constraint_env(n + 100).unwrap();
    assert!(std::sync::Arc::ptr_eq(&env, &again));
}
