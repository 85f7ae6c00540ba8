//! Writer -> reader round trips for every value type, tensors, alignment and versions.

use crate::gguf::{GgmlType, GgufArray, GgufFile, GgufValue, GgufWriter};

fn every_scalar() -> Vec<(&'static str, GgufValue)> {
    vec![
        ("t.u8", GgufValue::U8(250)),
        ("t.i8", GgufValue::I8(-120)),
        ("t.u16", GgufValue::U16(65000)),
        ("t.i16", GgufValue::I16(-32000)),
        ("t.u32", GgufValue::U32(4_000_000_000)),
        ("t.i32", GgufValue::I32(-2_000_000_000)),
        ("t.u64", GgufValue::U64(u64::MAX - 7)),
        ("t.i64", GgufValue::I64(i64::MIN + 3)),
        ("t.f32", GgufValue::F32(-1.5e-7)),
        ("t.f64", GgufValue::F64(std::f64::consts::PI)),
        ("t.bool_true", GgufValue::Bool(true)),
        ("t.bool_false", GgufValue::Bool(false)),
        (
            "t.string",
            GgufValue::String("héllo \u{1F600} <|im_start|>".into()),
        ),
        ("t.empty_string", GgufValue::String(String::new())),
    ]
}

fn every_array() -> Vec<(&'static str, GgufArray)> {
    vec![
        ("a.u8", GgufArray::U8(vec![0, 1, 255])),
        ("a.i8", GgufArray::I8(vec![-128, 0, 127])),
        ("a.u16", GgufArray::U16(vec![1, 65535])),
        ("a.i16", GgufArray::I16(vec![-32768, 32767])),
        ("a.u32", GgufArray::U32(vec![7, u32::MAX])),
        ("a.i32", GgufArray::I32(vec![i32::MIN, -1, 3])),
        ("a.u64", GgufArray::U64(vec![u64::MAX])),
        ("a.i64", GgufArray::I64(vec![i64::MIN, i64::MAX])),
        ("a.f32", GgufArray::F32(vec![0.25, -3.0, f32::MAX])),
        ("a.f64", GgufArray::F64(vec![1e300, -0.0])),
        ("a.bool", GgufArray::Bool(vec![true, false, true])),
        (
            "a.string",
            GgufArray::String(vec!["a".into(), String::new(), "ü".into()]),
        ),
        ("a.empty", GgufArray::U32(vec![])),
        (
            "a.nested",
            GgufArray::Array(vec![
                GgufArray::I32(vec![1, 2]),
                GgufArray::String(vec!["x".into()]),
                GgufArray::Array(vec![GgufArray::Bool(vec![true])]),
                GgufArray::F32(vec![]),
            ]),
        ),
    ]
}

fn all_values() -> Vec<(String, GgufValue)> {
    let mut out: Vec<(String, GgufValue)> = every_scalar()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    out.extend(
        every_array()
            .into_iter()
            .map(|(k, a)| (k.to_string(), GgufValue::Array(a))),
    );
    out
}

#[test]
fn every_value_type_round_trips_in_file_order() {
    let mut w = GgufWriter::new();
    for (k, v) in all_values() {
        w.add(k, v).unwrap();
    }
    let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
    let read: Vec<(String, GgufValue)> = f
        .metadata()
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    assert_eq!(read, all_values());
    assert_eq!(f.tensors().len(), 0);
}

#[test]
fn version_2_files_round_trip() {
    let mut w = GgufWriter::new();
    w.set_version(2).unwrap();
    w.add_string("general.name", "v2").unwrap();
    w.add_f32_tensor("t", &[2], &[1.0, 2.0]).unwrap();
    let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(f.version(), 2);
    assert_eq!(f.metadata().get_str("general.name").unwrap(), Some("v2"));
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn tensor_data_round_trips_and_is_aligned() {
    let mut w = GgufWriter::new();
    w.add_string("general.architecture", "llama").unwrap();
    w.add_f32_tensor("a", &[3], &[1.0, 2.0, 3.0]).unwrap();
    let q: Vec<u8> = (0..68u8).collect();
    w.add_tensor("b", &[64], GgmlType::Q8_0, q.clone()).unwrap();
    w.add_f32_tensor("c", &[2, 2, 1, 1], &[4.0, 5.0, 6.0, 7.0])
        .unwrap();
    let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(f.alignment(), 32);
    assert_eq!(f.data_offset() % 32, 0);
    let names: Vec<&str> = f.tensors().iter().map(|t| t.name()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    for t in f.tensors() {
        assert_eq!(t.offset() % 32, 0, "{}", t.name());
    }
    assert_eq!(f32s(f.tensor_data(f.tensor("a").unwrap())), [1.0, 2.0, 3.0]);
    assert_eq!(f.tensor_data(f.tensor("b").unwrap()), &q[..]);
    let c = f.require_tensor("c").unwrap();
    assert_eq!(
        (c.dims(), c.ggml_type()),
        (&[2u64, 2, 1, 1][..], GgmlType::F32)
    );
    assert_eq!(f32s(f.tensor_data(c)), [4.0, 5.0, 6.0, 7.0]);
}

#[test]
fn custom_alignment_is_used_for_data_and_offsets() {
    let mut w = GgufWriter::new();
    w.set_alignment(256).unwrap();
    w.add_f32_tensor("a", &[1], &[9.0]).unwrap();
    w.add_f32_tensor("b", &[1], &[8.0]).unwrap();
    let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
    assert_eq!(f.alignment(), 256);
    assert_eq!(f.data_offset() % 256, 0);
    assert_eq!(f.tensor("b").unwrap().offset(), 256);
    assert_eq!(f32s(f.tensor_data(f.tensor("b").unwrap())), [8.0]);
}

#[test]
fn missing_tensor_lookup_is_a_typed_error() {
    let f = GgufFile::from_bytes(GgufWriter::new().to_bytes()).unwrap();
    assert!(f.tensor("nope").is_none());
    let err = f.require_tensor("nope").unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn file_written_to_disk_opens_memory_mapped_without_copying() {
    let mut w = GgufWriter::new();
    w.add_u32("llama.block_count", 2).unwrap();
    w.add_f32_tensor("w", &[4], &[1.0, -1.0, 0.5, 2.0]).unwrap();
    let path = std::env::temp_dir().join(format!("scratch-gguf-mmap-{}.gguf", std::process::id()));
    w.write_file(&path).unwrap();
    let f = GgufFile::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(f.is_mmapped());
    assert_eq!(f.as_bytes(), &w.to_bytes()[..]);
    let t = f.tensor("w").unwrap();
    let data = f.tensor_data(t);
    let file_start = f.as_bytes().as_ptr() as usize;
    assert_eq!(
        data.as_ptr() as usize - file_start,
        t.file_offset() as usize
    );
    assert_eq!(f32s(data), [1.0, -1.0, 0.5, 2.0]);
}

#[test]
fn open_reports_missing_path() {
    let err = GgufFile::open("/nonexistent/dir/model.gguf").unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/dir/model.gguf"),
        "{err}"
    );
}

#[test]
fn empty_file_on_disk_is_truncated_error() {
    let path = std::env::temp_dir().join(format!("scratch-gguf-empty-{}.gguf", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let err = GgufFile::open(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        matches!(err, crate::error::Error::GgufTruncated { offset: 0, .. }),
        "{err:?}"
    );
}
