//! Whole-file tests of the GGUF reader: round trips, malformed files, mutation robustness, real model.

mod malformed;
mod real_model;
mod robustness;
mod roundtrip;

use super::value::GgufValue;
use super::writer::{encode_string, encode_value};

/// Hand-assembles GGUF bytes, including invalid ones the writer refuses to produce.
pub(super) struct Raw {
    pub buf: Vec<u8>,
}

impl Raw {
    pub fn header(version: u32, n_tensors: u64, n_kv: u64) -> Self {
        let mut buf = b"GGUF".to_vec();
        buf.extend_from_slice(&version.to_le_bytes());
        buf.extend_from_slice(&n_tensors.to_le_bytes());
        buf.extend_from_slice(&n_kv.to_le_bytes());
        Self { buf }
    }

    pub fn u32(mut self, v: u32) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn u64(mut self, v: u64) -> Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.buf.extend_from_slice(b);
        self
    }

    pub fn string(mut self, s: &str) -> Self {
        encode_string(&mut self.buf, s);
        self
    }

    pub fn kv(mut self, key: &str, value: &GgufValue) -> Self {
        encode_string(&mut self.buf, key);
        encode_value(&mut self.buf, value);
        self
    }

    /// A tensor info with raw (possibly invalid) dims and type id.
    pub fn tensor(mut self, name: &str, dims: &[i64], type_id: u32, offset: u64) -> Self {
        encode_string(&mut self.buf, name);
        self.buf
            .extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            self.buf.extend_from_slice(&d.to_le_bytes());
        }
        self.buf.extend_from_slice(&type_id.to_le_bytes());
        self.buf.extend_from_slice(&offset.to_le_bytes());
        self
    }

    /// Zero-pads to a multiple of `alignment`, then appends `data_len` zero bytes.
    pub fn data(mut self, alignment: usize, data_len: usize) -> Self {
        let aligned = self.buf.len().div_ceil(alignment) * alignment;
        self.buf.resize(aligned + data_len, 0);
        self
    }
}
