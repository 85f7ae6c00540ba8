//! Helpers shared by the subcommands: argument parsing, paths, running commands, temp dirs.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The subcommand's remaining arguments; options are taken out one by one, then `finish` rejects
/// anything left over.
#[derive(Debug)]
pub struct Args {
    rest: Vec<String>,
}

impl Args {
    pub fn new(rest: Vec<String>) -> Self {
        Args { rest }
    }

    /// Removes `name` (a flag without a value) and says whether it was there.
    pub fn flag(&mut self, name: &str) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| a != name);
        self.rest.len() != before
    }

    /// Removes `name VALUE` or `name=VALUE` and returns the value.
    pub fn value(&mut self, name: &str) -> Result<Option<String>> {
        let prefix = format!("{name}=");
        if let Some(i) = self.rest.iter().position(|a| a.starts_with(&prefix)) {
            let arg = self.rest.remove(i);
            return Ok(Some(arg[prefix.len()..].to_string()));
        }
        let Some(i) = self.rest.iter().position(|a| a == name) else {
            return Ok(None);
        };
        if i + 1 >= self.rest.len() {
            bail!("{name} needs a value");
        }
        let value = self.rest.remove(i + 1);
        self.rest.remove(i);
        Ok(Some(value))
    }

    /// Like `value`, parsed, with a default.
    pub fn parsed<T>(&mut self, name: &str, default: T) -> Result<T>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.value(name)? {
            None => Ok(default),
            Some(v) => v.parse().map_err(|e| anyhow::anyhow!("{name} {v}: {e}")),
        }
    }

    /// Removes and returns everything after the first `sep` (e.g. `--`), if present.
    pub fn take_rest_after(&mut self, sep: &str) -> Vec<String> {
        match self.rest.iter().position(|a| a == sep) {
            Some(i) => {
                let tail = self.rest.split_off(i + 1);
                self.rest.pop();
                tail
            }
            None => Vec::new(),
        }
    }

    /// Removes and returns the arguments that are not options (do not start with `-`); call after
    /// taking every option with a value.
    pub fn positional(&mut self) -> Vec<String> {
        let (pos, rest) = self.rest.drain(..).partition(|a| !a.starts_with('-'));
        self.rest = rest;
        pos
    }

    /// Fails on any argument nobody asked for.
    pub fn finish(self) -> Result<()> {
        match self.rest.first() {
            None => Ok(()),
            Some(a) => bail!("unexpected argument `{a}` (see `cargo xtask help`)"),
        }
    }
}

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
    let mut cmd = Command::new(client_bin);
    cmd.args(["--url", url])
        .args(["--clients", &clients.to_string()])
        .args(["--tokens", &tokens.to_string()]);
    let out = output(&mut cmd)?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("bench_clients printed no JSON: {out}"))?;
    serde_json::from_str(line).context("bench_clients' JSON line")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Args {
        Args::new(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn values_flags_and_leftovers() {
        let mut a = args(&["--check", "--threads", "4", "--dest=models/x"]);
        assert!(a.flag("--check"));
        assert!(!a.flag("--json"));
        assert_eq!(a.parsed("--threads", 2).unwrap(), 4);
        assert_eq!(a.parsed("--reps", 7).unwrap(), 7);
        assert_eq!(a.value("--dest").unwrap().as_deref(), Some("models/x"));
        a.finish().unwrap();
        assert!(args(&["--bogus"]).finish().is_err());
        assert!(args(&["--threads"]).value("--threads").is_err());
        assert!(args(&["--threads", "x"]).parsed("--threads", 1u32).is_err());
    }
}
