//! Deterministic mutation testing: truncations and byte corruptions of a valid file never panic.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::gguf::{GgmlType, GgufArray, GgufFile, GgufValue, GgufWriter};

/// A small file exercising every value type, nesting and several tensor types.
fn sample_file() -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.add_string("general.architecture", "llama").unwrap();
    w.add_u32("llama.block_count", 2).unwrap();
    w.add_i8("t.i8", -3).unwrap();
    w.add_u16("t.u16", 7).unwrap();
    w.add_i64("t.i64", -9).unwrap();
    w.add_f64("t.f64", 0.5).unwrap();
    w.add_bool("t.bool", true).unwrap();
    w.add_str_array("tokenizer.ggml.tokens", ["<s>", "a", "bc"])
        .unwrap();
    w.add_i32_array("tokenizer.ggml.token_type", &[3, 1, 1])
        .unwrap();
    w.add_f32_array("t.f32s", &[1.0, 2.0]).unwrap();
    let nested = GgufArray::Array(vec![GgufArray::U8(vec![1]), GgufArray::Bool(vec![false])]);
    w.add_array("t.nested", nested).unwrap();
    w.set_alignment(64).unwrap();
    w.add_f32_tensor("token_embd.weight", &[4, 3], &[0.5; 12])
        .unwrap();
    w.add_tensor("blk.0.q", &[32, 2], GgmlType::Q8_0, vec![7; 68])
        .unwrap();
    w.add_tensor("blk.0.k", &[256], GgmlType::Q4_K, vec![9; 144])
        .unwrap();
    w.to_bytes()
}

/// Reads everything a consumer could read, checking basic invariants.
fn touch_everything(f: &GgufFile) {
    let md = f.metadata();
    for (key, value) in md.iter() {
        let _ = (
            md.get_u32(key),
            md.get_i64(key),
            md.get_f32(key),
            md.get_bool(key),
        );
        let _ = (
            md.get_str(key),
            md.get_str_array(key),
            md.get_f32_array(key),
        );
        let _ = (
            md.get_i32_array(key),
            md.get_u64_array(key),
            value.to_string(),
        );
    }
    for t in f.tensors() {
        assert_eq!(f.tensor(t.name()), Some(t));
        assert_eq!(f.tensor_data(t).len() as u64, t.n_bytes());
        assert_eq!(
            t.file_offset() % f.alignment(),
            f.data_offset() % f.alignment()
        );
    }
}

fn check(bytes: Vec<u8>, case: &str) -> bool {
    let outcome = catch_unwind(AssertUnwindSafe(|| match GgufFile::from_bytes(bytes) {
        Ok(f) => {
            touch_everything(&f);
            true
        }
        Err(e) => {
            assert!(e.to_string().starts_with("gguf"), "{e}");
            false
        }
    }));
    match outcome {
        Ok(parsed) => parsed,
        Err(_) => panic!("parser panicked on {case}"),
    }
}

#[test]
fn sample_file_is_valid() {
    let f = GgufFile::from_bytes(sample_file()).unwrap();
    assert_eq!((f.metadata().len(), f.tensors().len()), (12, 3));
    touch_everything(&f);
}

#[test]
fn every_truncation_before_the_last_tensor_byte_is_an_error() {
    let full = sample_file();
    let f = GgufFile::from_bytes(full.clone()).unwrap();
    let needed = f
        .tensors()
        .iter()
        .map(|t| t.file_range().end)
        .max()
        .unwrap() as usize;
    for cut in 0..=full.len() {
        let parsed = check(full[..cut].to_vec(), &format!("truncation at {cut}"));
        assert_eq!(parsed, cut >= needed, "truncation at {cut}");
    }
}

/// xorshift64*: tiny, deterministic, good enough to spread mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Values likely to hit edge cases when written over a length, count or id.
const NASTY: [u64; 10] = [
    0,
    1,
    3,
    4,
    13,
    0x7f,
    1 << 31,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
];

fn mutate(rng: &mut Rng, bytes: &mut [u8]) {
    let header_end = bytes.len().min(2048);
    for _ in 0..=rng.below(3) {
        // Most interesting structure is in the header, so aim there mostly.
        let limit = if rng.below(4) == 0 {
            bytes.len()
        } else {
            header_end
        };
        let at = rng.below(limit);
        match rng.below(3) {
            0 => bytes[at] = rng.next() as u8,
            1 => bytes[at] ^= 1 << rng.below(8),
            _ => {
                let v = NASTY[rng.below(NASTY.len())].to_le_bytes();
                let width = [1, 2, 4, 8][rng.below(4)];
                for (i, b) in v.iter().take(width).enumerate() {
                    if let Some(slot) = bytes.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
        }
    }
}

#[test]
fn random_byte_corruption_never_panics() {
    let original = sample_file();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut ok, mut err) = (0, 0);
    for case in 0..5000 {
        let mut bytes = original.clone();
        mutate(&mut rng, &mut bytes);
        if rng.below(8) == 0 {
            let cut = rng.below(bytes.len());
            bytes.truncate(cut);
        }
        if check(bytes, &format!("mutation case {case}")) {
            ok += 1;
        } else {
            err += 1;
        }
    }
    // Both outcomes must occur, or the mutations are not reaching the parser's checks.
    assert!(ok > 100 && err > 1000, "ok={ok} err={err}");
}

#[test]
fn every_single_byte_corruption_of_the_header_never_panics() {
    let original = sample_file();
    let f = GgufFile::from_bytes(original.clone()).unwrap();
    let header_len = f.data_offset() as usize;
    for at in 0..header_len {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let mut bytes = original.clone();
            bytes[at] = value;
            check(bytes, &format!("byte {at} set to {value:#x}"));
        }
    }
}

#[test]
fn mutated_files_that_parse_still_describe_in_bounds_tensors() {
    let original = sample_file();
    let mut rng = Rng(42);
    let mut parsed = 0;
    for _ in 0..2000 {
        let mut bytes = original.clone();
        mutate(&mut rng, &mut bytes);
        let size = bytes.len() as u64;
        if let Ok(f) = GgufFile::from_bytes(bytes) {
            parsed += 1;
            for t in f.tensors() {
                assert!(t.file_range().end <= size);
                assert_eq!(
                    t.n_bytes(),
                    t.ggml_type().bytes_for(t.n_elements()).unwrap()
                );
            }
            if let Some(GgufValue::U32(a)) = f.metadata().get("general.alignment") {
                assert_eq!(u64::from(*a), f.alignment());
            }
        }
    }
    assert!(parsed > 0);
}
