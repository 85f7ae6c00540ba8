//! This process's memory and CPU time, read from the operating system, and the OS process
//! metrics of the semantic conventions over them (`process.memory.usage`,
//! `process.memory.virtual`, `process.cpu.time{cpu.mode}`, `process.cpu.utilization{cpu.mode}`).
//! Linux reads `/proc/self/status` and `/proc/self/stat`; other systems report nothing (every
//! field `None`), so the metrics have no data points there.

use crate::observe::{observe, Observation, Observed, ObservedKind};
use crate::semconv::{
    CPU_MODE, CPU_MODE_SYSTEM, CPU_MODE_USER, PROCESS_CPU_TIME, PROCESS_CPU_UTILIZATION,
    PROCESS_MEMORY_USAGE, PROCESS_MEMORY_VIRTUAL, UNIT_BYTES, UNIT_SECONDS,
};
use std::sync::Mutex;
use std::time::Instant;

/// One reading of the process's resources.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// Resident set size (`VmRSS`), bytes.
    pub rss_bytes: Option<u64>,
    /// Peak resident set size (`VmHWM`), bytes.
    pub peak_rss_bytes: Option<u64>,
    /// Virtual memory size (`VmSize`), bytes.
    pub virtual_bytes: Option<u64>,
    /// CPU seconds in user mode.
    pub cpu_user_seconds: Option<f64>,
    /// CPU seconds in the kernel.
    pub cpu_system_seconds: Option<f64>,
}

/// Reads the process's resources now.
pub fn read() -> ProcessStats {
    #[cfg(target_os = "linux")]
    {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let (user, system) = cpu_seconds(&stat).unzip();
        ProcessStats {
            rss_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
            peak_rss_bytes: status_kib(&status, "VmHWM:").map(|k| k * 1024),
            virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
            cpu_user_seconds: user,
            cpu_system_seconds: system,
        }
    }
    #[cfg(not(target_os = "linux"))]
    ProcessStats::default()
}

/// A `Key:   1234 kB` line of `/proc/<pid>/status`, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, fixed at 100 by the Linux ABI
/// on every architecture Rust targets).
const USER_HZ: f64 = 100.0;

/// `utime` and `stime` (fields 14 and 15) of `/proc/<pid>/stat`, in seconds. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn cpu_seconds(stat: &str) -> Option<(f64, f64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user as f64 / USER_HZ, system as f64 / USER_HZ))
}

/// The previous CPU reading, for `process.cpu.utilization`.
static LAST_CPU: Mutex<Option<(Instant, f64, f64)>> = Mutex::new(None);

/// CPU use since the previous call, as fractions of (elapsed time × CPUs available), per mode.
fn utilization(now: Instant, user: f64, system: f64) -> Option<(f64, f64)> {
    let mut last = LAST_CPU
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let previous = last.replace((now, user, system));
    let (t0, u0, s0) = previous?;
    let elapsed = now.duration_since(t0).as_secs_f64();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (elapsed > 0.0).then(|| {
        let scale = elapsed * cpus;
        ((user - u0).max(0.0) / scale, (system - s0).max(0.0) / scale)
    })
}

fn point(value: f64, attrs: Vec<(&'static str, String)>) -> Observation {
    Observation { value, attrs }
}

fn by_mode(out: &mut Vec<Observation>, user: f64, system: f64) {
    out.push(point(user, vec![(CPU_MODE, CPU_MODE_USER.into())]));
    out.push(point(system, vec![(CPU_MODE, CPU_MODE_SYSTEM.into())]));
}

/// Registers the four OS process metrics (see [`crate::observe`]); each collection reads the
/// process anew.
pub fn register_metrics() {
    let updown = |name, description| Observed {
        name,
        unit: UNIT_BYTES,
        description,
        kind: ObservedKind::UpDownCounter,
    };
    observe(
        updown(PROCESS_MEMORY_USAGE, "The amount of physical memory in use"),
        |out| out.extend(read().rss_bytes.map(|b| point(b as f64, Vec::new()))),
    );
    observe(
        updown(
            PROCESS_MEMORY_VIRTUAL,
            "The amount of committed virtual memory",
        ),
        |out| out.extend(read().virtual_bytes.map(|b| point(b as f64, Vec::new()))),
    );
    let cpu_time = Observed {
        name: PROCESS_CPU_TIME,
        unit: UNIT_SECONDS,
        description: "Total CPU seconds broken down by different states",
        kind: ObservedKind::Counter,
    };
    observe(cpu_time, |out| {
        let p = read();
        if let (Some(u), Some(s)) = (p.cpu_user_seconds, p.cpu_system_seconds) {
            by_mode(out, u, s);
        }
    });
    let cpu_utilization = Observed {
        name: PROCESS_CPU_UTILIZATION,
        unit: "1",
        description: "Difference in process.cpu.time since the last measurement, divided by \
                      the elapsed time and number of CPUs available to the process",
        kind: ObservedKind::Gauge,
    };
    observe(cpu_utilization, |out| {
        let p = read();
        let (Some(u), Some(s)) = (p.cpu_user_seconds, p.cpu_system_seconds) else {
            return;
        };
        if let Some((fu, fs)) = utilization(Instant::now(), u, s) {
            by_mode(out, fu, fs);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "42 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0";
        assert_eq!(cpu_seconds(stat), Some((2.5, 0.75)));
        assert_eq!(cpu_seconds("garbage"), None);
    }

    #[test]
    fn status_lines_are_read_in_kib() {
        let status = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(1024));
        assert_eq!(status_kib(status, "VmSize:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_reports_memory_and_cpu() {
        let p = read();
        let rss = p.rss_bytes.expect("VmRSS");
        assert!(rss > 0 && p.virtual_bytes.expect("VmSize") >= rss);
        assert!(p.peak_rss_bytes.expect("VmHWM") >= rss);
        assert!(p.cpu_user_seconds.is_some() && p.cpu_system_seconds.is_some());
    }

    #[test]
    fn utilization_needs_two_readings() {
        let t0 = Instant::now();
        *LAST_CPU.lock().unwrap() = None;
        assert_eq!(utilization(t0, 1.0, 1.0), None);
        let later = t0 + std::time::Duration::from_secs(1);
        let (u, s) = utilization(later, 2.0, 1.0).unwrap();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        assert!((u - 1.0 / cpus).abs() < 1e-9 && s == 0.0);
    }
}
