//! `GgufWriter`: builds valid GGUF v2/v3 files (metadata of every type, aligned tensor data).

use std::collections::HashSet;
use std::convert::Infallible;
use std::io::Write;
use std::path::Path;

use super::ggml_type::GgmlType;
use super::parse::{ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_ARRAY_DEPTH};
use super::tensor::{TensorInfo, MAX_DIMS};
use super::value::{GgufArray, GgufValue};
use crate::error::{Error, Result};

/// Builder for GGUF files. Everything it accepts, `GgufFile` reads back:
/// keys and tensor names are unique, shapes are whole blocks, data sizes
/// match shapes, and tensors are laid out in insertion order, each padded to
/// the alignment (as gguf.cpp does).
#[derive(Debug, Clone)]
pub struct GgufWriter {
    version: u32,
    metadata: Vec<(String, GgufValue)>,
    tensors: Vec<PendingTensor>,
    tensor_names: HashSet<String>,
}

#[derive(Debug, Clone)]
struct PendingTensor {
    info: TensorInfo,
    data: Vec<u8>,
}

fn invalid(reason: String) -> Error {
    Error::GgufWriter { reason }
}

impl Default for GgufWriter {
    fn default() -> Self {
        Self::new()
    }
}

macro_rules! scalar_adders {
    ($($(#[$doc:meta])* $fn:ident($t:ty) => $variant:ident;)*) => {$(
        $(#[$doc])*
        pub fn $fn(&mut self, key: impl Into<String>, value: $t) -> Result<()> {
            self.add(key, GgufValue::$variant(value))
        }
    )*};
}

impl GgufWriter {
    /// An empty version-3 file.
    pub fn new() -> Self {
        Self {
            version: 3,
            metadata: Vec::new(),
            tensors: Vec::new(),
            tensor_names: HashSet::new(),
        }
    }

    /// Chooses the format version: 2 or 3 (same layout, both little-endian).
    pub fn set_version(&mut self, version: u32) -> Result<()> {
        if !(2..=3).contains(&version) {
            return Err(invalid(format!("version {version} is not 2 or 3")));
        }
        self.version = version;
        Ok(())
    }

    /// Sets `general.alignment` (adding or replacing it); must be a non-zero power of two.
    pub fn set_alignment(&mut self, alignment: u32) -> Result<()> {
        self.set(ALIGNMENT_KEY, GgufValue::U32(alignment))
    }

    /// The alignment the file will use.
    pub fn alignment(&self) -> u64 {
        match self.value(ALIGNMENT_KEY) {
            Some(GgufValue::U32(a)) => u64::from(*a),
            _ => DEFAULT_ALIGNMENT,
        }
    }

    fn value(&self, key: &str) -> Option<&GgufValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn check_value(key: &str, value: &GgufValue) -> Result<()> {
        if key.is_empty() {
            return Err(invalid("empty key".to_string()));
        }
        if key == ALIGNMENT_KEY && !matches!(value, GgufValue::U32(a) if a.is_power_of_two()) {
            return Err(invalid(format!(
                "{ALIGNMENT_KEY} must be a u32 power of two, got {} {value}",
                value.type_name()
            )));
        }
        if let GgufValue::Array(a) = value {
            if array_depth(a) > MAX_ARRAY_DEPTH {
                return Err(invalid(format!(
                    "key '{key}': arrays nested deeper than {MAX_ARRAY_DEPTH}"
                )));
            }
        }
        Ok(())
    }

    /// Appends a new key; a duplicate or empty key is an error.
    pub fn add(&mut self, key: impl Into<String>, value: GgufValue) -> Result<()> {
        let key = key.into();
        Self::check_value(&key, &value)?;
        if self.value(&key).is_some() {
            return Err(invalid(format!("duplicate key '{key}'")));
        }
        self.metadata.push((key, value));
        Ok(())
    }

    /// Replaces the value of `key` in place, or appends it when absent.
    pub fn set(&mut self, key: impl Into<String>, value: GgufValue) -> Result<()> {
        let key = key.into();
        Self::check_value(&key, &value)?;
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.metadata.push((key, value)),
        }
        Ok(())
    }

    /// Removes `key`; returns its value if it was present.
    pub fn remove(&mut self, key: &str) -> Option<GgufValue> {
        let pos = self.metadata.iter().position(|(k, _)| k == key)?;
        Some(self.metadata.remove(pos).1)
    }

    scalar_adders! {
        /// Adds a `u8` value.
        add_u8(u8) => U8;
        /// Adds an `i8` value.
        add_i8(i8) => I8;
        /// Adds a `u16` value.
        add_u16(u16) => U16;
        /// Adds an `i16` value.
        add_i16(i16) => I16;
        /// Adds a `u32` value.
        add_u32(u32) => U32;
        /// Adds an `i32` value.
        add_i32(i32) => I32;
        /// Adds a `u64` value.
        add_u64(u64) => U64;
        /// Adds an `i64` value.
        add_i64(i64) => I64;
        /// Adds an `f32` value.
        add_f32(f32) => F32;
        /// Adds an `f64` value.
        add_f64(f64) => F64;
        /// Adds a `bool` value.
        add_bool(bool) => Bool;
        /// Adds an array value (any element type, including nested arrays).
        add_array(GgufArray) => Array;
    }

    /// Adds a string value.
    pub fn add_string(&mut self, key: impl Into<String>, value: impl Into<String>) -> Result<()> {
        self.add(key, GgufValue::String(value.into()))
    }

    /// Adds an array of strings.
    pub fn add_str_array<S: Into<String>>(
        &mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Result<()> {
        let v = values.into_iter().map(Into::into).collect();
        self.add(key, GgufValue::Array(GgufArray::String(v)))
    }

    /// Adds an array of `f32`.
    pub fn add_f32_array(&mut self, key: impl Into<String>, values: &[f32]) -> Result<()> {
        self.add(key, GgufValue::Array(GgufArray::F32(values.to_vec())))
    }

    /// Adds an array of `i32`.
    pub fn add_i32_array(&mut self, key: impl Into<String>, values: &[i32]) -> Result<()> {
        self.add(key, GgufValue::Array(GgufArray::I32(values.to_vec())))
    }

    /// Adds an array of `u32`.
    pub fn add_u32_array(&mut self, key: impl Into<String>, values: &[u32]) -> Result<()> {
        self.add(key, GgufValue::Array(GgufArray::U32(values.to_vec())))
    }

    /// Adds a tensor. `dims` are ggml order (innermost first, 0..=4 of them,
    /// each > 0) and `data` must be exactly the tensor's byte size.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ggml_type: GgmlType,
        data: Vec<u8>,
    ) -> Result<()> {
        let name = name.into();
        if self.tensor_names.contains(&name) {
            return Err(invalid(format!("duplicate tensor '{name}'")));
        }
        if dims.len() > MAX_DIMS || dims.iter().any(|&d| d == 0 || d > i64::MAX as u64) {
            return Err(invalid(format!("tensor '{name}': invalid dims {dims:?}")));
        }
        let info = TensorInfo::new(name.clone(), dims.to_vec(), ggml_type, 0)?;
        if u64::try_from(data.len()).ok() != Some(info.n_bytes()) {
            return Err(invalid(format!(
                "tensor '{name}': {} bytes of data, shape {dims:?} of {ggml_type} needs {}",
                data.len(),
                info.n_bytes()
            )));
        }
        self.tensor_names.insert(name);
        self.tensors.push(PendingTensor { info, data });
        Ok(())
    }

    /// Adds an F32 tensor from values (little-endian encoded).
    pub fn add_f32_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        values: &[f32],
    ) -> Result<()> {
        let data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_tensor(name, dims, GgmlType::F32, data)
    }

    /// Number of metadata pairs added so far.
    pub fn n_kv(&self) -> usize {
        self.metadata.len()
    }

    /// Number of tensors added so far.
    pub fn n_tensors(&self) -> usize {
        self.tensors.len()
    }

    /// Encodes the whole file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self.emit(&mut out) {
            Ok(()) => out,
            Err(never) => match never {},
        }
    }

    /// Streams the whole file to `w`.
    pub fn write_to<W: Write>(&self, w: W) -> std::io::Result<()> {
        let mut sink = IoSink(w);
        self.emit(&mut sink)?;
        sink.0.flush()
    }

    /// Writes the whole file to `path` (created or truncated).
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io_err = |source| Error::GgufIo {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io_err)?;
        self.write_to(std::io::BufWriter::new(file)).map_err(io_err)
    }

    fn emit<S: Sink>(&self, sink: &mut S) -> std::result::Result<(), S::Err> {
        let alignment = self.alignment();
        let mut head = Vec::new();
        head.extend_from_slice(&GGUF_MAGIC);
        head.extend_from_slice(&self.version.to_le_bytes());
        put_len(&mut head, self.tensors.len());
        put_len(&mut head, self.metadata.len());
        for (key, value) in &self.metadata {
            encode_string(&mut head, key);
            encode_value(&mut head, value);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            encode_tensor_info(&mut head, &t.info, offset);
            offset += padded(t.info.n_bytes(), alignment);
        }
        pad_vec(&mut head, alignment);
        sink.put(&head)?;
        for t in &self.tensors {
            sink.put(&t.data)?;
            let pad = padded(t.info.n_bytes(), alignment) - t.info.n_bytes();
            sink.put(&vec![0u8; pad as usize])?;
        }
        Ok(())
    }
}

