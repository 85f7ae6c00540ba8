//! Helpers shared by the subcommands: paths, running commands, temp dirs.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The workspace root (the folder above `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// The cargo that runs us (`$CARGO`), in the workspace root.
pub fn cargo() -> Command {
    let mut cmd =
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    cmd.current_dir(workspace_root());
    cmd
}

/// The command line as a shell would show it.
pub fn display(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    if parts[0].ends_with("/cargo") {
        parts[0] = "cargo".into();
    }
    parts.join(" ")
}

/// Runs `cmd` with inherited stdio; fails unless it exits successfully.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display(cmd));
    }
    Ok(())
}

/// Runs `cmd` with inherited stderr and returns its stdout; fails unless it exits successfully.
pub fn output(cmd: &mut Command) -> Result<String> {
    cmd.stderr(std::process::Stdio::inherit());
    let out = cmd
        .output()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !out.status.success() {
        bail!("`{}` failed ({})", display(cmd), out.status);
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` printed non-UTF-8", display(cmd)))
}

/// Whether we run under CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// A folder removed again when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh folder under `parent` (the system temp dir when `None`).
    pub fn new(parent: Option<&Path>, tag: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let base = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let dir = base.join(format!("xtask-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `1.2 s` / `3m 04s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Cargo's target folder (`$CARGO_TARGET_DIR`, else `target/` in `root`).
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => root.join(d),
        None => root.join("target"),
    }
}

/// Builds llama-server with telemetry (release) and returns the binary's path.
pub fn build_otel_server() -> Result<PathBuf> {
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "llama-server",
        "--features",
        "otel",
    ]))?;
    Ok(target_dir(&workspace_root())
        .join("release")
        .join("llama-server"))
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// Runs the `bench_clients` example against `url` and returns its JSON summary line.
pub fn run_bench_clients(
    client_bin: &Path,
    url: &str,
    clients: usize,
    tokens: usize,
) -> Result<serde_json::Value> {
    run_bench_clients_with(client_bin, url, clients, tokens, &[])
}

/// [`run_bench_clients`] with more bench_clients flags (`--workload`, `--requests-per-client`).
pub fn run_bench_clients_with(
    client_bin: &Path,
    url: &str,
    clients: usize,
    tokens: usize,
    extra: &[String],
) -> Result<serde_json::Value> {
    let mut cmd = Command::new(client_bin);
    cmd.args(["--url", url])
        .args(["--clients", &clients.to_string()])
        .args(["--tokens", &tokens.to_string()])
        .args(extra);
    let out = output(&mut cmd)?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("bench_clients printed no JSON: {out}"))?;
    serde_json::from_str(line).context("bench_clients' JSON line")
}

/// The server flags the serving benchmarks share.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// GGUF model [default: models/SmolLM2-135M-Instruct.Q4_1.gguf]
    #[arg(short = 'm', long = "model", value_name = "MODEL")]
    pub model: Option<String>,
    /// Threads of each server
    #[arg(short = 't', value_name = "N", default_value_t = 2)]
    pub threads: usize,
    /// Slots of each server (also spelt -np, as llama-server does)
    #[arg(long = "np", value_name = "N", default_value_t = 4)]
    pub slots: usize,
}
