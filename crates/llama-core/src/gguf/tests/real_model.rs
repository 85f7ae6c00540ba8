//! Reads the real SmolLM2-135M GGUF (skipped with a message when the file is absent; a failure
//! under `CI`).

use std::path::PathBuf;

use crate::gguf::{GgmlType, GgufFile};

const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// `LLAMA_TEST_MODEL`, else `models/<file>` in the nearest ancestor of the crate that has it.
fn model_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("LLAMA_TEST_MODEL") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|dir| dir.join("models").join(MODEL_FILE))
        .find(|p| p.is_file())
}

fn open_model() -> Option<GgufFile> {
    match model_path() {
        Some(path) => Some(GgufFile::open(&path).unwrap()),
        None => {
            let msg = format!("{MODEL_FILE} not found (run `cargo xtask fetch-model`)");
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("skipping: {msg}");
            None
        }
    }
}

#[test]
fn smollm2_header_counts_and_metadata() {
    let Some(f) = open_model() else { return };
    assert!(f.is_mmapped());
    assert_eq!(f.version(), 3);
    assert_eq!(f.tensors().len(), 272);
    assert_eq!(f.metadata().len(), 33);
    // The file-level counts in the header agree with what was parsed.
    let bytes = f.as_bytes();
    let n_tensors = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    let n_kv = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
    assert_eq!((n_tensors, n_kv), (272, 33));

    let md = f.metadata();
    assert_eq!(md.get_str("general.architecture").unwrap(), Some("llama"));
    assert_eq!(md.require_u32("llama.block_count").unwrap(), 30);
    assert_eq!(md.require_usize("llama.embedding_length").unwrap(), 576);
    assert_eq!(md.get_str("tokenizer.ggml.pre").unwrap(), Some("smollm"));
    let tokens = md.require_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 49152);
    assert_eq!(
        md.require_i32_array("tokenizer.ggml.token_type")
            .unwrap()
            .len(),
        49152
    );
    assert!(
        md.require_f32("llama.attention.layer_norm_rms_epsilon")
            .unwrap()
            > 0.0
    );
    assert!(md
        .require_str("tokenizer.chat_template")
        .unwrap()
        .contains("im_start"));
}

#[test]
fn smollm2_tensors_are_typed_and_inside_the_file() {
    let Some(f) = open_model() else { return };
    let embd = f.require_tensor("token_embd.weight").unwrap();
    assert_eq!(embd.ggml_type(), GgmlType::Q8_0);
    assert_eq!(embd.dims(), &[576, 49152]);
    assert_eq!(embd.n_bytes(), 576 / 32 * 34 * 49152);
    assert_eq!(f.tensor_data(embd).len() as u64, embd.n_bytes());
    assert_eq!(f.data_offset() % f.alignment(), 0);
    let mut end = 0;
    for t in f.tensors() {
        assert!(t.file_range().end <= f.file_size(), "{}", t.name());
        assert_eq!(t.file_offset() % f.alignment(), 0, "{}", t.name());
        end = end.max(t.file_range().end);
    }
    // The data section of this file ends exactly at the end of the file.
    assert_eq!(end, f.file_size());
    let q4_1 = f
        .tensors()
        .iter()
        .filter(|t| t.ggml_type() == GgmlType::Q4_1)
        .count();
    assert!(q4_1 > 0);
}
