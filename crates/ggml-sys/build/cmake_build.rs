//! The CMake build (`cmake` feature, implied by `cuda` / `metal` / `rpc`): upstream's own CMakeLists.

use std::path::Path;

pub fn build(ggml_dir: &Path, manifest: &Path) {
    let on = |b: bool| if b { "ON" } else { "OFF" };
    let mut cfg = cmake::Config::new(manifest.join("cmake"));
    cfg.define("GGML_SRC_DIR", ggml_dir)
        .define("CMAKE_BUILD_TYPE", "Release")
        .define("BUILD_SHARED_LIBS", "OFF")
        .define("GGML_NATIVE", on(!cfg!(feature = "portable")))
        .define("GGML_OPENMP", on(!cfg!(feature = "no-openmp")))
        .define("GGML_LLAMAFILE", "ON")
        .define("GGML_CPU_REPACK", "ON")
        .define("GGML_CCACHE", "OFF")
        .define("GGML_CUDA", on(cfg!(feature = "cuda")))
        .define("GGML_METAL", on(cfg!(feature = "metal")))
        .define("GGML_RPC", on(cfg!(feature = "rpc")))
        .profile("Release")
        .build_target("ggml");
    cuda_settings(&mut cfg);
    let dst = cfg.build();
    let build = dst.join("build").join("ggml").join("src");
    for dir in [
        build.clone(),
        build.join("ggml-cuda"),
        build.join("ggml-metal"),
        build.join("ggml-rpc"),
    ] {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
    // Backends first: they depend on ggml-base.
    for (enabled, lib) in [
        (cfg!(feature = "cuda"), "ggml-cuda"),
        (cfg!(feature = "metal"), "ggml-metal"),
        (cfg!(feature = "rpc"), "ggml-rpc"),
        (true, "ggml"),
        (true, "ggml-cpu"),
        (true, "ggml-base"),
    ] {
        if enabled {
            println!("cargo:rustc-link-lib=static={lib}");
        }
    }
    link_system_libs();
}

/// Environment knobs of the CUDA build, for toolchains outside `/usr/local/cuda` (`cargo xtask
/// check-cuda` installs one from PyPI into a private prefix): `CMAKE_CUDA_ARCHITECTURES` (e.g. `90`;
/// unset, ggml picks `native`, which fails without a GPU), `CMAKE_CUDA_COMPILER` and
/// `CUDAToolkit_ROOT` (CMake also reads the latter from the environment itself), and
/// `GGML_CUDA_NO_VMM=1`: ggml then uses its legacy memory pool and needs no driver library
/// (`libcuda.so`) at link time — the PyPI wheels ship none, not even a stub.
fn cuda_settings(cfg: &mut cmake::Config) {
    for var in [
        "CMAKE_CUDA_ARCHITECTURES",
        "CMAKE_CUDA_COMPILER",
        "CUDAToolkit_ROOT",
        "GGML_CUDA_NO_VMM",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if !cfg!(feature = "cuda") {
        return;
    }
    for var in [
        "CMAKE_CUDA_ARCHITECTURES",
        "CMAKE_CUDA_COMPILER",
        "CUDAToolkit_ROOT",
    ] {
        if let Ok(value) = std::env::var(var) {
            cfg.define(var, value);
        }
    }
    cfg.define("GGML_CUDA_NO_VMM", if no_vmm() { "ON" } else { "OFF" })
        // NCCL only matters for several GPUs in one process; not looked for.
        .define("GGML_CUDA_NCCL", "OFF");
}

fn no_vmm() -> bool {
    std::env::var("GGML_CUDA_NO_VMM").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn link_system_libs() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if cfg!(feature = "cuda") {
        if let Ok(cuda) = std::env::var("CUDA_PATH") {
            println!("cargo:rustc-link-search=native={cuda}/lib64");
        }
        println!("cargo:rustc-link-search=native=/usr/local/cuda/lib64");
        for lib in ["cudart", "cublas", "cublasLt"] {
            println!("cargo:rustc-link-lib={lib}");
        }
        if !no_vmm() {
            println!("cargo:rustc-link-lib=cuda");
        }
    }
    if cfg!(feature = "metal") {
        for fw in ["Foundation", "Metal", "MetalKit"] {
            println!("cargo:rustc-link-lib=framework={fw}");
        }
    }
    if !cfg!(feature = "no-openmp") && target_os != "macos" {
        println!("cargo:rustc-link-lib=gomp");
    }
    if target_os == "macos" {
        println!("cargo:rustc-link-lib=c++");
    } else {
        println!("cargo:rustc-link-lib=stdc++");
        println!("cargo:rustc-link-lib=dl");
        println!("cargo:rustc-link-lib=pthread");
    }
}
