//! llama.cpp's attention rotation for quantized caches (`attn_rot_k`/`attn_rot_v` of
//! `llama_kv_cache`): Q and K, or V, are multiplied by an orthonormal Walsh-Hadamard matrix
//! before K/V are quantized into the cache, which spreads outliers over a block and so
//! loses less to quantization; the attention output is rotated back (H·H = I). Off with
//! `LLAMA_ATTN_ROT_DISABLE=1`, as in llama.cpp.

use super::{KvCache, KvTypes};
use crate::ggml::Tensor;

/// The rotation sizes `(k, v)` llama.cpp uses for these types and head sizes (None: no
/// rotation): a quantized K rotates Q and K in groups of the largest power of two (64 or more)
/// dividing the head size; a quantized V rotates V in groups of 64. Both need the head size to
/// be a multiple of 64.
pub(crate) fn rotation_sizes(
    types: KvTypes,
    head_dim_k: usize,
    head_dim_v: usize,
) -> (Option<usize>, Option<usize>) {
    if disabled_by_env() {
        return (None, None);
    }
    let k =
        (types.k.is_quantized() && head_dim_k > 0 && head_dim_k.is_multiple_of(64)).then(|| {
            let mut n = 64;
            while head_dim_k.is_multiple_of(n * 2) {
                n *= 2;
            }
            n
        });
    let v =
        (types.v.is_quantized() && head_dim_v > 0 && head_dim_v.is_multiple_of(64)).then_some(64);
    (k, v)
}

/// `LLAMA_ATTN_ROT_DISABLE` read as llama.cpp reads it (`atoi`, non-zero disables).
fn disabled_by_env() -> bool {
    let Ok(v) = std::env::var("LLAMA_ATTN_ROT_DISABLE") else {
        return false;
    };
    let digits: String = v
        .trim_start()
        .chars()
        .enumerate()
        .take_while(|&(i, c)| c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+')))
        .map(|(_, c)| c)
        .collect();
    digits.parse::<i64>().is_ok_and(|n| n != 0)
}

/// The orthonormal Walsh-Hadamard matrix of order `n` (a power of two), row-major, built as
/// llama.cpp's `ggml_gen_hadamard` builds it (same first element rounding).
pub fn hadamard(n: usize) -> Vec<f32> {
    let mut data = vec![0f32; n * n];
    // C: `1.0 / sqrtf(n)`: a float square root divided in double, then stored as float.
    data[0] = (1.0f64 / f64::from((n as f32).sqrt())) as f32;
    let mut s = 1;
    while s < n {
        for i in 0..s {
            for j in 0..s {
                let val = data[i * n + j];
                data[(i + s) * n + j] = val;
                data[i * n + j + s] = val;
                data[(i + s) * n + j + s] = -val;
            }
        }
        s *= 2;
    }
    data
}

impl KvCache {
    /// The rotation of Q and K for layer `il` (F32 `[n, n]`), when K is quantized.
    pub fn k_rot(&self, il: usize) -> Option<Tensor<'_>> {
        self.layer(il).k_rot.map(|t| self.arena.get(t))
    }

    /// The rotation of V and of the attention output for layer `il`, when V is quantized.
    pub fn v_rot(&self, il: usize) -> Option<Tensor<'_>> {
        self.layer(il).v_rot.map(|t| self.arena.get(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv_cache::KvCacheType;

    #[test]
    fn hadamard_is_orthonormal_and_symmetric() {
        for n in [64, 128, 256] {
            let h = hadamard(n);
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(h[i * n + j], h[j * n + i]);
                    let dot: f32 = (0..n).map(|k| h[i * n + k] * h[k * n + j]).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-5, "n {n} ({i},{j}): {dot}");
                }
            }
        }
    }

    #[test]
    fn sizes_follow_llama_cpp() {
        let t = |k, v| KvTypes { k, v };
        let (q8, f16) = (KvCacheType::Q8_0, KvCacheType::F16);
        assert_eq!(rotation_sizes(t(q8, q8), 64, 64), (Some(64), Some(64)));
        assert_eq!(rotation_sizes(t(q8, q8), 256, 256), (Some(256), Some(64)));
        assert_eq!(rotation_sizes(t(q8, q8), 192, 128), (Some(64), Some(64)));
        assert_eq!(rotation_sizes(t(q8, f16), 128, 128), (Some(128), None));
        assert_eq!(rotation_sizes(t(f16, q8), 96, 96), (None, None));
        assert_eq!(rotation_sizes(t(f16, f16), 64, 64), (None, None));
    }
}
