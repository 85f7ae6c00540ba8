//! Deterministic random weights and their GGUF encodings (F32, F16, Q8_0) for the tiny models.

use crate::error::Result;
use crate::gguf::{GgmlType, GgufWriter};

/// xorshift64 generator: the same seed gives the same weights on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; zero is remapped, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [-1, 1).
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// `n` values uniform in [-scale, scale).
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_f32() * scale).collect()
    }

    /// `n` values uniform in [1 - spread, 1 + spread): norm scales and frequency factors.
    pub fn around_one(&mut self, n: usize, spread: f32) -> Vec<f32> {
        self.vec(n, spread).into_iter().map(|v| 1.0 + v).collect()
    }
}

/// IEEE half-precision bits, rounding to nearest (ties away from zero) in the normal range;
/// values below it flush to zero (the fixtures never produce them except as exact zeros).
pub fn f16_bits(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32 - 127 + 15;
    if v == 0.0 || exp <= 0 {
        return sign;
    }
    let mant = b & 0x7f_ffff;
    let mut h = ((exp as u32) << 10) | (mant >> 13);
    if mant & 0x1000 != 0 {
        h += 1;
    }
    sign | h as u16
}

/// `data` as little-endian F16 bytes.
pub fn as_f16(data: &[f32]) -> Vec<u8> {
    data.iter()
        .flat_map(|&v| f16_bits(v).to_le_bytes())
        .collect()
}

/// Q8_0: blocks of 32 values, an f16 scale then 32 signed bytes.
pub fn as_q8_0(data: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 32 * 34);
    for block in data.chunks(32) {
        let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        out.extend_from_slice(&f16_bits(d).to_le_bytes());
        for &v in block {
            let q = if d == 0.0 { 0 } else { (v / d).round() as i8 };
            out.push(q as u8);
        }
    }
    out
}

/// Adds a random weight tensor of `dims` (innermost first) with values in ±`scale`/√ne0:
/// Q8_0 when rows are whole blocks, else F16.
pub fn add_weight(
    w: &mut GgufWriter,
    rng: &mut Rng,
    name: &str,
    dims: &[usize],
    scale: f32,
) -> Result<()> {
    let n: usize = dims.iter().product();
    let data = rng.vec(n, scale / (dims[0] as f32).sqrt());
    let shape: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
    if dims[0].is_multiple_of(32) {
        w.add_tensor(name, &shape, GgmlType::Q8_0, as_q8_0(&data))
    } else {
        w.add_tensor(name, &shape, GgmlType::F16, as_f16(&data))
    }
}

/// Adds an F32 vector of values near 1 (norm scales).
pub fn add_norm(w: &mut GgufWriter, rng: &mut Rng, name: &str, n: usize) -> Result<()> {
    w.add_f32_tensor(name, &[n as u64], &rng.around_one(n, 0.2))
}
