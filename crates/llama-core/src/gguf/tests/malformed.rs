//! One test per malformed-file case: each must be a typed error naming what and where.

use super::Raw;
use crate::error::Error;
use crate::gguf::{GgufArray, GgufFile, GgufValue};

const HEADER_LEN: u64 = 24;
const F32: u32 = 0;
const Q8_0: u32 = 8;

fn parse_err(bytes: Vec<u8>) -> Error {
    match GgufFile::from_bytes(bytes) {
        Ok(f) => panic!("expected an error, parsed {f:?}"),
        Err(e) => e,
    }
}

/// Length of a string as encoded (u64 length prefix + bytes).
fn slen(s: &str) -> u64 {
    8 + s.len() as u64
}

#[test]
fn truncated_header_names_the_field_and_offset() {
    let mut bytes = Raw::header(3, 0, 0).buf;
    bytes.truncate(10);
    match parse_err(bytes) {
        Error::GgufTruncated {
            offset,
            needed,
            available,
            context,
        } => assert_eq!(
            (offset, needed, available, context.as_str()),
            (8, 8, 2, "tensor count")
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn bad_magic_is_rejected() {
    let mut bytes = Raw::header(3, 0, 0).buf;
    bytes[..4].copy_from_slice(b"GGML");
    assert!(matches!(parse_err(bytes), Error::GgufBadMagic { found } if &found == b"GGML"));
}

#[test]
fn version_1_and_future_versions_are_unsupported() {
    for version in [0, 1, 4, 99] {
        match parse_err(Raw::header(version, 0, 0).buf) {
            Error::GgufUnsupportedVersion { version: v } => assert_eq!(v, version),
            e => panic!("{version}: {e:?}"),
        }
    }
}

#[test]
fn big_endian_file_is_rejected() {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_be_bytes());
    bytes.extend_from_slice(&0u64.to_be_bytes());
    bytes.extend_from_slice(&0u64.to_be_bytes());
    assert!(
        matches!(parse_err(bytes), Error::GgufBigEndian { version } if version == 3u32.swap_bytes())
    );
}

#[test]
fn unknown_value_type_names_key_and_offset() {
    let bytes = Raw::header(3, 0, 1).string("my.key").u32(13).u32(0).buf;
    match parse_err(bytes) {
        Error::GgufUnknownValueType {
            type_id,
            offset,
            context,
        } => {
            assert_eq!((type_id, offset), (13, HEADER_LEN + slen("my.key")));
            assert!(context.contains("my.key"), "{context}");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn unknown_array_element_type_is_rejected() {
    let bytes = Raw::header(3, 0, 1).string("k").u32(9).u32(200).u64(0).buf;
    match parse_err(bytes) {
        Error::GgufUnknownValueType {
            type_id, offset, ..
        } => {
            assert_eq!((type_id, offset), (200, HEADER_LEN + slen("k") + 4))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn unknown_tensor_type_names_tensor() {
    for type_id in [43, 1000] {
        let bytes = Raw::header(3, 1, 0)
            .tensor("w", &[32], type_id, 0)
            .data(32, 128)
            .buf;
        match parse_err(bytes) {
            Error::GgufUnknownTensorType {
                tensor,
                type_id: t,
                offset,
            } => assert_eq!(
                (tensor.as_str(), t, offset),
                ("w", type_id, HEADER_LEN + slen("w") + 4 + 8)
            ),
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn removed_tensor_types_are_rejected_by_name() {
    for (type_id, name) in [
        (4, "Q4_2"),
        (5, "Q4_3"),
        (31, "Q4_0_4_4"),
        (38, "IQ4_NL_8_8"),
    ] {
        let bytes = Raw::header(3, 1, 0)
            .tensor("w", &[32], type_id, 0)
            .data(32, 128)
            .buf;
        match parse_err(bytes) {
            Error::GgufRemovedTensorType {
                tensor, type_name, ..
            } => assert_eq!((tensor.as_str(), type_name), ("w", name)),
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn string_length_beyond_file_is_rejected_before_reading() {
    let bytes = Raw::header(3, 0, 1).u64(1 << 50).bytes(&[b'x'; 20]).buf;
    match parse_err(bytes) {
        Error::GgufCountExceedsFile {
            what,
            count,
            offset,
            remaining,
            ..
        } => assert_eq!(
            (what, count, offset, remaining),
            ("string length", 1 << 50, HEADER_LEN, 20)
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn huge_array_count_in_small_file_errors_immediately() {
    // 2^40 u64 elements (8 TiB) declared in a 1 KiB file: must fail on the
    // count check, never attempting the allocation.
    let mut raw = Raw::header(3, 0, 1)
        .string("big")
        .u32(9)
        .u32(10)
        .u64(1 << 40);
    raw.buf.resize(1024, 0);
    let start = std::time::Instant::now();
    match parse_err(raw.buf) {
        Error::GgufCountExceedsFile {
            what,
            count,
            offset,
            context,
            ..
        } => {
            assert_eq!((what, count), ("array count", 1 << 40));
            assert_eq!(offset, HEADER_LEN + slen("big") + 8);
            assert!(context.contains("big"), "{context}");
        }
        e => panic!("{e:?}"),
    }
    assert!(start.elapsed().as_secs() < 1);
}

#[test]
fn huge_string_array_count_is_checked_against_minimum_string_size() {
    // 200 strings need at least 1600 bytes of length prefixes; 1000 remain.
    let mut raw = Raw::header(3, 0, 1).string("s").u32(9).u32(8).u64(200);
    raw.buf.extend_from_slice(&[0u8; 1000]);
    assert!(matches!(
        parse_err(raw.buf),
        Error::GgufCountExceedsFile {
            what: "array count",
            count: 200,
            ..
        }
    ));
}

#[test]
fn huge_tensor_count_is_rejected() {
    let bytes = Raw::header(3, u64::MAX, 0).bytes(&[0u8; 100]).buf;
    match parse_err(bytes) {
        Error::GgufCountExceedsFile {
            what,
            count,
            offset,
            ..
        } => assert_eq!((what, count, offset), ("tensor count", u64::MAX, 8)),
        e => panic!("{e:?}"),
    }
}

#[test]
fn huge_kv_count_is_rejected() {
    let bytes = Raw::header(3, 0, 1 << 33).bytes(&[0u8; 100]).buf;
    match parse_err(bytes) {
        Error::GgufCountExceedsFile {
            what,
            count,
            offset,
            ..
        } => assert_eq!((what, count, offset), ("kv count", 1 << 33, 16)),
        e => panic!("{e:?}"),
    }
}

#[test]
fn dimension_product_overflow_is_rejected() {
    let bytes = Raw::header(3, 1, 0)
        .tensor("w", &[1 << 32, 1 << 32], F32, 0)
        .data(32, 64)
        .buf;
    match parse_err(bytes) {
        Error::GgufShapeOverflow { tensor, dims, .. } => {
            assert_eq!((tensor.as_str(), dims), ("w", vec![1 << 32, 1 << 32]))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn zero_and_negative_dims_are_rejected() {
    for (dims, bad_index, bad_value) in [
        (vec![4, 0], 1, 0),
        (vec![-1], 0, -1),
        (vec![2, 2, i64::MIN], 2, i64::MIN),
    ] {
        let bytes = Raw::header(3, 1, 0)
            .tensor("w", &dims, F32, 0)
            .data(32, 64)
            .buf;
        let dim_offset = HEADER_LEN + slen("w") + 4 + 8 * bad_index as u64;
        match parse_err(bytes) {
            Error::GgufInvalidDim {
                tensor,
                index,
                value,
                offset,
            } => assert_eq!(
                (tensor.as_str(), index, value, offset),
                ("w", bad_index, bad_value, dim_offset)
            ),
            e => panic!("{dims:?}: {e:?}"),
        }
    }
}

#[test]
fn more_than_four_dims_is_rejected() {
    let bytes = Raw::header(3, 1, 0)
        .tensor("w", &[1, 1, 1, 1, 1], F32, 0)
        .data(32, 4)
        .buf;
    match parse_err(bytes) {
        Error::GgufTooManyDims {
            tensor,
            n_dims,
            offset,
        } => assert_eq!(
            (tensor.as_str(), n_dims, offset),
            ("w", 5, HEADER_LEN + slen("w"))
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn row_not_multiple_of_block_size_is_rejected() {
    let bytes = Raw::header(3, 1, 0)
        .tensor("q", &[48, 2], Q8_0, 0)
        .data(32, 200)
        .buf;
    match parse_err(bytes) {
        Error::GgufRowNotBlockMultiple {
            tensor,
            row,
            block_size,
            type_name,
        } => assert_eq!(
            (tensor.as_str(), row, block_size, type_name),
            ("q", 48, 32, "q8_0")
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn misaligned_tensor_offset_is_rejected() {
    let bytes = Raw::header(3, 1, 0)
        .tensor("w", &[4], F32, 16)
        .data(32, 64)
        .buf;
    match parse_err(bytes) {
        Error::GgufMisalignedTensor {
            tensor,
            offset,
            alignment,
        } => assert_eq!((tensor.as_str(), offset, alignment), ("w", 16, 32)),
        e => panic!("{e:?}"),
    }
}

#[test]
fn misalignment_is_judged_against_general_alignment() {
    // Offset 32 is fine for the default alignment but not for 64.
    let bytes = Raw::header(3, 1, 1)
        .kv("general.alignment", &GgufValue::U32(64))
        .tensor("w", &[4], F32, 32)
        .data(64, 128)
        .buf;
    assert!(matches!(
        parse_err(bytes),
        Error::GgufMisalignedTensor { alignment: 64, .. }
    ));
}

#[test]
fn tensor_data_past_end_of_file_is_rejected() {
    // 8 f32 = 32 bytes of data, but only 31 present.
    let raw = Raw::header(3, 1, 0).tensor("w", &[8], F32, 0).data(32, 31);
    let size = raw.buf.len() as u64;
    match parse_err(raw.buf) {
        Error::GgufTensorOutOfBounds {
            tensor,
            start,
            end,
            file_size,
        } => {
            assert_eq!((tensor.as_str(), file_size), ("w", size));
            assert_eq!((end - start, end), (32, size + 1));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn tensor_offset_near_u64_max_is_out_of_bounds_without_overflow() {
    let bytes = Raw::header(3, 1, 0)
        .tensor("w", &[8], F32, u64::MAX - 31)
        .data(32, 32)
        .buf;
    assert!(matches!(
        parse_err(bytes),
        Error::GgufTensorOutOfBounds { .. }
    ));
}

#[test]
fn overlapping_tensors_are_rejected() {
    let bytes = Raw::header(3, 2, 0)
        .tensor("a", &[16], F32, 0)
        .tensor("b", &[8], F32, 32)
        .data(32, 64)
        .buf;
    match parse_err(bytes) {
        Error::GgufOverlappingTensors {
            first,
            second,
            first_end,
            second_start,
            ..
        } => {
            assert_eq!((first.as_str(), second.as_str()), ("a", "b"));
            assert_eq!(first_end - second_start, 32);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn duplicate_tensor_names_are_rejected() {
    let bytes = Raw::header(3, 2, 0)
        .tensor("w", &[8], F32, 0)
        .tensor("w", &[8], F32, 32)
        .data(32, 64)
        .buf;
    let second_name_offset = HEADER_LEN + slen("w") + 4 + 8 + 4 + 8;
    match parse_err(bytes) {
        Error::GgufDuplicateTensor { name, offset } => {
            assert_eq!((name.as_str(), offset), ("w", second_name_offset))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn duplicate_keys_are_rejected() {
    let v = GgufValue::U32(1);
    let bytes = Raw::header(3, 0, 2).kv("k", &v).kv("k", &v).buf;
    match parse_err(bytes) {
        Error::GgufDuplicateKey { key, offset } => {
            assert_eq!(
                (key.as_str(), offset),
                ("k", HEADER_LEN + slen("k") + 4 + 4)
            )
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn empty_key_is_rejected() {
    let bytes = Raw::header(3, 0, 1).kv("", &GgufValue::U8(1)).buf;
    assert!(matches!(
        parse_err(bytes),
        Error::GgufEmptyKey {
            index: 0,
            offset: HEADER_LEN
        }
    ));
}

fn raw_string(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

#[test]
fn invalid_utf8_in_key_value_or_tensor_name_is_rejected() {
    let bad = raw_string(&[b'a', 0xff, 0xfe]);
    let in_key = Raw::header(3, 0, 1).bytes(&bad).u32(4).u32(1).buf;
    let in_value = Raw::header(3, 0, 1).string("k").u32(8).bytes(&bad).buf;
    let in_name = Raw::header(3, 1, 0)
        .bytes(&bad)
        .u32(1)
        .u64(1)
        .u32(0)
        .u64(0)
        .buf;
    let value_start = HEADER_LEN + slen("k") + 4 + 8;
    for (bytes, want_offset, want_ctx) in [
        (in_key, HEADER_LEN + 8, "key #0"),
        (in_value, value_start, "value of key 'k'"),
        (in_name, HEADER_LEN + 8, "name of tensor #0"),
    ] {
        match parse_err(bytes) {
            Error::GgufInvalidUtf8 { offset, context } => {
                assert_eq!((offset, context.as_str()), (want_offset, want_ctx))
            }
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn alignment_must_be_nonzero_power_of_two() {
    for alignment in [0u32, 3, 48] {
        let bytes = Raw::header(3, 0, 1)
            .kv("general.alignment", &GgufValue::U32(alignment))
            .buf;
        match parse_err(bytes) {
            Error::GgufInvalidAlignment { alignment: a } => assert_eq!(a, u64::from(alignment)),
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn alignment_of_wrong_type_is_a_type_mismatch() {
    let bytes = Raw::header(3, 0, 1)
        .kv("general.alignment", &GgufValue::U64(32))
        .buf;
    match parse_err(bytes) {
        Error::GgufTypeMismatch {
            key,
            expected,
            found,
        } => {
            assert_eq!(
                (key.as_str(), expected, found.as_str()),
                ("general.alignment", "u32", "u64")
            )
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn arrays_nested_too_deep_are_rejected() {
    let mut raw = Raw::header(3, 0, 1).string("deep").u32(9);
    for _ in 0..20 {
        raw = raw.u32(9).u64(1);
    }
    raw = raw.u32(0).u64(0);
    assert!(matches!(
        parse_err(raw.buf),
        Error::GgufNestingTooDeep { max_depth: 8, .. }
    ));
}

#[test]
fn maximum_nesting_depth_is_accepted() {
    let mut a = GgufArray::U8(vec![1]);
    for _ in 1..crate::gguf::MAX_ARRAY_DEPTH {
        a = GgufArray::Array(vec![a]);
    }
    let bytes = Raw::header(3, 0, 1)
        .kv("deep", &GgufValue::Array(a.clone()))
        .buf;
    let f = GgufFile::from_bytes(bytes).unwrap();
    assert_eq!(f.metadata().get_array("deep").unwrap(), Some(&a));
}

#[test]
fn bool_byte_other_than_0_or_1_is_rejected() {
    let bytes = Raw::header(3, 0, 1).string("b").u32(7).bytes(&[2]).buf;
    match parse_err(bytes) {
        Error::GgufInvalidBool { value, offset, .. } => {
            assert_eq!((value, offset), (2, HEADER_LEN + slen("b") + 4))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn truncated_value_names_its_key() {
    let bytes = Raw::header(3, 0, 1)
        .string("llama.block_count")
        .u32(4)
        .bytes(&[1, 0])
        .buf;
    match parse_err(bytes) {
        Error::GgufTruncated {
            context, needed, ..
        } => {
            assert_eq!(needed, 4);
            assert!(context.contains("llama.block_count"), "{context}");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn truncated_tensor_info_names_its_tensor() {
    let mut bytes = Raw::header(3, 1, 0).tensor("blk.0.w", &[8], F32, 0).buf;
    bytes.truncate(bytes.len() - 3);
    match parse_err(bytes) {
        Error::GgufTruncated { context, .. } => assert_eq!(context, "tensor 'blk.0.w'"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn error_messages_carry_the_subsystem_prefix() {
    let err = parse_err(Raw::header(1, 0, 0).buf);
    assert!(err.to_string().starts_with("gguf: "), "{err}");
}