fn array_depth(a: &GgufArray) -> usize {
    match a {
        GgufArray::Array(items) => 1 + items.iter().map(array_depth).max().unwrap_or(0),
        _ => 1,
    }
}

trait Sink {
    type Err;
    fn put(&mut self, bytes: &[u8]) -> std::result::Result<(), Self::Err>;
}

impl Sink for Vec<u8> {
    type Err = Infallible;
    fn put(&mut self, bytes: &[u8]) -> std::result::Result<(), Infallible> {
        self.extend_from_slice(bytes);
        Ok(())
    }
}

struct IoSink<W: Write>(W);

impl<W: Write> Sink for IoSink<W> {
    type Err = std::io::Error;
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write_all(bytes)
    }
}

fn padded(n: u64, alignment: u64) -> u64 {
    // Sizes here come from in-memory buffers, far below u64::MAX.
    n.div_ceil(alignment) * alignment
}

fn pad_vec(out: &mut Vec<u8>, alignment: u64) {
    let target = padded(out.len() as u64, alignment) as usize;
    out.resize(target, 0);
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

/// Appends a GGUF string (u64 length + bytes).
pub(crate) fn encode_string(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// Appends a value's type id followed by its encoding.
pub(crate) fn encode_value(out: &mut Vec<u8>, value: &GgufValue) {
    out.extend_from_slice(&value.value_type().id().to_le_bytes());
    match value {
        GgufValue::U8(v) => out.push(*v),
        GgufValue::I8(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::U16(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::I16(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::I32(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::F32(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::F64(v) => out.extend_from_slice(&v.to_le_bytes()),
        GgufValue::Bool(v) => out.push(u8::from(*v)),
        GgufValue::String(s) => encode_string(out, s),
        GgufValue::Array(a) => encode_array_body(out, a),
    }
}

/// Appends an array's element type, count and elements (no leading array type id).
pub(crate) fn encode_array_body(out: &mut Vec<u8>, array: &GgufArray) {
    out.extend_from_slice(&array.element_type().id().to_le_bytes());
    put_len(out, array.len());
    fn each<T>(out: &mut Vec<u8>, items: &[T], f: impl Fn(&mut Vec<u8>, &T)) {
        for item in items {
            f(out, item);
        }
    }
    match array {
        GgufArray::U8(v) => out.extend_from_slice(v),
        GgufArray::I8(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::U16(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::I16(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::U32(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::I32(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::U64(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::I64(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::F32(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::F64(v) => each(out, v, |o, x| o.extend_from_slice(&x.to_le_bytes())),
        GgufArray::Bool(v) => each(out, v, |o, x| o.push(u8::from(*x))),
        GgufArray::String(v) => each(out, v, |o, s| encode_string(o, s)),
        GgufArray::Array(v) => each(out, v, encode_array_body),
    }
}

/// Appends one tensor info record with the given data-section offset.
pub(crate) fn encode_tensor_info(out: &mut Vec<u8>, info: &TensorInfo, offset: u64) {
    encode_string(out, info.name());
    out.extend_from_slice(&(info.n_dims() as u32).to_le_bytes());
    for &d in info.dims() {
        out.extend_from_slice(&d.to_le_bytes());
    }
    out.extend_from_slice(&info.ggml_type().id().to_le_bytes());
    out.extend_from_slice(&offset.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;

    #[test]
    fn duplicate_and_empty_keys_are_refused() {
        let mut w = GgufWriter::new();
        w.add_u32("k", 1).unwrap();
        assert!(matches!(w.add_u32("k", 2), Err(Error::GgufWriter { .. })));
        assert!(matches!(w.add_u32("", 2), Err(Error::GgufWriter { .. })));
        assert_eq!(w.n_kv(), 1);
    }

    #[test]
    fn set_replaces_in_place_and_remove_drops() {
        let mut w = GgufWriter::new();
        w.add_u32("a", 1).unwrap();
        w.add_u32("b", 2).unwrap();
        w.set("a", GgufValue::String("x".into())).unwrap();
        assert_eq!(w.remove("b"), Some(GgufValue::U32(2)));
        let f = GgufFile::from_bytes(w.to_bytes()).unwrap();
        let kv: Vec<_> = f
            .metadata()
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        assert_eq!(kv, [("a".to_string(), GgufValue::String("x".into()))]);
    }

    #[test]
    fn invalid_alignment_is_refused() {
        let mut w = GgufWriter::new();
        assert!(w.set_alignment(0).is_err());
        assert!(w.set_alignment(24).is_err());
        assert!(w.add_u64(ALIGNMENT_KEY, 32).is_err());
        w.set_alignment(16).unwrap();
        assert_eq!(w.alignment(), 16);
    }

    #[test]
    fn tensor_shape_and_data_size_are_validated() {
        let mut w = GgufWriter::new();
        assert!(w
            .add_tensor("a", &[33], GgmlType::Q8_0, vec![0; 34])
            .is_err());
        assert!(w
            .add_tensor("a", &[32], GgmlType::Q8_0, vec![0; 33])
            .is_err());
        assert!(w.add_tensor("a", &[0], GgmlType::F32, vec![]).is_err());
        assert!(w
            .add_tensor("a", &[1, 1, 1, 1, 1], GgmlType::F32, vec![0; 4])
            .is_err());
        w.add_tensor("a", &[32], GgmlType::Q8_0, vec![0; 34])
            .unwrap();
        assert!(w.add_f32_tensor("a", &[1], &[0.0]).is_err());
        assert_eq!(w.n_tensors(), 1);
    }

    #[test]
    fn version_must_be_2_or_3() {
        let mut w = GgufWriter::new();
        assert!(w.set_version(1).is_err());
        assert!(w.set_version(4).is_err());
        w.set_version(2).unwrap();
        assert_eq!(GgufFile::from_bytes(w.to_bytes()).unwrap().version(), 2);
    }

    #[test]
    fn too_deep_arrays_are_refused() {
        let mut a = GgufArray::U8(vec![]);
        for _ in 0..MAX_ARRAY_DEPTH {
            a = GgufArray::Array(vec![a]);
        }
        assert!(GgufWriter::new().add_array("deep", a).is_err());
    }

    #[test]
    fn layout_pads_header_and_each_tensor_like_gguf_cpp() {
        let mut w = GgufWriter::new();
        w.add_f32_tensor("a", &[1], &[1.0]).unwrap();
        w.add_f32_tensor("b", &[3], &[1.0, 2.0, 3.0]).unwrap();
        let bytes = w.to_bytes();
        let f = GgufFile::from_bytes(bytes.clone()).unwrap();
        assert_eq!(f.tensor("b").unwrap().offset(), 32);
        assert_eq!(bytes.len() as u64, f.data_offset() + 64);
        let mut streamed = Vec::new();
        w.write_to(&mut streamed).unwrap();
        assert_eq!(streamed, bytes);
    }
}
