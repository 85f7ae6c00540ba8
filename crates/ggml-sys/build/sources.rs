//! What gets compiled: ggml's source lists (mirroring upstream CMake). The bindgen settings live in
//! `bindgen_settings.rs`, shared with `cargo xtask bindgen`.

#![allow(dead_code)]

/// `ggml-base` + `ggml` targets of upstream `src/CMakeLists.txt`.
pub const BASE_C: &[&str] = &["ggml.c", "ggml-alloc.c", "ggml-quants.c"];
pub const BASE_CXX: &[&str] = &[
    "ggml.cpp",
    "ggml-backend.cpp",
    "ggml-backend-meta.cpp",
    "ggml-opt.cpp",
    "ggml-threading.cpp",
    "gguf.cpp",
    "ggml-backend-dl.cpp",
    "ggml-backend-reg.cpp",
];

/// `ggml-cpu` target of upstream `src/ggml-cpu/CMakeLists.txt` (GGML_LLAMAFILE=ON).
pub const CPU_C: &[&str] = &["ggml-cpu/ggml-cpu.c", "ggml-cpu/quants.c"];
pub const CPU_CXX: &[&str] = &[
    "ggml-cpu/ggml-cpu.cpp",
    "ggml-cpu/repack.cpp",
    "ggml-cpu/hbm.cpp",
    "ggml-cpu/traits.cpp",
    "ggml-cpu/amx/amx.cpp",
    "ggml-cpu/amx/mmq.cpp",
    "ggml-cpu/tiled/tiled.cpp",
    "ggml-cpu/tiled/tiled-kernel.cpp",
    "ggml-cpu/binary-ops.cpp",
    "ggml-cpu/unary-ops.cpp",
    "ggml-cpu/vec.cpp",
    "ggml-cpu/ops.cpp",
    "ggml-cpu/llamafile/sgemm.cpp",
];

/// Per-architecture kernels: (C file, C++ file) under `src/ggml-cpu/arch/<arch>/`.
pub fn arch_sources(target_arch: &str) -> Option<(&'static str, &'static str)> {
    match target_arch {
        "x86_64" | "x86" => Some(("ggml-cpu/arch/x86/quants.c", "ggml-cpu/arch/x86/repack.cpp")),
        "aarch64" | "arm" => Some(("ggml-cpu/arch/arm/quants.c", "ggml-cpu/arch/arm/repack.cpp")),
        _ => None,
    }
}

/// The llama.cpp commit whose ggml is vendored (see vendor/README.md).
pub const UPSTREAM_COMMIT: &str = "0c1e570";
