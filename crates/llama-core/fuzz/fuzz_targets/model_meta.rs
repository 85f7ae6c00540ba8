//! Fuzz target: the metadata half of `Model::load` — hyper-parameters, vocabulary and chat
//! template built from a parsed GGUF — must return Ok or a typed Err on any input, never panic.
//! It follows `model/load.rs`' order (hyper-parameters, then the vocabulary taking its tables
//! out of the metadata, then the template with the vocabulary's BOS/EOS texts), then uses what
//! it built: a few tokenizations and detokenizations, and one chat render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llama_core::chat::{ChatMessage, ChatTemplate};
use llama_core::gguf::GgufFile;
use llama_core::model::HParams;
use llama_core::vocab::{Detokenizer, Vocab};

/// Texts tokenized with every fuzzed vocabulary: plain words, whitespace runs, digits,
/// special-token look-alikes, accents and a 4-byte character.
const TEXTS: [&str; 3] = [
    "Hello world",
    " <s>x</s><|im_start|>user\n\t  123456 héllo 🦙 [CLS]",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Ok(mut file) = GgufFile::from_bytes(data.to_vec()) else {
        return;
    };
    let arch = match file.metadata().get_str("general.architecture") {
        Ok(Some(a)) => a.to_string(),
        _ => "llama".to_string(),
    };
    if let Ok(hp) = HParams::from_gguf(&file, &arch) {
        for il in 0..hp.n_layer.min(256) {
            let _ = (hp.is_swa(il), hp.rope_freq_layer(il));
        }
        let _ = (hp.n_embd_k_gqa(), hp.n_embd_v_gqa(), hp.has_swa());
    }
    let Ok(vocab) = Vocab::take_from_gguf(&mut file) else {
        return;
    };
    exercise_vocab(&vocab);
    exercise_template(&file, &vocab);
});

fn exercise_vocab(vocab: &Vocab) {
    for text in TEXTS {
        for (add_special, parse_special) in [(true, true), (false, false)] {
            let ids = vocab.tokenize(text, add_special, parse_special);
            let mut detok = Detokenizer::new(false);
            for &id in &ids {
                let _ = vocab.token_to_piece(id, true);
                let _ = detok.push(vocab, id);
            }
            let _ = detok.finish();
        }
    }
    for id in [0, 1, 2, u32::MAX] {
        let _ = (vocab.token_text(id), vocab.is_eog(id), vocab.is_control(id));
    }
}

fn exercise_template(file: &GgufFile, vocab: &Vocab) {
    let Ok(Some(source)) = file.metadata().get_str("tokenizer.chat_template") else {
        return;
    };
    let text = |id: Option<u32>| id.and_then(|t| vocab.token_text(t)).unwrap_or("");
    let Ok(template) = ChatTemplate::new(source, text(vocab.bos()), text(vocab.eos())) else {
        return;
    };
    let template = template.with_add_special(vocab.add_bos(), vocab.add_eos());
    let messages = [
        ChatMessage::new("system", "Be brief."),
        ChatMessage::new("user", "Hi"),
    ];
    let _ = template.render(&messages, true);
}
