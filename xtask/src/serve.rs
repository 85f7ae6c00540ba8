//! `cargo xtask serve`: the main job — fetch the default model if missing, build the server
//! with telemetry, and run it on 127.0.0.1:8080.

use crate::util;
use anyhow::{bail, Result};
use std::process::Command;

/// Builds llama-server with telemetry and runs it on 127.0.0.1:8080.
///
/// Fetches SmolLM2-135M-Instruct (Q4_1) into models/ when missing, builds llama-server with
/// `--features otel` (release) and starts it on 127.0.0.1:8080. Ctrl-C stops it.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// Extra arguments for the server, after `--` (e.g. `-- --port 9000 -np 8`)
    #[arg(last = true, value_name = "SERVER ARGS")]
    extra: Vec<String>,
}

pub fn run(opts: Opts) -> Result<()> {
    let extra = opts.extra;
    let root = util::workspace_root();
    let model = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !model.exists() {
        crate::fetch_model::run(crate::fetch_model::Opts::default())?;
    }
    let bin = util::build_otel_server()?;
    let mut cmd = Command::new(&bin);
    cmd.arg("-m")
        .arg(&model)
        .args(["--host", "127.0.0.1", "--port", "8080"])
        .args(&extra);
    println!("xtask: starting {}", util::display(&cmd));
    // The server handles Ctrl-C itself (graceful drain); we just wait for it and pass its status on.
    let status = cmd.status()?;
    if !status.success() {
        bail!("llama-server exited with {status}");
    }
    Ok(())
}
