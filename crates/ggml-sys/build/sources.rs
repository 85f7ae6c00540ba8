//! What gets compiled and bound: ggml's source lists (mirroring upstream CMake) and bindgen settings.

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

/// Binding sets: output file name and the headers it covers.
pub fn binding_sets() -> Vec<(&'static str, &'static [&'static str])> {
    let mut sets: Vec<(&'static str, &'static [&'static str])> = vec![(
        "bindings",
        &["ggml.h", "ggml-alloc.h", "ggml-backend.h", "ggml-cpu.h", "gguf.h"],
    )];
    if cfg!(feature = "cuda") {
        sets.push(("bindings_cuda", &["ggml-cuda.h"]));
    }
    if cfg!(feature = "metal") {
        sets.push(("bindings_metal", &["ggml-metal.h"]));
    }
    if cfg!(feature = "rpc") {
        sets.push(("bindings_rpc", &["ggml-rpc.h"]));
    }
    sets
}

#[cfg(feature = "bindgen")]
pub fn generate_bindings(ggml_dir: &std::path::Path, headers: &[&str]) -> String {
    let include = ggml_dir.join("include");
    let wrapper: String = headers.iter().map(|h| format!("#include \"{h}\"\n")).collect();
    let mut builder = bindgen::Builder::default()
        .header_contents("wrapper.h", &wrapper)
        .clang_arg(format!("-I{}", include.display()))
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(false)
        .prepend_enum_name(false)
        .generate_comments(false)
        .rust_target(bindgen::RustTarget::stable(82, 0).expect("rust target"));
    // The main set owns the core types; the backend sets only add their own functions.
    builder = if headers.first() == Some(&"ggml.h") {
        builder
            .allowlist_function("ggml_.*|gguf_.*")
            .allowlist_type("ggml_.*|gguf_.*")
            .allowlist_var("GGML_.*|GGUF_.*")
    } else {
        builder
            .allowlist_recursively(false)
            .allowlist_function(backend_prefix(headers[0]))
            .raw_line("#[allow(unused_imports)]\nuse crate::*;")
    };
    builder
        .generate()
        .expect("ggml-sys: bindgen failed")
        .to_string()
}

#[cfg(feature = "bindgen")]
fn backend_prefix(header: &str) -> &'static str {
    match header {
        "ggml-cuda.h" => "ggml_backend_cuda.*|ggml_backend_is_cuda",
        "ggml-metal.h" => "ggml_backend_metal.*|ggml_backend_is_metal",
        _ => "ggml_backend_rpc.*",
    }
}

/// The llama.cpp commit whose ggml is vendored (see vendor/README.md).
pub const UPSTREAM_COMMIT: &str = "0c1e570";
