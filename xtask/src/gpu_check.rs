//! `cargo xtask gpu-check --bundle DIR`: prepares a folder to copy to a machine with an NVIDIA GPU
//! (no Rust toolchain needed there): the CUDA `llama-server` that `check-cuda` built, the script
//! `gpu-check.py` (+ `gpu-check.sh`), llama.cpp's reference outputs and, on request, the models and
//! the CUDA runtime libraries. `DIR/gpu-check.sh [--llama-cpp PATH]` then runs every reference
//! model with `-ngl 99`, compares greedy tokens with llama.cpp's CPU run up to the first near-tie and
//! measures pp512/tg128, for llama.cpp's CUDA build too when given. Without `--bundle` the folder
//! is `target/gpu-check` and the script runs here at once (for a GPU machine with the toolchain).

use crate::util;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = include_str!("gpu_check/gpu-check.py");
const WRAPPER: &str = "#!/bin/sh\n# Runs gpu-check.py next to this file (python3 only; see its --help).\nexec python3 \"$(dirname \"$0\")/gpu-check.py\" \"$@\"\n";
const REFERENCES: &[&str] = &["smollm2.json", "qwen2.json", "gemma3.json"];
const MODELS: &[&str] = &[
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "gemma-3-270m-q4_k_m.gguf",
];

/// Prepare (and without --bundle, run) the GPU check of the CUDA build.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Folder to prepare for another machine (the script is not run)
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The CUDA llama-server (default: what `cargo xtask check-cuda` built)
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Copy the three reference models into the folder (~0.8 GB) instead of linking models/
    #[arg(long)]
    copy_models: bool,
    /// Copy libcudart/libcublas/libcublasLt from this CUDA prefix into DIR/lib (~600 MB)
    #[arg(long)]
    cuda_libs: Option<PathBuf>,
    /// llama.cpp's CUDA build folder, passed to the script when it runs here
    #[arg(long)]
    llama_cpp: Option<PathBuf>,
}

pub fn run(opts: Opts) -> Result<()> {
    let root = util::workspace_root();
    let dir = opts
        .bundle
        .clone()
        .unwrap_or_else(|| root.join("target/gpu-check"));
    std::fs::create_dir_all(dir.join("reference"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let binary = opts
        .binary
        .clone()
        .map_or_else(|| default_binary(&root), Ok)?;
    copy(&binary, &dir.join("llama-server"))?;
    write_script(&dir)?;
    for name in REFERENCES {
        copy(
            &root.join("testdata/reference").join(name),
            &dir.join("reference").join(name),
        )?;
    }
    models(&root, &dir, opts.copy_models)?;
    if let Some(prefix) = &opts.cuda_libs {
        cuda_libs(prefix, &dir.join("lib"))?;
    }
    eprintln!(
        "gpu-check: prepared {} (run {}/gpu-check.sh there)",
        dir.display(),
        dir.display()
    );
    if opts.bundle.is_some() {
        return Ok(());
    }
    let mut cmd = Command::new(dir.join("gpu-check.sh"));
    if let Some(l) = &opts.llama_cpp {
        cmd.arg("--llama-cpp").arg(l);
    }
    util::run(&mut cmd)
}

/// The newest CUDA build of `check-cuda` (release first).
fn default_binary(root: &Path) -> Result<PathBuf> {
    ["release", "debug"]
        .iter()
        .map(|p| root.join("target/cuda").join(p).join("llama-server"))
        .find(|p| p.is_file())
        .context("no CUDA llama-server in target/cuda: run `cargo xtask check-cuda` first")
}

fn write_script(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for (name, text) in [("gpu-check.py", SCRIPT), ("gpu-check.sh", WRAPPER)] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

fn models(root: &Path, dir: &Path, copy_them: bool) -> Result<()> {
    let src = root.join("models");
    let dst = dir.join("models");
    if !copy_them {
        if dst.symlink_metadata().is_err() {
            std::os::unix::fs::symlink(&src, &dst)
                .with_context(|| format!("linking {}", dst.display()))?;
        }
        return Ok(());
    }
    std::fs::create_dir_all(&dst)?;
    for m in MODELS {
        let from = src.join(m);
        if !from.is_file() {
            bail!(
                "{} missing: cargo xtask fetch-model smollm2 qwen2 gemma3",
                from.display()
            );
        }
        copy(&from, &dst.join(m))?;
    }
    Ok(())
}

/// The runtime libraries the binary links (CUDA 13 sonames), for GPU machines without them.
fn cuda_libs(prefix: &Path, dst: &Path) -> Result<()> {
    let lib = prefix.join("nvidia/cu13/lib");
    std::fs::create_dir_all(dst)?;
    for name in ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"] {
        copy(&lib.join(name), &dst.join(name))?;
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}
