//! bindgen settings shared by the build script (`bindgen` feature) and `cargo xtask bindgen`.
//!
//! The xtask compiles this very file (`#[path]` module), so the committed bindings under
//! `src/bindings/` and the ones the `bindgen` feature generates at build time cannot drift apart.
//! Keep it self-contained: it may only use `std` and `bindgen`.

use std::path::Path;

/// One generated file: `src/bindings/<name>.rs`, covering `headers`, compiled in with `feature`.
#[derive(Debug, Clone, Copy)]
pub struct BindingSet {
    /// Output file stem.
    pub name: &'static str,
    /// Headers under `include/`; the first one decides the allowlist.
    pub headers: &'static [&'static str],
    /// The ggml-sys feature that includes this set (`None`: always).
    pub feature: Option<&'static str>,
}

/// Every binding set ggml-sys knows about.
pub const BINDING_SETS: &[BindingSet] = &[
    BindingSet {
        name: "bindings",
        headers: &[
            "ggml.h",
            "ggml-alloc.h",
            "ggml-backend.h",
            "ggml-cpu.h",
            "gguf.h",
        ],
        feature: None,
    },
    BindingSet {
        name: "bindings_cuda",
        headers: &["ggml-cuda.h"],
        feature: Some("cuda"),
    },
    BindingSet {
        name: "bindings_metal",
        headers: &["ggml-metal.h"],
        feature: Some("metal"),
    },
    BindingSet {
        name: "bindings_rpc",
        headers: &["ggml-rpc.h"],
        feature: Some("rpc"),
    },
];

/// Runs bindgen over `headers` (found in `<ggml_dir>/include`) and returns the Rust source.
pub fn generate_bindings(
    ggml_dir: &Path,
    headers: &[&str],
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let include = ggml_dir.join("include");
    let wrapper: String = headers
        .iter()
        .map(|h| format!("#include \"{h}\"\n"))
        .collect();
    let target = bindgen::RustTarget::stable(82, 0).map_err(|e| e.to_string())?;
    let mut builder = bindgen::Builder::default()
        .header_contents("wrapper.h", &wrapper)
        .clang_arg(format!("-I{}", include.display()))
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(false)
        .prepend_enum_name(false)
        .generate_comments(false)
        .rust_target(target);
    // The main set owns the core types; the backend sets only add their own functions.
    builder = if headers.first() == Some(&"ggml.h") {
        builder
            .allowlist_function("ggml_.*|gguf_.*")
            .allowlist_type("ggml_.*|gguf_.*")
            .allowlist_var("GGML_.*|GGUF_.*")
    } else {
        let first = headers.first().copied().unwrap_or_default();
        builder
            .allowlist_recursively(false)
            .allowlist_function(backend_prefix(first))
            .raw_line("#[allow(unused_imports)]\nuse crate::*;")
    };
    Ok(builder.generate()?.to_string())
}

fn backend_prefix(header: &str) -> &'static str {
    match header {
        "ggml-cuda.h" => "ggml_backend_cuda.*|ggml_backend_is_cuda",
        "ggml-metal.h" => "ggml_backend_metal.*|ggml_backend_is_metal",
        _ => "ggml_backend_rpc.*|ggml_backend_is_rpc",
    }
}
