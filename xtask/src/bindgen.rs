//! `cargo xtask bindgen [--check]`: regenerates ggml-sys's committed bindings from the vendored
//! headers, with the very settings the build script's `bindgen` feature uses.
//!
//! No ggml build is needed (so the CUDA / Metal / RPC sets regenerate without those toolchains);
//! only libclang. `--check` writes the fresh files to `target/xtask/bindgen-check/` and fails when
//! any committed file differs.

#[path = "../../crates/ggml-sys/build/bindgen_settings.rs"]
mod settings;

use crate::util;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

/// Regenerates ggml-sys's committed bindings.
///
/// Regenerates crates/ggml-sys/src/bindings/*.rs (core, cuda, metal, rpc) from the vendored
/// headers with the build script's settings; needs libclang, no build.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Fail when the committed files are stale (fresh copies go to target/xtask/bindgen-check/)
    #[arg(long)]
    check: bool,
}

pub fn run(opts: Opts) -> Result<()> {
    if !libclang_available() {
        bail!("libclang not found: install libclang-dev (or point LIBCLANG_PATH at libclang.so)");
    }
    if opts.check {
        check()
    } else {
        write()
    }
}

/// Whether bindgen can load libclang.
pub fn libclang_available() -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let ok = std::panic::catch_unwind(::bindgen::clang_version).is_ok();
    std::panic::set_hook(hook);
    ok
}

fn ggml_dir() -> PathBuf {
    std::env::var_os("GGML_SRC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| util::workspace_root().join("vendor/ggml"))
}

fn committed_dir() -> PathBuf {
    util::workspace_root().join("crates/ggml-sys/src/bindings")
}

/// Every set's file name (with the feature that compiles it in) and freshly generated text.
fn generate_all() -> Result<Vec<(String, String)>> {
    let ggml = ggml_dir();
    if !ggml.join("include/ggml.h").is_file() {
        bail!(
            "no ggml headers under {} (see vendor/README.md)",
            ggml.display()
        );
    }
    settings::BINDING_SETS
        .iter()
        .map(|set| {
            let text = settings::generate_bindings(&ggml, set.headers)
                .map_err(|e| anyhow!("bindgen failed for {}: {e}", set.name))?;
            let name = format!("{}.rs", set.name);
            let when = set
                .feature
                .map_or_else(String::new, |f| format!(" (`{f}` feature)"));
            println!("generated {name}{when}: {} lines", text.lines().count());
            Ok((name, text))
        })
        .collect()
}

fn write() -> Result<()> {
    let dir = committed_dir();
    for (name, text) in generate_all()? {
        let path = dir.join(&name);
        if fs::read_to_string(&path).is_ok_and(|old| old == text) {
            println!("unchanged {}", path.display());
            continue;
        }
        fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "wrote     {} ({} lines)",
            path.display(),
            text.lines().count()
        );
    }
    Ok(())
}

/// Regenerates into `target/xtask/bindgen-check/` and compares with the committed files.
pub fn check() -> Result<()> {
    let out = util::workspace_root().join("target/xtask/bindgen-check");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut stale = Vec::new();
    for (name, text) in generate_all()? {
        let fresh = out.join(&name);
        fs::write(&fresh, &text).with_context(|| format!("writing {}", fresh.display()))?;
        let committed = committed_dir().join(&name);
        match fs::read_to_string(&committed) {
            Ok(old) if old == text => println!("up to date: {}", committed.display()),
            Ok(old) => {
                println!("STALE:      {}", committed.display());
                print_summary(&diff_summary(&old, &text));
                println!(
                    "            diff -u {} {}",
                    committed.display(),
                    fresh.display()
                );
                stale.push(name);
            }
            Err(_) => {
                println!("MISSING:    {}", committed.display());
                stale.push(name);
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "stale bindings: {}; run `cargo xtask bindgen` and commit",
            stale.join(", ")
        );
    }
    Ok(())
}

/// Line-level differences between two texts, order-insensitive (enough to see what changed).
#[derive(Debug, PartialEq)]
struct DiffSummary {
    first_difference: usize,
    removed: Vec<String>,
    added: Vec<String>,
}

fn diff_summary(old: &str, new: &str) -> DiffSummary {
    let first_difference = old
        .lines()
        .zip(new.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| old.lines().count().min(new.lines().count()))
        + 1;
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for line in old.lines() {
        *counts.entry(line).or_default() += 1;
    }
    for line in new.lines() {
        *counts.entry(line).or_default() -= 1;
    }
    let pick = |text: &str, sign: i64| -> Vec<String> {
        let mut left = counts.clone();
        let mut lines = Vec::new();
        for line in text.lines() {
            if let Some(c) = left.get_mut(line).filter(|c| **c * sign > 0) {
                *c -= sign;
                lines.push(line.to_string());
            }
        }
        lines
    };
    DiffSummary {
        first_difference,
        removed: pick(old, 1),
        added: pick(new, -1),
    }
}

fn print_summary(d: &DiffSummary) {
    println!(
        "            first difference at line {}; {} line(s) only in the committed file, {} only in \
         the fresh one",
        d.first_difference,
        d.removed.len(),
        d.added.len()
    );
    for line in d.removed.iter().take(5) {
        println!("            - {}", line.trim());
    }
    for line in d.added.iter().take(5) {
        println!("            + {}", line.trim());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_summary_reports_changed_lines() {
        let d = diff_summary("a\nb\nc\n", "a\nx\nc\nd\n");
        assert_eq!(d.first_difference, 2);
        assert_eq!(d.removed, vec!["b"]);
        assert_eq!(d.added, vec!["x", "d"]);
        let same = diff_summary("a\n", "a\n");
        assert!(same.removed.is_empty() && same.added.is_empty());
    }

    #[test]
    fn every_binding_set_has_a_distinct_file() {
        let mut names: Vec<_> = settings::BINDING_SETS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 4);
        assert_eq!(settings::BINDING_SETS[0].headers[0], "ggml.h");
    }
}
