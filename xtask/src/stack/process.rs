//! Child processes and programs: finding them, free ports, starting a server and waiting until
//! it answers, stopping it again.

use crate::http;
use crate::util;
pub(crate) use crate::util::target_dir;
use anyhow::{bail, Context, Result};
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `program` on PATH.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A free loopback port (bound, read, released).
pub(crate) fn free_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// A child process, killed when dropped; its output goes to a log file.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    pub(crate) fn spawn(name: &'static str, cmd: &mut Command, log: PathBuf) -> Result<Self> {
        let file = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting {}", util::display(cmd)))?;
        Ok(Proc { name, child, log })
    }

    /// The process id (for `/proc/PID/stat` and `perf stat -p`).
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join(" | ")
    }

    /// Fails with the log's tail if the process has exited.
    pub(crate) fn alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}): {}", self.name, self.tail());
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET path` until it answers 200; fails early when the process exits, with its log's
/// tail.
pub(crate) fn wait_http(
    proc: &mut Proc,
    addr: &str,
    path: &str,
    timeout: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        proc.alive()?;
        if let Ok(r) = http::get(addr, path, Duration::from_secs(5)) {
            if r.status == 200 {
                return Ok(start.elapsed());
            }
        }
        if start.elapsed() > timeout {
            bail!(
                "{} not ready on {addr}{path} after {}: {}",
                proc.name,
                util::duration(timeout),
                proc.tail()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
