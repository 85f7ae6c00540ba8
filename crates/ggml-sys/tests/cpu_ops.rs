//! Checks the linked ggml through the raw API: version, matmuls against naive Rust, quantization.

use ggml_sys as g;
use std::ptr;

/// Fixed-seed pseudo-random floats in [-1, 1).
fn floats(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Owns a ggml context with its own memory pool.
struct Ctx(*mut g::ggml_context);

impl Ctx {
    fn new(mem: usize) -> Self {
        let params = g::ggml_init_params {
            mem_size: mem,
            mem_buffer: ptr::null_mut(),
            no_alloc: false,
        };
        // SAFETY: plain constructor; the result is checked for null.
        let ctx = unsafe { g::ggml_init(params) };
        assert!(!ctx.is_null());
        Ctx(ctx)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context came from ggml_init and is freed once.
        unsafe { g::ggml_free(self.0) }
    }
}

fn quantize(ty: g::ggml_type, data: &[f32], n_per_row: usize) -> Vec<u8> {
    let nrows = data.len() / n_per_row;
    // SAFETY: pure function of the type id.
    let row_size = unsafe { g::ggml_row_size(ty, n_per_row as i64) };
    let mut out = vec![0u8; row_size * nrows];
    // SAFETY: `out` holds nrows quantized rows of n_per_row values; `data` holds nrows * n_per_row floats.
    let written = unsafe {
        g::ggml_quantize_chunk(
            ty,
            data.as_ptr(),
            out.as_mut_ptr().cast(),
            0,
            nrows as i64,
            n_per_row as i64,
            ptr::null(),
        )
    };
    assert_eq!(written, out.len());
    out
}

fn dequantize(ty: g::ggml_type, q: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![0f32; n];
    // SAFETY: the traits table is static; to_float reads n values' worth of blocks from q.
    unsafe {
        let traits = g::ggml_get_type_traits(ty);
        let f = (*traits).to_float.expect("to_float");
        f(q.as_ptr().cast(), out.as_mut_ptr(), n as i64);
    }
    out
}

/// Computes W·X with ggml (W: [k, m] of type `ty`, X: [k, n] F32) and returns F32 [m, n].
fn ggml_matmul(ty: g::ggml_type, w: &[f32], x: &[f32], k: usize, m: usize, n: usize) -> Vec<f32> {
    let ctx = Ctx::new(64 << 20);
    // SAFETY: tensors live in ctx, sizes match the buffers copied in; the graph is computed before
    // the result is read, and everything is freed with ctx.
    unsafe {
        let wt = g::ggml_new_tensor_2d(ctx.0, ty, k as i64, m as i64);
        let bytes = if ty == g::GGML_TYPE_F32 {
            w.iter().flat_map(|v| v.to_le_bytes()).collect()
        } else {
            quantize(ty, w, k)
        };
        assert_eq!(bytes.len(), g::ggml_nbytes(wt));
        ptr::copy_nonoverlapping(bytes.as_ptr(), (*wt).data.cast::<u8>(), bytes.len());
        let xt = g::ggml_new_tensor_2d(ctx.0, g::GGML_TYPE_F32, k as i64, n as i64);
        ptr::copy_nonoverlapping(x.as_ptr(), (*xt).data.cast::<f32>(), x.len());
        let y = g::ggml_mul_mat(ctx.0, wt, xt);
        let gf = g::ggml_new_graph(ctx.0);
        g::ggml_build_forward_expand(gf, y);
        let status = g::ggml_graph_compute_with_ctx(ctx.0, gf, 2);
        assert_eq!(status, g::GGML_STATUS_SUCCESS);
        std::slice::from_raw_parts((*y).data.cast::<f32>(), m * n).to_vec()
    }
}

fn naive_matmul(w: &[f32], x: &[f32], k: usize, m: usize, n: usize) -> Vec<f32> {
    let mut y = vec![0f32; m * n];
    for j in 0..n {
        for i in 0..m {
            y[j * m + i] = (0..k).map(|l| w[i * k + l] * x[j * k + l]).sum();
        }
    }
    y
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn version_is_the_vendored_release() {
    assert_eq!(g::version(), "0.25.3");
    assert!(!g::commit().is_empty());
    assert!(g::BUILD_PATH == "cc" || g::BUILD_PATH == "cmake");
}

#[test]
fn f32_matmul_matches_naive_rust() {
    let (k, m, n) = (96, 33, 7);
    let (w, x) = (floats(k * m, 1), floats(k * n, 2));
    let got = ggml_matmul(g::GGML_TYPE_F32, &w, &x, k, m, n);
    let want = naive_matmul(&w, &x, k, m, n);
    assert!(
        max_abs_diff(&got, &want) < 1e-4,
        "diff {}",
        max_abs_diff(&got, &want)
    );
}

#[test]
fn q4_1_matmul_matches_naive_rust_on_dequantized_weights() {
    let (k, m, n) = (256, 48, 5);
    let (w, x) = (floats(k * m, 3), floats(k * n, 4));
    let wq = dequantize(
        g::GGML_TYPE_Q4_1,
        &quantize(g::GGML_TYPE_Q4_1, &w, k),
        k * m,
    );
    let got = ggml_matmul(g::GGML_TYPE_Q4_1, &w, &x, k, m, n);
    let want = naive_matmul(&wq, &x, k, m, n);
    // ggml quantizes the activations to Q8_1 for the dot product: allow for that rounding.
    let scale = want.iter().map(|v| v.abs()).fold(0.0, f32::max);
    assert!(
        max_abs_diff(&got, &want) < 0.02 * scale,
        "diff {}",
        max_abs_diff(&got, &want)
    );
}

#[test]
fn q8_0_matmul_matches_naive_rust_on_dequantized_weights() {
    let (k, m, n) = (128, 20, 3);
    let (w, x) = (floats(k * m, 5), floats(k * n, 6));
    let wq = dequantize(
        g::GGML_TYPE_Q8_0,
        &quantize(g::GGML_TYPE_Q8_0, &w, k),
        k * m,
    );
    let got = ggml_matmul(g::GGML_TYPE_Q8_0, &w, &x, k, m, n);
    let want = naive_matmul(&wq, &x, k, m, n);
    let scale = want.iter().map(|v| v.abs()).fold(0.0, f32::max);
    assert!(
        max_abs_diff(&got, &want) < 0.01 * scale,
        "diff {}",
        max_abs_diff(&got, &want)
    );
}

#[test]
fn quantize_dequantize_round_trips_within_each_types_error_bound() {
    let n = 4096;
    let data = floats(n, 7);
    // (type, bound on max abs error for values in [-1, 1)) from each format's step size.
    let cases = [
        (g::GGML_TYPE_F16, 1e-3),
        (g::GGML_TYPE_BF16, 1e-2),
        (g::GGML_TYPE_Q8_0, 1.0 / 127.0),
        (g::GGML_TYPE_Q4_0, 2.0 / 7.0),
        (g::GGML_TYPE_Q4_1, 2.0 / 15.0),
        (g::GGML_TYPE_Q5_0, 2.0 / 15.0),
        (g::GGML_TYPE_Q5_1, 2.0 / 31.0),
        (g::GGML_TYPE_Q6_K, 2.0 / 31.0),
        (g::GGML_TYPE_Q4_K, 2.0 / 7.0),
    ];
    for (ty, bound) in cases {
        let back = dequantize(ty, &quantize(ty, &data, 256), n);
        let err = max_abs_diff(&data, &back);
        assert!(err <= bound, "type {ty}: max error {err} > {bound}");
        assert!(
            err > 0.0 || ty == g::GGML_TYPE_F16,
            "type {ty}: lossless round trip is suspicious"
        );
    }
}
