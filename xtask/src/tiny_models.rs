//! `cargo xtask tiny-models --out DIR`: writes the tiny random-weight GGUF models
//! (`llama_core::tiny`) that `testdata/tiny/generate.sh` feeds to llama.cpp. It runs llama-core's
//! `tiny-models` example, so the files are byte-identical to those the tests write.

use crate::util;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// Writes tiny-{qwen3,qwen3moe,phi3,llama3}.gguf into DIR: random weights from fixed seeds,
/// tokenizers of testdata/vocab.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Output folder (a relative DIR is taken from the current directory)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(o: Opts) -> Result<()> {
    let out = std::env::current_dir()
        .context("no current directory")?
        .join(o.out);
    let vocab = util::workspace_root().join("testdata/vocab");
    util::run(
        util::cargo()
            .args([
                "run",
                "--quiet",
                "-p",
                "llama-core",
                "--example",
                "tiny-models",
                "--",
            ])
            .arg("--out")
            .arg(&out)
            .arg("--vocab")
            .arg(&vocab),
    )
}
