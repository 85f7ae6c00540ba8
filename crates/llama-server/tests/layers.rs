//! The server's modules form layers — server, cli (and metrics_listener) → http → api → scheduler → the leaves
//! (telemetry, metrics, error) — and sibling files inside a module do not import each other in
//! a circle. Read from the sources: every `crate::X` path must name a lower layer (or the
//! file's own module), and the `super::x` references between sibling files must be acyclic.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first; a module may use only lower layers.
const LAYERS: [&[&str]; 6] = [
    &[
        "error",
        "memory",
        "metrics",
        "telemetry",
        "tls",
        "usage",
        "write_timeout",
    ],
    &["scheduler"],
    &["api"],
    &["http"],
    &["cli", "metrics_listener"],
    &["server"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer: add it to LAYERS"))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The identifiers that follow `prefix` in `text` (`crate::http::x` → `http`).
fn names_after<'a>(text: &'a str, prefix: &str) -> BTreeSet<&'a str> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|n| !n.is_empty())
        .collect()
}

#[test]
fn top_level_modules_only_use_lower_layers() {
    let root = src();
    let mut violations = Vec::new();
    for file in rust_files(&root) {
        let rel = file.strip_prefix(&root).expect("under src");
        let first = rel.components().next().expect("component");
        let module = first.as_os_str().to_string_lossy();
        let module = module.trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        let text = fs::read_to_string(&file).expect("read source");
        for used in names_after(&text, "crate::") {
            if used != module && layer(used) >= layer(module) {
                violations.push(format!("{}: crate::{used}", rel.display()));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "imports against the layers:\n{}",
        violations.join("\n")
    );
}

/// Finds a cycle in `graph`, as the path that closes it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut c = path[i..].to_vec();
            c.push(node.to_owned());
            return Some(c);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn sibling_files_do_not_import_each_other_in_a_circle() {
    let mut dirs = vec![src()];
    while let Some(dir) = dirs.pop() {
        let mut graph = BTreeMap::new();
        for entry in fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            if name == "mod" || path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = fs::read_to_string(&path).expect("read source");
            let uses: BTreeSet<String> = names_after(&text, "super::")
                .into_iter()
                .filter(|n| dir.join(format!("{n}.rs")).exists() && *n != name)
                .map(str::to_owned)
                .collect();
            graph.insert(name, uses);
        }
        if let Some(c) = cycle(&graph) {
            panic!("{}: {}", dir.display(), c.join(" → "));
        }
    }
}
