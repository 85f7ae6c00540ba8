//! Exemplars end to end: a real Prometheus 2.42 (Debian `prometheus`, exemplar storage on)
//! scrapes the server's `/metrics` — it asks for OpenMetrics, so the whole exposition must
//! parse — while the server exports spans over OTLP to a real collector (`rotel-agent`).
//! Every exemplar Prometheus stores on the request-latency histograms must name a trace and
//! span that rotel received as the GenAI span of one of our requests.
//!
//! Skipped with a note without Prometheus, rotel or the model (each fails under CI).
#![cfg(feature = "otel")]
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;
mod otel_support;

use common::Server;
use llama_otel::{names, semconv};
use otel_support::{closed_port, otel_env, Exported, Rotel};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const GENAI_SPAN: &str = "chat smol";
const REQUESTS: usize = 3;

/// The request-latency histograms (all in seconds), each of which must carry exemplars.
const HISTOGRAMS: [&str; 4] = [
    semconv::GEN_AI_SERVER_REQUEST_DURATION,
    semconv::GEN_AI_SERVER_TIME_TO_FIRST_TOKEN,
    semconv::GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN,
    names::QUEUE_WAIT_DURATION,
];

/// The Prometheus bucket series of a histogram in seconds.
fn buckets(instrument: &str) -> String {
    format!(
        "{}_seconds_bucket",
        instrument.replace(['.', '-', '/'], "_")
    )
}

/// A running Prometheus on a free loopback port, scraping one target every second; killed on
/// drop, its data directory removed.
struct Prometheus {
    child: Child,
    addr: String,
    dir: PathBuf,
}

fn prometheus_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("prometheus"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs prometheus (Debian package `prometheus`)"
        );
        eprintln!("skipping: prometheus not installed (Debian package `prometheus`)");
    }
    found
}

impl Prometheus {
    fn start(bin: &Path, target: &str) -> Prometheus {
        let port = closed_port();
        let addr = format!("127.0.0.1:{port}");
        let dir =
            std::env::temp_dir().join(format!("llama-exemplars-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\n\
             scrape_configs: [{{job_name: llama-server, static_configs: [{{targets: [\"{target}\"]}}]}}]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        let prom = Prometheus { child, addr, dir };
        let start = Instant::now();
        while prom.get("/-/ready").is_none_or(|(status, _)| status != 200) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "prometheus not ready:\n{}",
                prom.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        prom
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` over HTTP/1.0 (no chunking); `None` when nothing answers.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
        stream.write_all(request.as_bytes()).ok()?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw).ok()?;
        let (head, body) = raw.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    fn api(&self, path: &str) -> Value {
        let (status, body) = self
            .get(path)
            .unwrap_or_else(|| panic!("prometheus: {path}"));
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// `(trace_id, span_id)` of every exemplar stored for `metric` in the last ten minutes.
    fn exemplars(&self, metric: &str) -> BTreeSet<(String, String)> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let path = format!(
            "/api/v1/query_exemplars?query={metric}&start={}&end={}",
            now - 600,
            now + 60
        );
        let reply = self.api(&path);
        let mut out = BTreeSet::new();
        for series in reply["data"].as_array().into_iter().flatten() {
            for e in series["exemplars"].as_array().into_iter().flatten() {
                let labels = &e["labels"];
                let id = |k: &str| labels[k].as_str().unwrap_or_default().to_owned();
                out.insert((id("trace_id"), id("span_id")));
            }
        }
        out
    }

    /// The scrape target's health and last error.
    fn target(&self) -> (String, String) {
        let reply = self.api("/api/v1/targets");
        let target = &reply["data"]["activeTargets"][0];
        let s = |k: &str| target[k].as_str().unwrap_or_default().to_owned();
        (s("health"), s("lastError"))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Trace ids of our requests as rotel received them: GenAI span `(trace, span)` pairs.
fn genai_spans(e: &Exported) -> BTreeSet<(String, String)> {
    e.spans
        .iter()
        .filter(|s| s.name == GENAI_SPAN)
        .map(|s| (s.trace_id.clone(), s.id.clone()))
        .collect()
}

/// Sends the chat requests; returns their trace ids (from `traceresponse`).
fn send_requests(server: &Server) -> BTreeSet<String> {
    let mut traces = BTreeSet::new();
    for i in 0..REQUESTS {
        let body = json!({"messages": [{"role": "user", "content": format!("Count to {i}")}],
            "max_tokens": 4, "temperature": 0, "ignore_eos": true});
        let reply = server
            .post_raw("/v1/chat/completions", &body.to_string(), "")
            .unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let traceresponse = reply.header("traceresponse").expect("traceresponse");
        traces.insert(traceresponse.split('-').nth(1).unwrap().to_owned());
    }
    traces
}

#[test]
fn prometheus_exemplars_name_traces_the_collector_received() {
    let Some(prometheus_bin) = prometheus_binary() else {
        return;
    };
    let Some(rotel) = Rotel::start() else { return };
    let grpc = format!("http://127.0.0.1:{}", rotel.grpc_port);
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", grpc.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_SERVICE_NAME", "llama-exemplars"),
    ];
    let args = ["-a", "smol", "-c", "512", "--parallel", "1"];
    let Some(server) = Server::start_with_env(&args, &otel_env(&vars)) else {
        return;
    };
    let prometheus = Prometheus::start(&prometheus_bin, &format!("127.0.0.1:{}", server.port));
    let ours = send_requests(&server);
    let received = rotel.wait_for(Duration::from_secs(30), |e| {
        let traces: BTreeSet<String> = genai_spans(e).into_iter().map(|(t, _)| t).collect();
        ours.is_subset(&traces)
    });
    let genai = genai_spans(&received);
    let start = Instant::now();
    let found = loop {
        let found: Vec<_> = HISTOGRAMS
            .iter()
            .map(|m| prometheus.exemplars(&buckets(m)))
            .collect();
        if found.iter().all(|f| !f.is_empty()) {
            break found;
        }
        let (health, error) = prometheus.target();
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no exemplars in Prometheus for every histogram after 60 s: {found:?}; target \
             {health} {error}\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(prometheus.target(), ("up".to_owned(), String::new()));
    for (metric, exemplars) in HISTOGRAMS.iter().zip(&found) {
        for exemplar in exemplars {
            assert!(
                genai.contains(exemplar),
                "{metric}: exemplar {exemplar:?} is not a GenAI span rotel received: {genai:?}"
            );
            assert!(
                ours.contains(&exemplar.0),
                "{metric}: {exemplar:?} not one of {ours:?}"
            );
        }
        eprintln!(
            "{metric}: {} exemplar(s), all in rotel's spans",
            exemplars.len()
        );
    }
}
