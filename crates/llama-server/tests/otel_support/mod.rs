//! Shared by the OTLP export tests: a real collector (`rotel-agent`, from PyPI `rotel`) with a
//! parser for its debug log, collectors that are down (a closed port, a black hole that
//! accepts TCP but never answers), and process measurements.

#![allow(dead_code, clippy::unwrap_used)] // test helpers: failures should panic

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `OTEL_*` variables a developer's shell may set that would change what these tests see.
pub const OTEL_VARS_TO_CLEAR: [&str; 8] = [
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_TRACES_SAMPLER",
];

/// Env for `Server::start_with_env`: `vars`, with [`OTEL_VARS_TO_CLEAR`] removed (empty value).
pub fn otel_env<'a>(vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env: Vec<(&str, &str)> = OTEL_VARS_TO_CLEAR.iter().map(|k| (*k, "")).collect();
    env.extend_from_slice(vars);
    env
}

/// A loopback port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Resident set size of process `pid` in bytes (Linux `/proc`).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kb * 1024
}

/// A collector that accepts TCP connections and never reads or answers.
pub struct BlackHole {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl BlackHole {
    pub fn start() -> BlackHole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            while !flag.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            held.len()
        });
        BlackHole {
            port,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops accepting; returns how many connections were swallowed.
    pub fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Release);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `rotel-agent`: `$ROTEL_AGENT`, else the binary inside the `rotel` Python package.
fn rotel_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        let path = PathBuf::from(p);
        return match path.is_file() {
            true => Ok(path),
            false => Err(format!("ROTEL_AGENT={} is not a file", path.display())),
        };
    }
    let script =
        "import rotel,os;print(os.path.join(os.path.dirname(rotel.__file__),'rotel-agent'))";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err("the `rotel` Python package is not installed (pip install rotel)".into());
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} is missing", path.display()))
    }
}

/// A running `rotel-agent` printing what it receives (blackhole exporter); killed on drop.
pub struct Rotel {
    child: Child,
    pub grpc_port: u16,
    pub http_port: u16,
    log: Arc<Mutex<String>>,
}

fn capture(stream: impl Read + Send + 'static, log: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
}

impl Rotel {
    /// Starts rotel on free loopback ports; `None` (with the reason printed) when it is not
    /// installed, which fails instead under CI.
    pub fn start() -> Option<Rotel> {
        Self::start_printing(&["traces", "metrics"])
    }

    /// [`Rotel::start`], printing log records too (parsed into [`Exported::logs`]).
    pub fn start_with_logs() -> Option<Rotel> {
        Self::start_printing(&["traces", "metrics", "logs"])
    }

