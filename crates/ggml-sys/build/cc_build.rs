//! The default build: ggml's CPU backend compiled with the `cc` crate, no CMake needed.
//!
//! Mirrors upstream CMake with `CMAKE_BUILD_TYPE=Release GGML_NATIVE=ON GGML_OPENMP=ON
//! GGML_LLAMAFILE=ON GGML_CPU_REPACK=ON GGML_SCHED_MAX_COPIES=4 BUILD_SHARED_LIBS=OFF`:
//! the same sources, the same definitions, `-O3 -DNDEBUG`, `-march=native` (or `-mcpu=native`).

use crate::sources;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

pub fn build(ggml_dir: &Path) {
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let target_arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let openmp = !cfg!(feature = "no-openmp") && target_os != "macos";
    write_version_header(ggml_dir, &out);

    let src = ggml_dir.join("src");
    let mut c_files: Vec<PathBuf> = sources::BASE_C
        .iter()
        .chain(sources::CPU_C)
        .map(|f| src.join(f))
        .collect();
    let mut cxx_files: Vec<PathBuf> = sources::BASE_CXX
        .iter()
        .chain(sources::CPU_CXX)
        .map(|f| src.join(f))
        .collect();
    match sources::arch_sources(&target_arch) {
        Some((c, cxx)) => {
            c_files.push(src.join(c));
            cxx_files.push(src.join(cxx));
        }
        None => println!(
            "cargo:warning=ggml-sys: no SIMD kernels for {target_arch}; using generic code"
        ),
    }

    let mut c = configured(ggml_dir, &out, &target_arch, &target_os, openmp, false);
    let mut objects = c.files(&c_files).compile_intermediates();
    let mut cxx = configured(ggml_dir, &out, &target_arch, &target_os, openmp, true);
    objects.extend(cxx.files(&cxx_files).compile_intermediates());

    // One archive for C and C++ objects: they reference each other, and two archives would
    // depend on link order.
    let mut ar = cc::Build::new();
    ar.cpp(true)
        .cargo_metadata(true)
        .objects(&objects)
        .compile("ggml");

    if openmp {
        let gnu = !cxx.get_compiler().is_like_clang();
        println!("cargo:rustc-link-lib={}", if gnu { "gomp" } else { "omp" });
    }
    if target_os == "linux" {
        println!("cargo:rustc-link-lib=dl");
        println!("cargo:rustc-link-lib=pthread");
    }
}

fn configured(
    ggml_dir: &Path,
    out: &Path,
    target_arch: &str,
    target_os: &str,
    openmp: bool,
    cpp: bool,
) -> cc::Build {
    let mut b = cc::Build::new();
    // Separate object folders: ggml.c/ggml.cpp and ggml-cpu.c/ggml-cpu.cpp share base names.
    b.out_dir(out.join(if cpp { "obj-cxx" } else { "obj-c" }));
    b.cpp(cpp)
        .cargo_metadata(false)
        .opt_level(3) // ggml is always optimised: an -O0 ggml makes debug builds and tests crawl
        .debug(false)
        .warnings(false)
        .include(ggml_dir.join("include"))
        .include(ggml_dir.join("src"))
        .include(ggml_dir.join("src/ggml-cpu"))
        .include(out)
        .define("NDEBUG", None)
        .define("GGML_SCHED_MAX_COPIES", "4")
        .define("GGML_USE_CPU", None)
        .define("GGML_USE_LLAMAFILE", None)
        .define("GGML_USE_CPU_REPACK", None);
    b.flag(if cpp { "-std=c++17" } else { "-std=c11" });
    if target_os == "linux" || target_os == "android" {
        b.define("_GNU_SOURCE", None);
    }
    if target_os != "openbsd" {
        b.define("_XOPEN_SOURCE", "600");
    }
    if openmp {
        b.define("GGML_USE_OPENMP", None).flag("-fopenmp");
    }
    if !cfg!(feature = "portable") {
        match target_arch {
            "x86_64" | "x86" => {
                b.flag("-march=native");
            }
            "aarch64" => {
                b.flag("-mcpu=native");
            }
            _ => {}
        }
    } else if target_arch == "x86_64" {
        // Upstream's non-native defaults: SSE4.2 AVX AVX2 BMI2 FMA F16C.
        for f in ["-msse4.2", "-mavx", "-mavx2", "-mbmi2", "-mfma", "-mf16c"] {
            b.flag(f);
        }
        for d in [
            "GGML_SSE42",
            "GGML_AVX",
            "GGML_AVX2",
            "GGML_BMI2",
            "GGML_FMA",
            "GGML_F16C",
        ] {
            b.define(d, None);
        }
    }
    b
}

/// Upstream generates `ggml-version.h` from `ggml-version.h.in` at configure time.
fn write_version_header(ggml_dir: &Path, out: &Path) {
    let version = upstream_version(ggml_dir).unwrap_or_else(|| "0.0.0".to_string());
    let header = format!(
        "#pragma once\n#define GGML_VERSION \"{version}\"\n#define GGML_COMMIT \"{}\"\n",
        crate::sources::UPSTREAM_COMMIT
    );
    fs::write(out.join("ggml-version.h"), header).expect("write ggml-version.h");
}

/// Reads `GGML_VERSION_{MAJOR,MINOR,PATCH}` from the top-level CMakeLists.txt.
pub fn upstream_version(ggml_dir: &Path) -> Option<String> {
    let text = fs::read_to_string(ggml_dir.join("CMakeLists.txt")).ok()?;
    let part = |name: &str| -> Option<String> {
        let key = format!("set(GGML_VERSION_{name} ");
        let line = text.lines().find(|l| l.trim_start().starts_with(&key))?;
        Some(
            line.trim_start()[key.len()..]
                .trim_end_matches(')')
                .trim()
                .to_string(),
        )
    };
    Some(format!(
        "{}.{}.{}",
        part("MAJOR")?,
        part("MINOR")?,
        part("PATCH")?
    ))
}
