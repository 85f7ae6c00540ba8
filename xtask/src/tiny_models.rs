//! `cargo xtask tiny-models --out DIR`: writes the tiny random-weight GGUF models
//! (`llama_core::tiny`) that `testdata/tiny/generate.sh` feeds to llama.cpp. It runs llama-core's
//! `tiny-models` example, so the files are byte-identical to those the tests write.

use crate::util::{self, Args};
use anyhow::{Context, Result};
use std::path::PathBuf;

pub const USAGE: &str = "tiny-models --out DIR
      Writes tiny-{qwen3,qwen3moe,phi3,llama3}.gguf into DIR (a relative DIR is taken from the
      current directory): random weights from fixed seeds, tokenizers of testdata/vocab.";

pub fn run(mut args: Args) -> Result<()> {
    let out = args
        .value("--out")?
        .context("tiny-models needs --out DIR")?;
    args.finish()?;
    let out = std::env::current_dir()
        .context("no current directory")?
        .join(PathBuf::from(out));
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
