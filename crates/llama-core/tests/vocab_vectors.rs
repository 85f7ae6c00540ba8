//! llama.cpp's own tokenizer test vectors (`tests/test-tokenizer-0.cpp`): every text of
//! `testdata/vocab/ggml-vocab-<family>.gguf.inp` must tokenize to exactly the ids of the matching
//! line of `.out`, with `add_special = false` and `parse_special = false` as that test calls
//! `common_tokenize`. The GGUF files are vocabulary-only (no tensors), so only the vocabulary is
//! loaded.
//!
//! Beyond llama.cpp's own vectors, `testdata/vocab/fuzz/` holds llama.cpp's tokenization of 351
//! harder texts (every kind of whitespace, many scripts, marks, emoji, code) for each vocabulary,
//! and for a few vocabularies with `tokenizer.ggml.pre` replaced, which covers the pre-tokenizers
//! that have no vocabulary here (see its README).
//!
//! test-tokenizer-0 only prints the detokenized text; the round trips that llama.cpp checks are in
//! `test-tokenizer-1-spm` (for llama-spm): every token's text, and every code point, tokenizes
//! and detokenizes back to itself. Those are checked here for both SPM families; for BPE
//! families without `clean_spaces`, detokenizing the expected ids must give the text back.

use std::path::PathBuf;

use llama_core::gguf::GgufFile;
use llama_core::vocab::{Vocab, VocabParts};

const SEPARATOR: &str = "\n__ggml_vocab_test__\n";

fn vocab_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vocab")
}

/// The texts of `.inp`, split exactly like test-tokenizer-0's `read_tests`.
fn split_inputs(raw: &str) -> Vec<&str> {
    let mut texts = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        match raw[pos..].find(SEPARATOR) {
            Some(next) => {
                texts.push(&raw[pos..pos + next]);
                pos += next + SEPARATOR.len();
            }
            None => {
                texts.push(&raw[pos..]);
                break;
            }
        }
    }
    texts
}

fn parse_ids(line: &str) -> Vec<u32> {
    line.split_whitespace()
        .map(|t| t.parse().expect("token id in .out"))
        .collect()
}

