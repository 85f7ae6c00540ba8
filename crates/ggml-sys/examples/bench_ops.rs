//! Times a fixed set of ggml CPU ops through the raw FFI and prints one JSON line per op.
//!
//! The ops are SmolLM2-135M-shaped (n_embd 576, n_ff 1536, 9 query / 3 KV heads of 64): quantized
//! matmuls for decode (1 token) and prefill (512 tokens), F16 flash attention, softmax and
//! rms_norm. Each op gets its own allocating context and graph; it is warmed up, then run `reps`
//! times; the median and the minimum wall time of one graph computation are reported (on a busy
//! machine the minimum is the steadier of the two: ggml's threads spin at barriers, so a
//! preempted thread stalls the whole op).
//!
//! Usage: `cargo run --release -p ggml-sys --example bench_ops [--features cmake] --
//! [--threads N] [--reps N] [--target-ms MS] [--op NAME] [--list]`. Without `--reps`, each op
//! runs for about `--target-ms` (default 300) after warm-up; `--op` times just one op, `--list`
//! prints their names. `cargo xtask bench-ggml` runs it for both builds.
//!
//! The graph is planned once and its work buffer reused, as ggml's CPU backend does:
//! `ggml_graph_compute_with_ctx` would carve a fresh work buffer out of the context on every call,
//! so the context would fill up and each timed run would first-touch new pages.

use ggml_sys as g;
use std::os::raw::c_int;
use std::ptr;
use std::time::{Duration, Instant};

const N_EMBD: i64 = 576;
const N_FF: i64 = 1536;
const HEAD_DIM: i64 = 64;
const N_HEAD: i64 = 9;
const N_HEAD_KV: i64 = 3;
const N_KV: i64 = 512;
const PREFILL: i64 = 512;
const RMS_EPS: f32 = 1e-5;

/// One benchmarked op.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// W [k × m] of `ty` times X [k × n] F32.
    MulMat {
        ty: g::ggml_type,
        k: i64,
        m: i64,
        n: i64,
    },
    /// F32 Q, F16 K/V (not transposed), causal F16 mask.
    FlashAttn { n_tokens: i64 },
    /// Scaled, masked softmax over KQ scores [n_kv × n_tokens × n_head].
    SoftMax { n_tokens: i64 },
    /// rms_norm over [n_embd × n_tokens].
    RmsNorm { n_tokens: i64 },
}

const OPS: &[(&str, Op)] = &[
    (
        "mul_mat_q4_1_576x1536_n1",
        Op::MulMat {
            ty: g::GGML_TYPE_Q4_1,
            k: N_EMBD,
            m: N_FF,
            n: 1,
        },
    ),
    (
        "mul_mat_q4_1_576x1536_n512",
        Op::MulMat {
            ty: g::GGML_TYPE_Q4_1,
            k: N_EMBD,
            m: N_FF,
            n: PREFILL,
        },
    ),
    (
        "mul_mat_q8_0_576x1536_n1",
        Op::MulMat {
            ty: g::GGML_TYPE_Q8_0,
            k: N_EMBD,
            m: N_FF,
            n: 1,
        },
    ),
    (
        "mul_mat_q8_0_576x1536_n512",
        Op::MulMat {
            ty: g::GGML_TYPE_Q8_0,
            k: N_EMBD,
            m: N_FF,
            n: PREFILL,
        },
    ),
    ("flash_attn_f16_kv512_n1", Op::FlashAttn { n_tokens: 1 }),
    (
        "flash_attn_f16_kv512_n512",
        Op::FlashAttn { n_tokens: PREFILL },
    ),
    ("soft_max_kv512_n512_h9", Op::SoftMax { n_tokens: PREFILL }),
    ("rms_norm_576_n512", Op::RmsNorm { n_tokens: PREFILL }),
];

/// Command-line options.
#[derive(Debug, Clone, Copy)]
struct Opts {
    threads: c_int,
    reps: Option<usize>,
    target: Duration,
    /// Index into OPS: time only that op.
    only: Option<usize>,
    /// Print the op names and exit.
    list: bool,
}

const USAGE: &str =
    "usage: bench_ops [--threads N] [--reps N] [--target-ms MS] [--op NAME] [--list]";

