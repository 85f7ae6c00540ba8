//! Graph-building operations: each creates a result tensor in the [`Context`] it is called on.
//!
//! ggml checks shapes itself and aborts on a mismatch (never UB); views are additionally checked
//! here against their source's extent, since ggml does not account for custom strides.

use super::context::{Context, Tensor};
use ggml_sys as sys;
use std::os::raw::c_int;

/// RoPE settings shared by every `rope_ext` call of a model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RopeParams {
    pub n_dims: i32,
    pub mode: i32,
    pub n_ctx_orig: i32,
    pub freq_base: f32,
    pub freq_scale: f32,
    pub ext_factor: f32,
    pub attn_factor: f32,
    pub beta_fast: f32,
    pub beta_slow: f32,
}

impl Context {
    /// A new tensor of up to 4 dimensions (innermost first).
    pub fn new_tensor<'a>(&'a self, ty: sys::ggml_type, ne: &[i64]) -> Tensor<'a> {
        assert!(
            (1..=4).contains(&ne.len()),
            "ggml tensors have 1 to 4 dimensions"
        );
        // SAFETY: ne holds ne.len() dimensions; the context has metadata room (sized by caller).
        self.wrap(unsafe {
            sys::ggml_new_tensor(self.as_ptr(), ty, ne.len() as c_int, ne.as_ptr())
        })
    }

    /// A named graph input of type `ty` and shape `ne` (filled before each compute).
    pub fn new_input<'a>(&'a self, ty: sys::ggml_type, ne: &[i64], name: &str) -> Tensor<'a> {
        self.new_tensor(ty, ne).set_name(name).set_input()
    }

    /// Rows of `a` picked by the indices in `rows` (I32).
    pub fn get_rows<'a>(&'a self, a: Tensor<'a>, rows: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks the shapes.
        self.wrap(unsafe { sys::ggml_get_rows(self.as_ptr(), a.ptr(), rows.ptr()) })
    }

    /// Matrix product `a · b` (ggml's convention: `[k, m] · [k, n] → [m, n]`).
    pub fn mul_mat<'a>(&'a self, a: Tensor<'a>, b: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks the shapes.
        self.wrap(unsafe { sys::ggml_mul_mat(self.as_ptr(), a.ptr(), b.ptr()) })
    }

    /// RMS norm over rows (no learned scale): `a / sqrt(mean(a²) + eps)`.
    pub fn rms_norm<'a>(&'a self, a: Tensor<'a>, eps: f32) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_rms_norm(self.as_ptr(), a.ptr(), eps) })
    }

    /// LayerNorm without the affine part: `(a - mean) / sqrt(var + eps)` over rows.
    pub fn norm<'a>(&'a self, a: Tensor<'a>, eps: f32) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_norm(self.as_ptr(), a.ptr(), eps) })
    }

    /// Element-wise `a * b` (b broadcasts to a).
    pub fn mul<'a>(&'a self, a: Tensor<'a>, b: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks that b broadcasts to a.
        self.wrap(unsafe { sys::ggml_mul(self.as_ptr(), a.ptr(), b.ptr()) })
    }

    /// Element-wise `a + b` (b broadcasts to a).
    pub fn add<'a>(&'a self, a: Tensor<'a>, b: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks that b broadcasts to a.
        self.wrap(unsafe { sys::ggml_add(self.as_ptr(), a.ptr(), b.ptr()) })
    }

    /// `a * s`.
    pub fn scale<'a>(&'a self, a: Tensor<'a>, s: f32) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_scale(self.as_ptr(), a.ptr(), s) })
    }

    /// `silu(gate) * up`.
    pub fn swiglu_split<'a>(&'a self, gate: Tensor<'a>, up: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles of equal shape (checked by ggml).
        self.wrap(unsafe { sys::ggml_swiglu_split(self.as_ptr(), gate.ptr(), up.ptr()) })
    }

    /// `gelu(gate) * up` (tanh approximation, as llama.cpp's GELU feed-forward).
    pub fn geglu_split<'a>(&'a self, gate: Tensor<'a>, up: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles of equal shape (checked by ggml).
        self.wrap(unsafe { sys::ggml_geglu_split(self.as_ptr(), gate.ptr(), up.ptr()) })
    }

    /// Element-wise tanh.
    pub fn tanh<'a>(&'a self, a: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_tanh(self.as_ptr(), a.ptr()) })
    }

    /// A contiguous copy of `a` (of a view or permutation).
    pub fn cont<'a>(&'a self, a: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_cont(self.as_ptr(), a.ptr()) })
    }

    /// `a` converted to type `ty`.
    pub fn cast<'a>(&'a self, a: Tensor<'a>, ty: sys::ggml_type) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_cast(self.as_ptr(), a.ptr(), ty) })
    }

    /// `a` with its first two dimensions swapped (a view).
    pub fn transpose<'a>(&'a self, a: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handle; a transpose is a view with swapped strides.
        self.wrap(unsafe { sys::ggml_transpose(self.as_ptr(), a.ptr()) })
    }

    /// `a` with its dimensions moved: dimension `i` goes to `axes[i]` (a view).
    pub fn permute<'a>(&'a self, a: Tensor<'a>, axes: [i32; 4]) -> Tensor<'a> {
        // SAFETY: valid handle; ggml checks that axes is a permutation.
        self.wrap(unsafe {
            sys::ggml_permute(self.as_ptr(), a.ptr(), axes[0], axes[1], axes[2], axes[3])
        })
    }

    /// Reshapes a contiguous tensor (ggml checks contiguity and element count).
    pub fn reshape<'a>(&'a self, a: Tensor<'a>, ne: &[i64]) -> Tensor<'a> {
        // SAFETY: valid handle; ggml asserts contiguity and equal element counts.
        let p = unsafe {
            match *ne {
                [n0, n1] => sys::ggml_reshape_2d(self.as_ptr(), a.ptr(), n0, n1),
                [n0, n1, n2] => sys::ggml_reshape_3d(self.as_ptr(), a.ptr(), n0, n1, n2),
                [n0, n1, n2, n3] => sys::ggml_reshape_4d(self.as_ptr(), a.ptr(), n0, n1, n2, n3),
                [n0] => sys::ggml_reshape_1d(self.as_ptr(), a.ptr(), n0),
                _ => panic!("reshape takes 1 to 4 dimensions"),
            }
        };
        self.wrap(p)
    }

    /// A strided view of `a`: `ne` dimensions with byte strides `nb` (for dims 1..), at `offset`.
    pub fn view<'a>(
        &'a self,
        a: Tensor<'a>,
        ne: &[i64],
        nb: &[usize],
        offset: usize,
    ) -> Tensor<'a> {
        assert_eq!(
            nb.len() + 1,
            ne.len(),
            "a view needs one stride per outer dimension"
        );
        let row = super::row_size(a.ty(), ne[0]);
        let span = ne[1..]
            .iter()
            .zip(nb)
            .fold(row, |acc, (&n, &s)| acc + (n.max(1) as usize - 1) * s);
        assert!(
            offset + span <= a.nbytes(),
            "view of {span} bytes at {offset} exceeds its source"
        );
        // SAFETY: the view's extent lies inside `a` (checked above).
        let p = unsafe {
            match (ne, nb) {
                ([n0], []) => sys::ggml_view_1d(self.as_ptr(), a.ptr(), *n0, offset),
                ([n0, n1], [s1]) => {
                    sys::ggml_view_2d(self.as_ptr(), a.ptr(), *n0, *n1, *s1, offset)
                }
                ([n0, n1, n2], [s1, s2]) => {
                    sys::ggml_view_3d(self.as_ptr(), a.ptr(), *n0, *n1, *n2, *s1, *s2, offset)
                }
                ([n0, n1, n2, n3], [s1, s2, s3]) => sys::ggml_view_4d(
                    self.as_ptr(),
                    a.ptr(),
                    *n0,
                    *n1,
                    *n2,
                    *n3,
                    *s1,
                    *s2,
                    *s3,
                    offset,
                ),
                _ => panic!("views take 1 to 4 dimensions"),
            }
        };
        self.wrap(p)
    }

    /// Rotary position embedding of `a` at positions `pos` (I32), with optional frequency factors.
    pub fn rope_ext<'a>(
        &'a self,
        a: Tensor<'a>,
        pos: Tensor<'a>,
        factors: Option<Tensor<'a>>,
        p: &RopeParams,
    ) -> Tensor<'a> {
        let factors = factors.map_or(std::ptr::null_mut(), Tensor::ptr);
        // SAFETY: valid handles (factors may be null, which ggml accepts).
        self.wrap(unsafe {
            sys::ggml_rope_ext(
                self.as_ptr(),
                a.ptr(),
                pos.ptr(),
                factors,
                p.n_dims,
                p.mode,
                p.n_ctx_orig,
                p.freq_base,
                p.freq_scale,
                p.ext_factor,
                p.attn_factor,
                p.beta_fast,
                p.beta_slow,
            )
        })
    }

    /// Writes the rows of `src` into `dst` at the row indices in `idx` (I64); returns the updated `dst` view.
    pub fn set_rows<'a>(&'a self, dst: Tensor<'a>, src: Tensor<'a>, idx: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks shapes and index type.
        self.wrap(unsafe { sys::ggml_set_rows(self.as_ptr(), dst.ptr(), src.ptr(), idx.ptr()) })
    }

    /// Fused attention; `mask` is F16. Accumulates in F32.
    pub fn flash_attn_ext<'a>(
        &'a self,
        q: Tensor<'a>,
        k: Tensor<'a>,
        v: Tensor<'a>,
        mask: Tensor<'a>,
        scale: f32,
    ) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks shapes and the mask type.
        unsafe {
            let t = sys::ggml_flash_attn_ext(
                self.as_ptr(),
                q.ptr(),
                k.ptr(),
                v.ptr(),
                mask.ptr(),
                scale,
                0.0,
                0.0,
            );
            sys::ggml_flash_attn_ext_set_prec(t, sys::GGML_PREC_F32);
            self.wrap(t)
        }
    }

    /// Matrix product accumulated in F32 (for K·Q, which needs the range).
    pub fn mul_mat_f32<'a>(&'a self, a: Tensor<'a>, b: Tensor<'a>) -> Tensor<'a> {
        let t = self.mul_mat(a, b);
        // SAFETY: t is a MUL_MAT node just created.
        unsafe { sys::ggml_mul_mat_set_prec(t.ptr(), sys::GGML_PREC_F32) };
        t
    }

    /// `x` rotated by the orthonormal Walsh-Hadamard matrix `rot` (F32 `[n, n]`) in groups of `n`
    /// elements, shape kept: llama.cpp's `llama_mul_mat_hadamard`. The CPU backend computes it
    /// as a fast transform (the matmul's Hadamard hint); other backends multiply by `rot`.
    pub fn mul_mat_hadamard<'a>(&'a self, rot: Tensor<'a>, x: Tensor<'a>) -> Tensor<'a> {
        let n = rot.ne()[0];
        let ne = x.ne();
        let rows = x.nelements() / n;
        // SAFETY: valid handles; ggml asserts element counts; the hint is set on the MUL_MAT
        // node just created.
        unsafe {
            let (c, xp) = (self.as_ptr(), x.ptr());
            let flat = if sys::ggml_is_contiguous(xp) {
                sys::ggml_reshape_2d(c, xp, n, rows)
            } else {
                sys::ggml_cont_2d(c, xp, n, rows)
            };
            let prod = sys::ggml_mul_mat(c, rot.ptr(), flat);
            sys::ggml_mul_mat_set_hint(prod, sys::GGML_HINT_SRC0_IS_HADAMARD);
            self.wrap(sys::ggml_reshape_4d(c, prod, ne[0], ne[1], ne[2], ne[3]))
        }
    }

    /// `softmax(a * scale + mask)` over rows; `mask` is F16.
    pub fn soft_max_ext<'a>(&'a self, a: Tensor<'a>, mask: Tensor<'a>, scale: f32) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks shapes and the mask type.
        self.wrap(unsafe { sys::ggml_soft_max_ext(self.as_ptr(), a.ptr(), mask.ptr(), scale, 0.0) })
    }
}

