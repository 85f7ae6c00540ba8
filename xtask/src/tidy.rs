//! Tidy: the project's code rules as tests (after rust-analyzer's `xtask/src/tidy.rs`), run by
//! `cargo test -p xtask`: `unsafe` only where the FFI lives, no source file over 600 lines, the
//! libraries' public items documented, no opentelemetry crate in the default dependency tree,
//! and no crate but llama-otel naming one (the others use llama-otel's own types).

use crate::util::workspace_root;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where `unsafe` may appear (each block with a `// SAFETY:` comment): the FFI layers.
const UNSAFE_ALLOWED: [&str; 2] = ["crates/ggml-sys/", "crates/llama-core/src/ggml/"];

/// Files exempt from the 600-line limit. Generated files only: split a hand-written one.
const LONG_ALLOWED: [&str; 1] = ["crates/ggml-sys/src/bindings/"];

/// Undocumented public items (fn, struct, enum, trait, type, const, static, mod, exported
/// macro) of public modules, per file, when this test was written (53, all in files of other
/// owners): a count may go down, never up; a file not listed must have none. (rustc's `missing_docs` also wants every public
/// field and variant documented: 0 warnings in llama-otel, about 350 in llama-core, most of them
/// the fields of `error.rs`' variants; so this test counts items, not fields.)
const UNDOCUMENTED_ALLOWED: [(&str, usize); 16] = [
    ("crates/llama-core/src/batch.rs", 6),
    ("crates/llama-core/src/chat/apply.rs", 1),
    ("crates/llama-core/src/chat/message.rs", 1),
    ("crates/llama-core/src/chat/template.rs", 2),
    ("crates/llama-core/src/context.rs", 6),
    ("crates/llama-core/src/kv_cache/cells.rs", 6),
    ("crates/llama-core/src/kv_cache/mod.rs", 2),
    ("crates/llama-core/src/model/hparams.rs", 1),
    ("crates/llama-core/src/model/load.rs", 4),
    ("crates/llama-core/src/model/weights.rs", 2),
    ("crates/llama-core/src/sampling/candidates.rs", 4),
    ("crates/llama-core/src/sampling/penalties.rs", 1),
    ("crates/llama-core/src/sampling/sampler.rs", 2),
    ("crates/llama-core/src/vocab/model.rs", 6),
    ("crates/llama-core/src/vocab/types.rs", 7),
    ("crates/llama-otel/src/trace/guard.rs", 2),
];

/// `.rs` files under `dir` (relative to the workspace root), without build output.
fn rust_files(dir: &str) -> Vec<PathBuf> {
    let root = workspace_root();
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() && !path.ends_with("target") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(&root).unwrap_or(&path).to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_default()
}