    /// Starts rotel printing the signals in `debug_logs` in detail.
    fn start_printing(debug_logs: &[&str]) -> Option<Rotel> {
        let bin = match rotel_binary() {
            Ok(b) => b,
            Err(why) => {
                assert!(std::env::var_os("CI").is_none(), "CI needs rotel: {why}");
                eprintln!("skipping: no rotel-agent: {why} (or set ROTEL_AGENT)");
                return None;
            }
        };
        let (grpc_port, http_port) = (closed_port(), closed_port());
        let mut child = Command::new(bin)
            .arg("start")
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
            .args(debug_logs.iter().flat_map(|s| ["--debug-log", s]))
            .args([
                "--debug-log-verbosity",
                "detailed",
                "--exporter",
                "blackhole",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rotel-agent");
        let log = Arc::new(Mutex::new(String::new()));
        capture(child.stdout.take().unwrap(), log.clone());
        capture(child.stderr.take().unwrap(), log.clone());
        let rotel = Rotel {
            child,
            grpc_port,
            http_port,
            log,
        };
        rotel.wait_listening(Duration::from_secs(10));
        Some(rotel)
    }

    fn wait_listening(&self, timeout: Duration) {
        let start = Instant::now();
        for port in [self.grpc_port, self.http_port] {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    start.elapsed() < timeout,
                    "rotel not listening on {port}:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Everything rotel printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Polls the parsed log until `done` holds; panics with the log after `timeout`.
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&Exported) -> bool) -> Exported {
        let start = Instant::now();
        loop {
            let exported = parse(&self.log());
            if done(&exported) {
                return exported;
            }
            assert!(
                start.elapsed() < timeout,
                "rotel did not receive the expected telemetry within {timeout:?}; it printed:\n{}",
                tail(&self.log(), 4000)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str, n: usize) -> &str {
    let cut = s.len().saturating_sub(n);
    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    &s[cut..]
}

/// One span as rotel's detailed debug log prints it.
#[derive(Debug, Clone, Default)]
pub struct SpanRecord {
    pub trace_id: String,
    pub parent_id: String,
    pub id: String,
    pub name: String,
    pub kind: String,
    pub attributes: Vec<(String, String)>,
    pub events: Vec<String>,
    /// `(trace id, span id)` of each link.
    pub links: Vec<(String, String)>,
}

impl SpanRecord {
    /// An attribute as rotel prints it, e.g. `Str(chat)`, `Int(200)`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One log record as rotel's detailed debug log prints it (with `--debug-log logs`).
#[derive(Debug, Clone, Default)]
pub struct LogRecord {
    pub trace_id: String,
    pub span_id: String,
    pub severity: String,
    /// The body's first line, as printed (`Str(request)`).
    pub body: String,
    pub attributes: Vec<(String, String)>,
}

impl LogRecord {
    /// An attribute as rotel prints it, e.g. `Str(POST)`, `Int(200)`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What rotel received, parsed from its log.
#[derive(Debug, Clone, Default)]
pub struct Exported {
    pub spans: Vec<SpanRecord>,
    /// Log records, when rotel was started with `--debug-log logs` ([`Rotel::start_with_logs`]).
    pub logs: Vec<LogRecord>,
    pub metrics: BTreeSet<String>,
    pub resource: Vec<(String, String)>,
}

impl Exported {
    pub fn span(&self, name: &str) -> Option<&SpanRecord> {
        self.spans.iter().find(|s| s.name == name)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Other,
    Resource,
    SpanHeader,
    Attributes,
    Events,
    Links,
    Descriptor,
    LogHeader,
}

fn section_of(line: &str) -> Option<Section> {
    Some(match line {
        "Resource attributes:" => Section::Resource,
        "Attributes:" => Section::Attributes,
        "Events:" => Section::Events,
        "Links:" => Section::Links,
        "Descriptor:" => Section::Descriptor,
        l if l.starts_with("Span #") => Section::SpanHeader,
        l if l.starts_with("LogRecord #") => Section::LogHeader,
        l if l.starts_with("ResourceSpans #")
            || l.starts_with("ResourceMetrics #")
            || l.starts_with("Metric #")
            || l.starts_with("Scope") =>
        {
            Section::Other
        }
        _ => return None,
    })
}

/// Parses rotel's `--debug-log-verbosity detailed` output (the collector's debug exporter
/// format): spans with ids, attributes, events and links; metric names; resource attributes.
pub fn parse(log: &str) -> Exported {
    let mut out = Exported::default();
    let mut section = Section::Other;
    // Whether the record being read is a log record (its attributes are not a span's).
    let mut in_log = false;
    for raw in log.lines() {
        let line = raw.trim();
        if let Some(s) = section_of(line) {
            section = s;
            match s {
                Section::SpanHeader => {
                    out.spans.push(SpanRecord::default());
                    in_log = false;
                }
                Section::LogHeader => {
                    out.logs.push(LogRecord::default());
                    in_log = true;
                }
                Section::Attributes | Section::Events | Section::Links => {}
                _ => in_log = false,
            }
            continue;
        }
        if in_log {
            log_line(&mut out, section, line);
            continue;
        }
        if line.starts_with("SpanLink #") {
            if let Some(span) = out.spans.last_mut() {
                span.links.push(Default::default());
            }
            continue;
        }
        if let Some(kv) = line.strip_prefix("-> ") {
            arrow_line(&mut out, section, kv);
        } else if section == Section::SpanHeader {
            header_line(&mut out, line);
        }
    }
    out
}

fn arrow_line(out: &mut Exported, section: Section, kv: &str) {
    let Some((k, v)) = kv.split_once(": ") else {
        return;
    };
    let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
    match section {
        Section::Resource => out.resource.push((k, v)),
        Section::Descriptor if k == "Name" => {
            out.metrics.insert(v);
        }
        Section::Attributes => {
            if let Some(s) = out.spans.last_mut() {
                s.attributes.push((k, v));
            }
        }
        Section::Events if k == "Name" => {
            if let Some(s) = out.spans.last_mut() {
                s.events.push(v);
            }
        }
        Section::Links => {
            if let Some(link) = out.spans.last_mut().and_then(|s| s.links.last_mut()) {
                match k.as_str() {
                    "Trace ID" => link.0 = v,
                    "ID" => link.1 = v,
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// A line of a log record: its header fields and, after `Attributes:`, its attributes.
fn log_line(out: &mut Exported, section: Section, line: &str) {
    let Some(record) = out.logs.last_mut() else {
        return;
    };
    if let Some(kv) = line.strip_prefix("-> ") {
        if let (Section::Attributes, Some((k, v))) = (section, kv.split_once(": ")) {
            record
                .attributes
                .push((k.trim().to_owned(), v.trim().to_owned()));
        }
        return;
    }
    let Some((k, v)) = line.split_once(':') else {
        return;
    };
    let v = v.trim().to_owned();
    match k.trim() {
        "Trace ID" => record.trace_id = v,
        "Span ID" => record.span_id = v,
        "SeverityText" => record.severity = v,
        "Body" => record.body = v,
        _ => {}
    }
}

fn header_line(out: &mut Exported, line: &str) {
    let (Some(span), Some((k, v))) = (out.spans.last_mut(), line.split_once(':')) else {
        return;
    };
    let v = v.trim().to_owned();
    match k.trim() {
        "Trace ID" => span.trace_id = v,
        "Parent ID" => span.parent_id = v,
        "ID" => span.id = v,
        "Name" => span.name = v,
        "Kind" => span.kind = v,
        _ => {}
    }
}