/// Operations of mixture-of-experts feed-forward blocks (router, expert selection, expert matmuls).
impl Context {
    /// Softmax over the innermost dimension.
    pub fn soft_max<'a>(&'a self, a: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_soft_max(self.as_ptr(), a.ptr()) })
    }

    /// Indices (I32) of the `k` largest values of each row, largest first: `[k, rows...]`.
    pub fn argsort_top_k<'a>(&'a self, a: Tensor<'a>, k: usize) -> TopK<'a> {
        let n = a.ne()[0];
        assert!(k > 0 && k as i64 <= n, "top-k of {k} over rows of {n}");
        // SAFETY: valid handle; k lies in 1..=ne0 (checked above).
        let ids = self.wrap(unsafe { sys::ggml_argsort_top_k(self.as_ptr(), a.ptr(), k as c_int) });
        TopK { ids, n_choices: n }
    }

    /// Sum of each row: `[1, rows...]`.
    pub fn sum_rows<'a>(&'a self, a: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_sum_rows(self.as_ptr(), a.ptr()) })
    }

    /// Element-wise `a / b` (b broadcasts to a).
    pub fn div<'a>(&'a self, a: Tensor<'a>, b: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handles; ggml checks that b broadcasts to a.
        self.wrap(unsafe { sys::ggml_div(self.as_ptr(), a.ptr(), b.ptr()) })
    }

    /// `a` clamped to `[min, max]`.
    pub fn clamp<'a>(&'a self, a: Tensor<'a>, min: f32, max: f32) -> Tensor<'a> {
        // SAFETY: valid handle.
        self.wrap(unsafe { sys::ggml_clamp(self.as_ptr(), a.ptr(), min, max) })
    }

    /// SwiGLU of a fused `[gate; up]` tensor: `silu(first half) * second half` of each row.
    pub fn swiglu<'a>(&'a self, a: Tensor<'a>) -> Tensor<'a> {
        // SAFETY: valid handle; ggml checks that rows have an even length.
        self.wrap(unsafe { sys::ggml_swiglu(self.as_ptr(), a.ptr()) })
    }

    /// Per-token expert matmuls: `as_` is `[n_in, n_out, n_expert]`, `b` is `[n_in, n_b, n_tokens]`,
    /// `ids` picks `n_used` experts per token; the result is `[n_out, n_used, n_tokens]`.
    pub fn mul_mat_id<'a>(&'a self, as_: Tensor<'a>, b: Tensor<'a>, ids: &TopK<'a>) -> Tensor<'a> {
        // The CPU kernel reads expert `id` unchecked: ids are top-k indices over rows of exactly
        // `n_choices` values, so they are all below the expert count asserted here.
        assert_eq!(
            as_.ne()[2],
            ids.n_choices,
            "expert ids chosen among {} for {} experts",
            ids.n_choices,
            as_.ne()[2]
        );
        // SAFETY: valid handles; every id is below as_.ne[2] (above); ggml asserts the shapes.
        self.wrap(unsafe { sys::ggml_mul_mat_id(self.as_ptr(), as_.ptr(), b.ptr(), ids.ids.ptr()) })
    }
}

/// Top-k indices (I32 `[k, rows...]`) over rows of `n_choices` values: every id is below
/// `n_choices`, which is what makes them safe to use as expert ids in [`Context::mul_mat_id`].
#[derive(Debug, Clone, Copy)]
pub struct TopK<'a> {
    ids: Tensor<'a>,
    n_choices: i64,
}

impl<'a> TopK<'a> {
    /// The index tensor (for `get_rows`, which bounds-checks its rows itself).
    pub fn ids(&self) -> Tensor<'a> {
        self.ids
    }
}
