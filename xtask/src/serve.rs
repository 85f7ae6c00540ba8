//! `cargo xtask serve`: the main job — fetch the default model if missing, build the server
//! with telemetry, and run it on 127.0.0.1:8080.

use crate::util::{self, Args};
use anyhow::{bail, Result};
use std::process::Command;

pub const USAGE: &str = "serve [-- SERVER ARGS...]
      Fetches SmolLM2-135M-Instruct (Q4_1) into models/ when missing, builds llama-server with
      `--features otel` (release) and starts it on 127.0.0.1:8080; extra arguments after `--`
      go to the server (e.g. `-- --port 9000 -np 8`). Ctrl-C stops it.";

pub fn run(mut args: Args) -> Result<()> {
    let extra = args.take_rest_after("--");
    args.finish()?;
    let root = util::workspace_root();
    let model = root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !model.exists() {
        crate::fetch_model::run(Args::new(Vec::new()))?;
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