/// The code of a line, without a trailing `//` comment (naive about `//` inside strings, which
/// only hides code from the checks, never invents it).
fn code(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// The keyword, spelt so that this file does not contain it.
fn keyword() -> String {
    ["un", "safe"].concat()
}

/// A use of the keyword: a block, a function, an impl, an extern block, a trait or an
/// attribute such as `#[KEYWORD(no_mangle)]`; not a lint name like `KEYWORD_op_in_KEYWORD_fn`.
fn unsafe_use() -> Regex {
    let pattern = format!(r"\b{}\s*(\{{|\(|fn\b|impl\b|extern\b|trait\b)", keyword());
    Regex::new(&pattern).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_unsafe_pattern_finds_uses_not_lint_names() {
    let (re, k) = (unsafe_use(), keyword());
    for hit in [
        format!("let x = {k} {{ f() }};"),
        format!("pub {k} fn f()"),
        format!("{k} impl Send for X {{}}"),
    ] {
        assert!(re.is_match(code(&hit)), "{hit}");
    }
    for miss in [
        format!("{k}_op_in_{k}_fn = \"deny\""),
        format!("x(); // {k} {{ }}"),
    ] {
        assert!(!re.is_match(code(&miss)), "{miss}");
    }
}

#[test]
fn unsafe_only_in_the_ffi_layers() {
    let (unsafe_use, keyword) = (unsafe_use(), keyword());
    let mut found = Vec::new();
    for file in rust_files("crates").into_iter().chain(rust_files("xtask")) {
        let path = file.to_string_lossy().replace('\\', "/");
        if UNSAFE_ALLOWED.iter().any(|a| path.starts_with(a)) {
            continue;
        }
        for (i, line) in read(&file).lines().enumerate() {
            if unsafe_use.is_match(code(line)) {
                found.push(format!("{path}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "`{keyword}` outside {UNSAFE_ALLOWED:?}:\n{}",
        found.join("\n")
    );
}

/// The one crate that may name the opentelemetry crates: the others (llama-core's public API
/// among them) use its own types, `llama_otel::SpanContext` for links and ids.
const OTEL_ALLOWED: &str = "crates/llama-otel/";

#[test]
fn only_llama_otel_names_opentelemetry() {
    let manifests = std::fs::read_dir(workspace_root().join("crates"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|krate| {
            Path::new("crates")
                .join(krate.file_name())
                .join("Cargo.toml")
        });
    let mut found = Vec::new();
    for file in rust_files("crates").into_iter().chain(manifests) {
        let path = file.to_string_lossy().replace('\\', "/");
        if path.starts_with(OTEL_ALLOWED) {
            continue;
        }
        for (i, line) in read(&file).lines().enumerate() {
            if line.contains("opentelemetry") {
                found.push(format!("{path}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "opentelemetry named outside {OTEL_ALLOWED} (use llama-otel's types):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_file_over_600_lines() {
    let mut long = Vec::new();
    for file in rust_files("crates").into_iter().chain(rust_files("xtask")) {
        let path = file.to_string_lossy().replace('\\', "/");
        let lines = read(&file).lines().count();
        if lines > 600 && !LONG_ALLOWED.iter().any(|a| path.starts_with(a)) {
            long.push(format!("{path}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over 600 lines (split them):\n{}",
        long.join("\n")
    );
}

/// The undocumented public items of one file: `pub` items (not `pub(crate)`) and exported
/// macros whose declaration is not preceded by a `///` comment (attributes in between are
/// fine); a `pub mod x;` counts as documented when its file starts with `//!`. Stops at
/// `#[cfg(test)]`.
fn undocumented(path: &Path, text: &str) -> Vec<String> {
    let item = Regex::new(
        r#"^\s*pub\s+(?:(?:unsafe|const|async|extern\s+"\w+")\s+)*(fn|struct|enum|trait|type|const|static|mod|union)\s+(\w+)(\s*;)?"#,
    );
    let item = item.unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]" {
            break;
        }
        let exported_macro = line.trim_start().starts_with("macro_rules!")
            && lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.trim_start().starts_with("#["))
                .any(|l| l.contains("macro_export"));
        let caps = item.captures(line);
        if caps.is_none() && !exported_macro {
            continue;
        }
        if documented_above(&lines[..i]) {
            continue;
        }
        let module = caps
            .as_ref()
            .filter(|c| &c[1] == "mod" && c.get(3).is_some());
        if module.is_some_and(|c| module_file_documented(path, &c[2])) {
            continue;
        }
        out.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
    }
    out
}

/// Whether the lines just above an item document it: a `///` comment or a `#[doc…]` attribute
/// (`#[doc(hidden)]` too) among its attributes and plain comments.
fn documented_above(above: &[&str]) -> bool {
    for l in above.iter().rev().map(|l| l.trim()) {
        if l.starts_with("///") || l.starts_with("#[doc") {
            return true;
        }
        if !l.starts_with("#[") && !l.starts_with("//") {
            return false;
        }
    }
    false
}

/// Whether the file of module `name`, declared in `path`, starts with a `//!` comment.
fn module_file_documented(path: &Path, name: &str) -> bool {
    let dir = path.parent().unwrap_or(Path::new(""));
    let dir = match path.file_stem().and_then(|s| s.to_str()) {
        Some("lib" | "mod" | "main") | None => dir.to_path_buf(),
        Some(stem) => dir.join(stem),
    };
    let candidates = [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ];
    candidates
        .iter()
        .any(|f| read(f).trim_start().starts_with("//!"))
}

/// Whether the module of `file` is public API: each `mod` from `src/lib.rs` down to it is
/// declared `pub mod` or re-exported from (`pub use name::…`); binaries under `src/bin/` and
/// test modules are not.
fn module_public(src: &Path, file: &Path) -> bool {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut names: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if matches!(names.last().map(String::as_str), Some("mod" | "lib")) {
        names.pop();
    }
    let (mut parent, mut dir) = (src.join("lib.rs"), src.to_path_buf());
    for name in names {
        let (decl, reexport) = (format!("pub mod {name};"), format!("pub use {name}::"));
        let text = read(&parent);
        let mut lines = text.lines().map(str::trim_start);
        if !lines.any(|l| l.starts_with(&decl) || l.starts_with(&reexport)) {
            return false;
        }
        dir = dir.join(&name);
        parent = match workspace_root().join(&dir).is_dir() {
            true => dir.join("mod.rs"),
            false => dir.with_extension("rs"),
        };
    }
    true
}

#[test]
fn public_items_of_the_libraries_are_documented() {
    let allowed: BTreeMap<&str, usize> = UNDOCUMENTED_ALLOWED.into_iter().collect();
    let mut problems = Vec::new();
    let crates = ["crates/llama-core/src", "crates/llama-otel/src"];
    let files = crates
        .iter()
        .flat_map(|src| rust_files(src).into_iter().map(move |f| (*src, f)));
    for (_, file) in files.filter(|(src, f)| module_public(Path::new(src), f)) {
        let path = file.to_string_lossy().replace('\\', "/");
        let found = undocumented(&file, &read(&file));
        let limit = allowed.get(path.as_str()).copied().unwrap_or(0);
        if found.len() > limit {
            problems.push(format!(
                "{path}: {} undocumented (allowed {limit}):\n  {}",
                found.len(),
                found.join("\n  ")
            ));
        } else if found.len() < limit {
            eprintln!(
                "{path}: {} undocumented, allowed {limit}: lower UNDOCUMENTED_ALLOWED",
                found.len()
            );
        }
    }
    assert!(
        problems.is_empty(),
        "undocumented public items:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_item_scanner_sees_docs_attributes_and_module_files() {
    let text = "/// Doc.\n#[derive(Debug)]\npub struct A;\npub fn b() {}\npub(crate) fn c() {}\n// note\npub const D: u8 = 1;\n#[macro_export]\nmacro_rules! e { () => {} }\n#[cfg(test)]\npub fn f() {}\n";
    let found = undocumented(Path::new("x/lib.rs"), text);
    assert_eq!(
        found,
        [
            "x/lib.rs:4: pub fn b() {}",
            "x/lib.rs:7: pub const D: u8 = 1;",
            "x/lib.rs:9: macro_rules! e { () => {} }"
        ]
    );
}

/// Crate names in `cargo tree -p llama-server -e normal`, with the extra arguments.
fn tree_names(extra: &[&str]) -> Vec<String> {
    let mut cmd = crate::util::cargo();
    cmd.args([
        "tree",
        "-p",
        "llama-server",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    let out = crate::util::output(cmd.args(extra)).unwrap_or_else(|e| panic!("{e:#}"));
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect()
}

fn otel_names(names: &[String]) -> Vec<&str> {
    let mut otel: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("opentelemetry"))
        .collect();
    otel.sort_unstable();
    otel.dedup();
    otel
}

#[test]
fn otel_names_are_found_sorted_and_deduplicated() {
    let names = [
        "tokio",
        "opentelemetry_sdk",
        "opentelemetry",
        "opentelemetry",
    ]
    .map(String::from);
    assert_eq!(
        otel_names(&names),
        vec!["opentelemetry", "opentelemetry_sdk"]
    );
    assert!(otel_names(&["serde".to_string()]).is_empty());
}

#[test]
fn no_opentelemetry_in_the_default_dependency_tree() {
    let without = tree_names(&[]);
    assert_eq!(
        otel_names(&without),
        Vec::<&str>::new(),
        "llama-server without `otel` depends on these"
    );
    let with = tree_names(&["--features", "otel"]);
    assert!(
        !otel_names(&with).is_empty(),
        "llama-server with `otel` pulls in no opentelemetry* crate"
    );
    println!(
        "default tree: {} crates, none opentelemetry*; with otel: {}",
        without.len(),
        otel_names(&with).join(", ")
    );
}

/// The crates whose diagnostics must go through `tracing` (llama-otel's subscriber writes them
/// to the console, a file and OTLP logs): no direct printing outside their tests. The command
/// line tools (llama-cli, xtask) print their own output and are not listed.
const TRACING_ONLY: [&str; 3] = [
    "crates/llama-server/src",
    "crates/llama-core/src",
    "crates/llama-otel/src",
];

/// Test-only files under those directories: `*tests.rs`, `test_support.rs`, `tests/`.
fn test_file(path: &str) -> bool {
    path.ends_with("tests.rs") || path.ends_with("test_support.rs") || path.contains("/tests/")
}

/// `println!`, `eprintln!`, `print!`, `eprint!` or `dbg!` in the code of a line.
fn prints() -> Regex {
    Regex::new(r"\b(e?println|e?print|dbg)!\s*[\(\[\{]").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_print_pattern_finds_prints_not_names() {
    let re = prints();
    for hit in [
        "println!(\"x\")",
        "  eprint!(\"{x}\")",
        "dbg!(x)",
        "eprintln! (x)",
    ] {
        assert!(re.is_match(hit), "{hit}");
    }
    for miss in ["tracing::info!(\"x\")", "fn print_curl()", "\"println\""] {
        assert!(!re.is_match(miss), "{miss}");
    }
}

#[test]
fn libraries_and_the_server_log_through_tracing() {
    let re = prints();
    let mut found = Vec::new();
    for file in TRACING_ONLY.iter().flat_map(|d| rust_files(d)) {
        let path = file.to_string_lossy().replace('\\', "/");
        if test_file(&path) {
            continue;
        }
        for (i, line) in read(&file).lines().enumerate() {
            if line.trim_start().starts_with("#[cfg(test)]") {
                break;
            }
            if re.is_match(code(line)) {
                found.push(format!("{path}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "printing outside tracing (use tracing::info!/warn!/error!):\n{}",
        found.join("\n")
    );
}
