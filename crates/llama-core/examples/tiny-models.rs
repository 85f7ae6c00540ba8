//! Writes the tiny random-weight models (`llama_core::tiny`) into a directory; what
//! `cargo xtask tiny-models --out DIR` runs.
//!
//! Usage: `tiny-models --out DIR [--vocab DIR]` (vocabularies default to `testdata/vocab`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut out = None;
    let mut vocab = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vocab");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            ("--vocab", Some(v)) => vocab = PathBuf::from(v),
            _ => {
                eprintln!("usage: tiny-models --out DIR [--vocab DIR]");
                return ExitCode::FAILURE;
            }
        }
    }
    let Some(out) = out else {
        eprintln!("usage: tiny-models --out DIR [--vocab DIR]");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    match llama_core::tiny::write_all(&vocab, &out) {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tiny-models: {e}");
            ExitCode::FAILURE
        }
    }
}