struct Vectors {
    vocab: Vocab,
    cases: Vec<(String, Vec<u32>)>,
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Pairs the texts of an `.inp` file with the id lines of its `.out` file.
fn cases(what: &str, inp: &str, out: &str) -> Vec<(String, Vec<u32>)> {
    let texts = split_inputs(inp);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(texts.len(), lines.len(), "{what}: .inp and .out disagree");
    texts
        .iter()
        .zip(lines)
        .map(|(t, l)| (t.to_string(), parse_ids(l)))
        .collect()
}

fn gguf_path(family: &str) -> PathBuf {
    vocab_dir().join(format!("ggml-vocab-{family}.gguf"))
}

fn load(family: &str) -> Vectors {
    let base = gguf_path(family);
    let mut file = GgufFile::open(&base).unwrap_or_else(|e| panic!("{}: {e}", base.display()));
    let vocab = Vocab::take_from_gguf(&mut file).unwrap_or_else(|e| panic!("{family}: {e}"));
    let (inp, out) = (
        read(base.with_extension("gguf.inp")),
        read(base.with_extension("gguf.out")),
    );
    Vectors {
        vocab,
        cases: cases(family, &inp, &out),
    }
}

/// Counts the cases that tokenize exactly (`add_special` off); prints each mismatch.
fn count_exact(
    what: &str,
    vocab: &Vocab,
    cases: &[(String, Vec<u32>)],
    parse_special: bool,
) -> usize {
    let mut exact = 0;
    for (text, want) in cases {
        let got = vocab.tokenize(text, false, parse_special);
        if &got == want {
            exact += 1;
        } else {
            eprintln!("{what}: {text:?}\n  want {want:?}\n  got  {got:?}");
        }
    }
    exact
}

/// The differential vectors of `testdata/vocab/fuzz/<name>.out`.
fn check_fuzz(name: &str, vocab: &Vocab) {
    check_fuzz_file(name, vocab, false);
}

/// `testdata/vocab/fuzz/<name>.out`, or with `parse_special` `<name>.special.out`.
fn check_fuzz_file(name: &str, vocab: &Vocab, parse_special: bool) {
    let dir = vocab_dir().join("fuzz");
    let file = if parse_special {
        format!("{name}.special.out")
    } else {
        format!("{name}.out")
    };
    let cases = cases(name, &read(dir.join("fuzz.inp")), &read(dir.join(file)));
    let exact = count_exact(name, vocab, &cases, parse_special);
    let how = if parse_special {
        " (parse_special)"
    } else {
        ""
    };
    println!("{name}: {exact}/{} fuzz texts exact{how}", cases.len());
    assert_eq!(
        exact,
        cases.len(),
        "{name}: fuzz tokenization differs from llama.cpp"
    );
}

/// `family`'s vocabulary with `tokenizer.ggml.pre` replaced by `pre` against its fuzz vectors.
fn check_pre_override(family: &str, pre: &str) {
    let file = GgufFile::open(gguf_path(family)).expect("vocabulary file opens");
    let mut parts = VocabParts::from_gguf(&file).expect("vocabulary parts");
    parts.pre = Some(pre.to_string());
    let vocab = Vocab::from_parts(parts).expect("vocabulary builds");
    check_fuzz(&format!("{family}@{pre}"), &vocab);
}

/// Tokenizes every text; prints one line per mismatch and the family's score, then fails
/// unless all are exact. Also checks that `add_special` adds BOS exactly when llama.cpp would
/// (`tokenizer.ggml.add_bos_token`, else the family default) and never EOS (no family here has
/// `add_eos`).
fn check_family(family: &str, add_bos: bool) -> Vectors {
    let v = load(family);
    assert_eq!(v.vocab.add_bos(), add_bos, "{family}: add_bos");
    assert!(!v.vocab.add_eos(), "{family}: add_eos");
    let plain = v.vocab.tokenize("Hello world", false, false);
    let special = v.vocab.tokenize("Hello world", true, false);
    let bos: Vec<u32> = v.vocab.bos().filter(|_| add_bos).into_iter().collect();
    assert_eq!(special, [bos, plain].concat(), "{family}: add_special");
    let exact = count_exact(family, &v.vocab, &v.cases, false);
    println!("{family}: {exact}/{} texts exact", v.cases.len());
    assert_eq!(
        exact,
        v.cases.len(),
        "{family}: tokenization differs from llama.cpp"
    );
    check_fuzz(family, &v.vocab);
    v
}

/// test-tokenizer-1-spm's first loop: every token's text (`common_detokenize([id])`, which
/// renders special tokens) tokenizes (`parse_special`) and detokenizes back to itself.
fn check_spm_round_trip(family: &str, v: &Vectors) {
    let mut failures = 0;
    for id in 0..v.vocab.n_tokens() as u32 {
        let text = v.vocab.detokenize_with(&[id], false, true);
        let tokens = v.vocab.tokenize(&text, false, true);
        let back = v.vocab.detokenize_with(&tokens, false, true);
        if back != text {
            failures += 1;
            if failures <= 5 {
                eprintln!("{family}: token {id} {text:?} round-trips to {back:?}");
            }
        }
    }
    assert_eq!(failures, 0, "{family}: token round trip");
}

/// test-tokenizer-1-spm's second loop: every code point (except surrogates and the unassigned
/// planes 4..=14) tokenizes and detokenizes back to itself; U+2581 (`▁`) is exempt there.
fn check_code_point_round_trip(family: &str, v: &Vectors) {
    let mut failures = 0;
    let mut buf = [0u8; 4];
    let points = (0..0x11_0000u32).filter(|cp| !(0x4_0000..=0xE_0000).contains(cp));
    for c in points.filter_map(char::from_u32) {
        let text: &str = c.encode_utf8(&mut buf);
        let back = v
            .vocab
            .detokenize_with(&v.vocab.tokenize(text, false, true), false, true);
        if c != '\u{2581}' && back != text {
            failures += 1;
            if failures <= 5 {
                eprintln!("{family}: U+{:04X} round-trips to {back:?}", c as u32);
            }
        }
    }
    assert_eq!(failures, 0, "{family}: code point round trip");
}

/// Detokenizing the expected ids of the plain-text cases gives the text back, where llama.cpp's
/// detokenizer is lossless for them (it is not when `clean_spaces` rewrites " ," etc.).
fn check_text_round_trip(family: &str, v: &Vectors) {
    for (text, want) in &v.cases {
        let back = v.vocab.detokenize_with(want, false, false);
        assert_eq!(&back, text, "{family}: detokenize of the expected ids");
    }
}

#[test]
fn llama_bpe() {
    let v = check_family("llama-bpe", true);
    check_fuzz_file("llama-bpe", &v.vocab, true);
}

#[test]
fn llama_spm() {
    let v = check_family("llama-spm", true);
    check_spm_round_trip("llama-spm", &v);
    check_code_point_round_trip("llama-spm", &v);
    check_fuzz_file("llama-spm", &v.vocab, true);
}

#[test]
fn phi_3() {
    let v = check_family("phi-3", true);
    check_spm_round_trip("phi-3", &v);
    check_code_point_round_trip("phi-3", &v);
    check_fuzz_file("phi-3", &v.vocab, true);
}

#[test]
fn qwen2() {
    let v = check_family("qwen2", false);
    check_text_round_trip("qwen2", &v);
    check_fuzz_file("qwen2", &v.vocab, true);
}

#[test]
fn qwen35() {
    let v = check_family("qwen35", false);
    check_text_round_trip("qwen35", &v);
}

#[test]
fn mpt() {
    let v = check_family("mpt", false);
    check_fuzz_file("mpt", &v.vocab, true);
}

#[test]
fn gpt_2() {
    check_family("gpt-2", false);
}

#[test]
fn deepseek_llm() {
    let v = check_family("deepseek-llm", true);
    check_text_round_trip("deepseek-llm", &v);
}

#[test]
fn deepseek_coder() {
    let v = check_family("deepseek-coder", true);
    check_text_round_trip("deepseek-coder", &v);
}

#[test]
fn falcon() {
    check_family("falcon", false);
}

#[test]
fn starcoder() {
    check_family("starcoder", false);
}

#[test]
fn command_r() {
    let v = check_family("command-r", true);
    check_text_round_trip("command-r", &v);
    check_fuzz_file("command-r", &v.vocab, true);
}

#[test]
fn refact() {
    check_family("refact", false);
}

#[test]
fn pre_bloom() {
    check_pre_override("gpt-2", "bloom");
}

#[test]
fn pre_viking() {
    check_pre_override("gpt-2", "viking");
}

#[test]
fn pre_chameleon() {
    check_pre_override("gpt-2", "chameleon");
}

#[test]
fn pre_default() {
    check_pre_override("gpt-2", "default");
}

#[test]
fn pre_laguna() {
    check_pre_override("qwen2", "laguna");
}

/// Llama-3's regex without `ignore_merges`.
#[test]
fn pre_dbrx() {
    check_pre_override("llama-bpe", "dbrx");
}

#[test]
fn pre_deepseek_v3() {
    check_pre_override("llama-bpe", "deepseek-v3");
}

#[test]
fn pre_spark2_5() {
    check_pre_override("llama-bpe", "spark2_5");
}

#[test]
fn pre_youtu() {
    check_pre_override("llama-bpe", "youtu");
}

#[test]
fn pre_tekken() {
    check_pre_override("llama-bpe", "tekken");
}

#[test]
fn pre_gpt_4o() {
    check_pre_override("llama-bpe", "gpt-4o");
}

#[test]
fn pre_granite_embed_multi() {
    check_pre_override("llama-bpe", "granite-embed-multi-97m");
}

#[test]
fn pre_bailingmoe() {
    check_pre_override("qwen2", "bailingmoe");
}

#[test]
fn pre_seed_coder() {
    check_pre_override("llama-bpe", "seed-coder");
}

#[test]
fn pre_ufakzeka() {
    check_pre_override("qwen2", "ufakzeka");
}

#[test]
fn pre_exaone_moe() {
    check_pre_override("llama-bpe", "exaone-moe");
}

#[test]
fn pre_minicpm5() {
    check_pre_override("llama-bpe", "minicpm5");
}

#[test]
fn pre_tiny_aya() {
    check_pre_override("llama-bpe", "tiny_aya");
}

#[test]
fn pre_afmoe() {
    check_pre_override("llama-bpe", "afmoe");
}

#[test]
fn separator_parsing_matches_test_tokenizer_0() {
    assert_eq!(
        split_inputs("a\n__ggml_vocab_test__\n\n__ggml_vocab_test__\nb\n"),
        ["a", "", "b\n"]
    );
    assert_eq!(split_inputs("x\n__ggml_vocab_test__\n"), ["x"]);
    assert_eq!(parse_ids(" 1 22 333"), [1, 22, 333]);
    assert!(parse_ids("").is_empty());
}
