//! CPU cost of a measured run of `bench-otel`: the server process's CPU time (all threads,
//! user + system, from `/proc/PID/stat`) and, where hardware counters are readable, the
//! instructions it retired (`perf stat -e instructions -p PID`). Unlike wall-clock throughput,
//! neither counts the time the server spends waiting for a core on a shared machine.

use anyhow::{anyhow, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// User + system CPU seconds of process `pid`, all its threads (exited ones included).
pub(crate) fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // Fields after the command name (which may hold spaces) in parentheses: state is field 3,
    // utime 14 and stime 15 (proc(5)).
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow!("{path}: no ')' in {text}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| anyhow!("{path}: field {} unreadable", i + 3))
    };
    Ok((tick(11)? + tick(12)?) / clock_ticks())
}

/// Whether `perf stat -e instructions` counts here: `Ok(())`, or why not (no `perf` binary,
/// no PMU in a VM, `perf_event_paranoid`).
pub(crate) fn perf_instructions_readable() -> std::result::Result<(), String> {
    let out = Command::new("perf")
        .args(["stat", "-x", ",", "-e", "instructions", "true"])
        .output()
        .map_err(|e| format!("no perf binary ({e})"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("instructions"))
        .unwrap_or("");
    match line.split(',').next().map(str::trim) {
        Some(v) if v.parse::<f64>().is_ok() => Ok(()),
        _ if out.status.success() => Err(format!(
            "perf stat cannot count instructions here ({})",
            line.trim()
        )),
        _ => Err(format!("perf stat failed: {}", err.trim())),
    }
}

/// A `perf stat` attached to one process for the duration of one measured run.
pub(crate) struct PerfCount {
    child: Child,
    out: PathBuf,
}

impl PerfCount {
    pub(crate) fn start(pid: u32, dir: &Path) -> Result<Self> {
        let out = dir.join(format!("perf-{pid}.csv"));
        let child = Command::new("perf")
            .args(["stat", "-x", ",", "-e", "instructions", "-o"])
            .arg(&out)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting perf stat")?;
        // perf attaches asynchronously; give it a moment before the run starts.
        std::thread::sleep(std::time::Duration::from_millis(100));
        Ok(PerfCount { child, out })
    }

    /// Stops counting (SIGINT makes perf print its counts) and returns the instructions.
    pub(crate) fn stop(mut self) -> Result<f64> {
        let pid = self.child.id().to_string();
        crate::util::run(Command::new("kill").args(["-INT", &pid]))?;
        self.child.wait()?;
        let text = std::fs::read_to_string(&self.out)
            .with_context(|| format!("reading {}", self.out.display()))?;
        text.lines()
            .filter(|l| l.contains("instructions"))
            .find_map(|l| l.split(',').next()?.trim().parse::<f64>().ok())
            .ok_or_else(|| anyhow!("perf stat counted no instructions: {text}"))
    }
}

/// The CPU model (`model name` of /proc/cpuinfo) and the number of logical CPUs.
pub(crate) fn cpu_model() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let name = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim())
        })
        .unwrap_or("unknown");
    let n = text.lines().filter(|l| l.starts_with("processor")).count();
    format!("{name} ({n} logical CPUs)")
}

/// Server CPU time and instructions per generated token: mean ± standard error of the
/// rounds, and the per-round ratio to plain; here a cost is ratio - 1.
pub(crate) fn print_table(s: &Value) {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let perf = s["instructions"].as_str().unwrap_or("") == "perf stat -e instructions";
    println!(
        "\n{:<24} {:>16} {:>21} {:>16} {:>21}",
        "config", "CPU µs/token tg", "ratio (cost)", "clients", "ratio (cost)"
    );
    let cell = |m: &Value, scale: f64| {
        (
            format!("{:.1} ± {:.1}", f(m, "mean") * scale, f(m, "se") * scale),
            format!(
                "{:.3}±{:.3} ({:+.1}%)",
                f(m, "ratio"),
                f(m, "ratio_se"),
                (f(m, "ratio") - 1.0) * 100.0
            ),
        )
    };
    let keys: &[(&str, &str, f64)] = if perf {
        &[
            ("cpu_us_per_token", "", 1.0),
            ("instructions_per_token", "  Minstr/token", 1e-6),
        ]
    } else {
        &[("cpu_us_per_token", "", 1.0)]
    };
    for (key, label, scale) in keys {
        if !label.is_empty() {
            println!("{label}");
        }
        for r in s["results"].as_array().into_iter().flatten() {
            let (tg, tg_r) = cell(&r[format!("{key}_tg")], *scale);
            let (cl, cl_r) = cell(&r[format!("{key}_clients")], *scale);
            println!(
                "{:<24} {tg:>16} {tg_r:>21} {cl:>16} {cl_r:>21}",
                r["config"].as_str().unwrap_or("")
            );
        }
    }
    println!(
        "(server process, all threads, user + system, /proc/PID/stat; mean ± standard error \
         over rounds; instructions: {}; {})",
        s["instructions"].as_str().unwrap_or(""),
        s["cpu_model"].as_str().unwrap_or("")
    );
}

#[cfg(test)]
mod tests {
    /// A fixed amount of busy work on this thread shows up in this process's CPU time (fixed
    /// work, not a wall-clock spin: on a loaded machine a spin may get little of a core).
    #[test]
    fn cpu_seconds_counts_busy_work() {
        let pid = std::process::id();
        let before = super::cpu_seconds(pid).expect("own /proc stat");
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let used = super::cpu_seconds(pid).expect("own /proc stat") - before;
        assert!(
            (0.02..60.0).contains(&used),
            "cpu {used} s for 5e7 iterations ({x})"
        );
    }
}
