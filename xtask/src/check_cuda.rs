//! `cargo xtask check-cuda [--arch 90] [--prefix DIR] [--release]`: proves the CUDA build compiles
//! and links on a machine without a GPU: installs the CUDA toolchain from PyPI into a private
//! prefix when absent, builds `llama-server --features otel,cuda` in its own target folder
//! (`target/cuda`, so the normal build is not invalidated), checks with `ldd` that it links
//! libcudart/libcublas, and runs `--version` and `--list-devices`, which must report no CUDA device
//! cleanly rather than crash.

use crate::util;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The CUDA 13 wheels (versions measured to build the vendored ggml-cuda). Not the `-cu12`
/// ones: `nvidia-cuda-nvcc-cu12` (12.4 and 12.9) ships only `ptxas`, no `nvcc`; the CUDA 13
/// `nvidia-cuda-nvcc` wheel has `bin/nvcc`, `cudafe++`, `fatbinary` and `nvlink`.
const WHEELS: &[&str] = &[
    "nvidia-cuda-nvcc==13.5.37",
    "nvidia-cuda-runtime==13.5.37",
    "nvidia-cuda-crt==13.5.37",
    "nvidia-nvvm==13.5.37",
    "nvidia-cublas==13.10.0.20",
    "nvidia-cuda-cccl==13.3.5.0.6",
];

/// Build llama-server with CUDA against a PyPI toolchain; prove it links and starts.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// CUDA architecture to compile the kernels for (90 = Hopper H100/H200)
    #[arg(long, default_value = "90")]
    arch: String,
    /// pip --target folder holding the toolchain (installed there when absent)
    #[arg(long, default_value = "target/cuda-toolkit")]
    prefix: PathBuf,
    /// Build the release profile (the kernels are always built optimised by CMake)
    #[arg(long)]
    release: bool,
}

pub fn run(opts: Opts) -> Result<()> {
    let root = util::workspace_root();
    let prefix = root.join(&opts.prefix);
    let toolkit = prefix.join("nvidia/cu13");
    if !toolkit.join("bin/nvcc").is_file() {
        install(&prefix)?;
    }
    layout(&toolkit)?;
    let started = Instant::now();
    let binary = build(&root, &toolkit, &opts)?;
    let took = started.elapsed();
    eprintln!(
        "check-cuda: built {} in {}",
        binary.display(),
        util::duration(took)
    );
    verify(&binary, &toolkit)?;
    println!(
        "check-cuda: OK (sm_{}, build {}, {})",
        opts.arch,
        util::duration(took),
        binary.display()
    );
    Ok(())
}

fn install(prefix: &Path) -> Result<()> {
    eprintln!(
        "check-cuda: installing the CUDA toolchain into {}",
        prefix.display()
    );
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
        .arg(prefix)
        .args(WHEELS);
    util::run(&mut pip)
}

/// The wheels' layout differs from a toolkit's in three ways CMake's FindCUDAToolkit cares
/// about; fixed inside the prefix only (never system-wide): `lib64`, unversioned `.so` links
/// for the linker, and the CCCL headers under `include/cccl` (present in the wheels; checked).
fn layout(toolkit: &Path) -> Result<()> {
    let lib = toolkit.join("lib");
    symlink("lib", &toolkit.join("lib64"))?;
    for name in ["cudart", "cublas", "cublasLt"] {
        let versioned = std::fs::read_dir(&lib)
            .with_context(|| format!("reading {}", lib.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .find(|f| f.starts_with(&format!("lib{name}.so.")))
            .with_context(|| format!("lib{name}.so.* missing in {}", lib.display()))?;
        symlink(&versioned, &lib.join(format!("lib{name}.so")))?;
    }
    let cccl = toolkit.join("include/cccl/cub");
    if !cccl.is_dir() {
        bail!(
            "CCCL headers missing: {} (nvidia-cuda-cccl)",
            cccl.display()
        );
    }
    Ok(())
}

fn symlink(target: &str, link: &Path) -> Result<()> {
    if link.symlink_metadata().is_ok() {
        return Ok(());
    }
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} -> {target}", link.display()))
}

/// `cargo build -p llama-server --features otel,cuda` into `target/cuda`. ggml's VMM pool calls
/// the driver API (`cuMemCreate`...), which needs `libcuda.so` at link time; no wheel ships it,
/// not even the toolkit's `lib/stubs/libcuda.so`, so the build uses `GGML_CUDA_NO_VMM` (ggml's
/// legacy pool; the runtime still loads the real driver through libcudart on a GPU machine).
fn build(root: &Path, toolkit: &Path, opts: &Opts) -> Result<PathBuf> {
    let target = root.join("target/cuda");
    let mut cmd = util::cargo();
    cmd.args(["build", "-p", "llama-server", "--features", "otel,cuda"]);
    if opts.release {
        cmd.arg("--release");
    }
    cmd.env("CARGO_TARGET_DIR", &target)
        .env("CUDA_PATH", toolkit)
        .env("CUDAToolkit_ROOT", toolkit)
        .env("CMAKE_CUDA_COMPILER", toolkit.join("bin/nvcc"))
        .env("CMAKE_CUDA_ARCHITECTURES", &opts.arch)
        .env("GGML_CUDA_NO_VMM", "1");
    util::run(&mut cmd)?;
    let profile = if opts.release { "release" } else { "debug" };
    Ok(target.join(profile).join("llama-server"))
}

/// `ldd` names libcudart and libcublas; `--version` and `--list-devices` exit 0 (no GPU here:
/// ggml logs that CUDA failed to initialise and lists no CUDA device).
fn verify(binary: &Path, toolkit: &Path) -> Result<()> {
    let lib_path = toolkit.join("lib");
    let ldd = util::output(
        Command::new("ldd")
            .arg(binary)
            .env("LD_LIBRARY_PATH", &lib_path),
    )?;
    for lib in ["libcudart.so", "libcublas.so"] {
        if !ldd.contains(lib) {
            bail!("{} does not link {lib}:\n{ldd}", binary.display());
        }
    }
    if ldd.contains("not found") {
        bail!("unresolved libraries:\n{ldd}");
    }
    for flag in ["--version", "--list-devices"] {
        let out = Command::new(binary)
            .arg(flag)
            .env("LD_LIBRARY_PATH", &lib_path)
            .output()
            .with_context(|| format!("running {} {flag}", binary.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!("check-cuda: {flag}:\n{text}{err}");
        if !out.status.success() {
            bail!("{} {flag} failed ({})", binary.display(), out.status);
        }
    }
    Ok(())
}