fn parse_opts() -> Result<Opts, String> {
    let mut opts = Opts {
        threads: 2,
        reps: None,
        target: Duration::from_millis(300),
        only: None,
        list: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--list" {
            opts.list = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{arg} {value}: {e}"))
        };
        match arg.as_str() {
            "--threads" => opts.threads = c_int::try_from(number()?).map_err(|e| e.to_string())?,
            "--reps" => opts.reps = Some(number()?.max(1) as usize),
            "--target-ms" => opts.target = Duration::from_millis(number()?),
            "--op" => {
                let i = OPS.iter().position(|(name, _)| *name == value);
                opts.only = Some(i.ok_or_else(|| format!("unknown op {value} (see --list)"))?);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if opts.threads < 1 {
        return Err("--threads must be at least 1".into());
    }
    Ok(opts)
}

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

/// A context holding one op's inputs, output and graph, plus the graph's reusable work buffer.
struct Bench {
    ctx: *mut g::ggml_context,
    graph: *mut g::ggml_cgraph,
    plan: g::ggml_cplan,
    _work: Vec<u8>,
}

impl Bench {
    /// Builds the graph for `op` in a fresh allocating context and plans it for `threads`.
    fn new(op: Op, threads: c_int) -> Self {
        let params = g::ggml_init_params {
            mem_size: 96 << 20,
            mem_buffer: ptr::null_mut(),
            no_alloc: false,
        };
        // SAFETY: plain constructor; the result is checked for null.
        let ctx = unsafe { g::ggml_init(params) };
        assert!(!ctx.is_null(), "ggml_init failed");
        // SAFETY: ctx is a live allocating context with room for every tensor built here.
        let out = unsafe { build_op(ctx, op) };
        // SAFETY: ctx is live; `out` belongs to it; the plan only reads the graph.
        unsafe {
            let graph = g::ggml_new_graph(ctx);
            g::ggml_build_forward_expand(graph, out);
            let mut plan = g::ggml_graph_plan(graph, threads, ptr::null_mut());
            let mut work = vec![0u8; plan.work_size];
            plan.work_data = if work.is_empty() {
                ptr::null_mut()
            } else {
                work.as_mut_ptr()
            };
            Bench {
                ctx,
                graph,
                plan,
                _work: work,
            }
        }
    }

    /// Computes the graph once and returns how long it took.
    fn run(&mut self) -> Duration {
        let start = Instant::now();
        // SAFETY: graph and plan come from `new`; the work buffer is owned by self and sized by
        // the plan.
        let status = unsafe { g::ggml_graph_compute(self.graph, &mut self.plan) };
        let elapsed = start.elapsed();
        assert_eq!(status, g::GGML_STATUS_SUCCESS, "ggml_graph_compute failed");
        elapsed
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        // SAFETY: the context came from ggml_init and is freed once.
        unsafe { g::ggml_free(self.ctx) }
    }
}

/// # Safety
/// `ctx` must be a live allocating context with room for the op's tensors.
unsafe fn build_op(ctx: *mut g::ggml_context, op: Op) -> *mut g::ggml_tensor {
    // SAFETY: forwarded from the caller.
    unsafe {
        match op {
            Op::MulMat { ty, k, m, n } => {
                let w = weights(ctx, ty, k, m);
                let x = f32_tensor(ctx, [k, n, 1], 2);
                g::ggml_mul_mat(ctx, w, x)
            }
            Op::FlashAttn { n_tokens } => {
                let q = f32_tensor(ctx, [HEAD_DIM, n_tokens, N_HEAD], 3);
                let k = f16_tensor(ctx, [HEAD_DIM, N_KV, N_HEAD_KV], 4);
                let v = f16_tensor(ctx, [HEAD_DIM, N_KV, N_HEAD_KV], 5);
                let mask = causal_mask(ctx, n_tokens);
                let scale = 1.0 / (HEAD_DIM as f32).sqrt();
                g::ggml_flash_attn_ext(ctx, q, k, v, mask, scale, 0.0, 0.0)
            }
            Op::SoftMax { n_tokens } => {
                let kq = f32_tensor(ctx, [N_KV, n_tokens, N_HEAD], 6);
                let mask = causal_mask(ctx, n_tokens);
                g::ggml_soft_max_ext(ctx, kq, mask, 1.0 / (HEAD_DIM as f32).sqrt(), 0.0)
            }
            Op::RmsNorm { n_tokens } => {
                let x = f32_tensor(ctx, [N_EMBD, n_tokens, 1], 7);
                g::ggml_rms_norm(ctx, x, RMS_EPS)
            }
        }
    }
}

/// A [k × m] weight matrix of type `ty`, quantized from random floats.
///
/// # Safety
/// `ctx` must be a live allocating context with room for the tensor.
unsafe fn weights(
    ctx: *mut g::ggml_context,
    ty: g::ggml_type,
    k: i64,
    m: i64,
) -> *mut g::ggml_tensor {
    let data = floats((k * m) as usize, 1);
    // SAFETY: the tensor's data holds m rows of k values of `ty`, which is what quantize_chunk
    // writes from m * k floats.
    unsafe {
        let t = g::ggml_new_tensor_2d(ctx, ty, k, m);
        let written = g::ggml_quantize_chunk(ty, data.as_ptr(), (*t).data, 0, m, k, ptr::null());
        assert_eq!(written, g::ggml_nbytes(t), "quantize_chunk size");
        t
    }
}

/// A random F32 tensor.
///
/// # Safety
/// `ctx` must be a live allocating context with room for the tensor.
unsafe fn f32_tensor(ctx: *mut g::ggml_context, ne: [i64; 3], seed: u64) -> *mut g::ggml_tensor {
    let data = floats((ne[0] * ne[1] * ne[2]) as usize, seed);
    // SAFETY: the new contiguous F32 tensor holds exactly data.len() floats.
    unsafe {
        let t = g::ggml_new_tensor_3d(ctx, g::GGML_TYPE_F32, ne[0], ne[1], ne[2]);
        ptr::copy_nonoverlapping(data.as_ptr(), (*t).data.cast::<f32>(), data.len());
        t
    }
}

/// A random F16 tensor.
///
/// # Safety
/// `ctx` must be a live allocating context with room for the tensor.
unsafe fn f16_tensor(ctx: *mut g::ggml_context, ne: [i64; 3], seed: u64) -> *mut g::ggml_tensor {
    let data = floats((ne[0] * ne[1] * ne[2]) as usize, seed);
    // SAFETY: see `fill_f16`.
    unsafe {
        let t = g::ggml_new_tensor_3d(ctx, g::GGML_TYPE_F16, ne[0], ne[1], ne[2]);
        fill_f16(t, &data);
        t
    }
}

/// Causal F16 mask [n_kv × n_tokens]: the last `n_tokens` of the `n_kv` positions are the batch.
///
/// # Safety
/// `ctx` must be a live allocating context with room for the tensor.
unsafe fn causal_mask(ctx: *mut g::ggml_context, n_tokens: i64) -> *mut g::ggml_tensor {
    let first = N_KV - n_tokens;
    let data: Vec<f32> = (0..n_tokens)
        .flat_map(|i| {
            (0..N_KV).map(move |j| {
                if j <= first + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    // SAFETY: see `fill_f16`.
    unsafe {
        let t = g::ggml_new_tensor_2d(ctx, g::GGML_TYPE_F16, N_KV, n_tokens);
        fill_f16(t, &data);
        t
    }
}

/// # Safety
/// `t` must be a contiguous F16 tensor of exactly `data.len()` elements with allocated data.
unsafe fn fill_f16(t: *mut g::ggml_tensor, data: &[f32]) {
    // SAFETY: guaranteed by the caller.
    unsafe { g::ggml_fp32_to_fp16_row(data.as_ptr(), (*t).data.cast(), data.len() as i64) }
}

/// Warms `bench` up, then times it; returns the sorted per-run times.
fn time_op(bench: &mut Bench, opts: &Opts) -> Vec<Duration> {
    let warm_start = Instant::now();
    let mut warm_runs = 0u32;
    while warm_runs < 3 || warm_start.elapsed() < Duration::from_millis(50) {
        bench.run();
        warm_runs += 1;
    }
    let per_run = warm_start.elapsed() / warm_runs;
    let reps = opts.reps.unwrap_or_else(|| {
        let fit = opts.target.as_nanos() / per_run.as_nanos().max(1);
        fit.clamp(20, 20_000) as usize
    });
    let mut times: Vec<Duration> = (0..reps).map(|_| bench.run()).collect();
    times.sort_unstable();
    times
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let opts = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench_ops: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if opts.list {
        OPS.iter().for_each(|(name, _)| println!("{name}"));
        return;
    }
    // SAFETY: idempotent one-time initialisation of ggml's CPU tables.
    unsafe { g::ggml_cpu_init() };
    for (i, &(name, op)) in OPS.iter().enumerate() {
        if opts.only.is_some_and(|only| only != i) {
            continue;
        }
        let mut bench = Bench::new(op, opts.threads);
        let times = time_op(&mut bench, &opts);
        println!(
            "{{\"op\":\"{name}\",\"build\":\"{}\",\"threads\":{},\"reps\":{},\"median_us\":{:.3},\
             \"min_us\":{:.3}}}",
            g::BUILD_PATH,
            opts.threads,
            times.len(),
            micros(times[times.len() / 2]),
            micros(times[0]),
        );
    }
}
