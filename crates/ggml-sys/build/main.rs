//! Build script for ggml-sys: compiles the vendored ggml (cc or CMake) and provides the bindings.

#[cfg(feature = "bindgen")]
mod bindgen_settings;
mod cc_build;
#[cfg(feature = "cmake")]
mod cmake_build;
mod sources;

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let ggml_dir = env::var_os("GGML_SRC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../vendor/ggml"));
    let ggml_dir = ggml_dir.canonicalize().unwrap_or_else(|e| {
        panic!(
            "ggml-sys: ggml sources not found at {} ({e}); unpack them into vendor/ggml (see vendor/README.md) \
             or point GGML_SRC_DIR at a ggml checkout",
            ggml_dir.display()
        )
    });
    println!("cargo:rerun-if-env-changed=GGML_SRC_DIR");
    println!("cargo:rerun-if-changed={}", ggml_dir.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        ggml_dir.join("include").display()
    );
    println!("cargo:rerun-if-changed=build");

    let use_cmake = cfg!(feature = "cmake");
    if use_cmake {
        #[cfg(feature = "cmake")]
        cmake_build::build(&ggml_dir, &manifest);
    } else {
        cc_build::build(&ggml_dir);
    }
    println!(
        "cargo:rustc-env=GGML_SYS_BUILD_PATH={}",
        if use_cmake { "cmake" } else { "cc" }
    );
    // Dependents read this as DEP_GGML_INCLUDE.
    println!("cargo:include={}", ggml_dir.join("include").display());
    bindings(&ggml_dir);
}

/// Regenerates the bindings into OUT_DIR when the `bindgen` feature is on; otherwise the committed
/// files under `src/bindings/` are used as they are.
#[cfg(feature = "bindgen")]
fn bindings(ggml_dir: &std::path::Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for set in bindgen_settings::BINDING_SETS {
        let enabled =
            |f: &str| env::var_os(format!("CARGO_FEATURE_{}", f.to_uppercase())).is_some();
        if !set.feature.is_none_or(enabled) {
            continue;
        }
        let text = bindgen_settings::generate_bindings(ggml_dir, set.headers)
            .unwrap_or_else(|e| panic!("ggml-sys: bindgen failed for {}: {e}", set.name));
        std::fs::write(out.join(format!("{}.rs", set.name)), text).expect("write bindings");
    }
}

#[cfg(not(feature = "bindgen"))]
fn bindings(_ggml_dir: &std::path::Path) {}
