//! The console log of the real binary: `--log-format json` (every line on stdout and stderr a
//! JSON object, the request log line with its fields and, with `otel`, the trace id that the
//! `traceresponse` header names), llama.cpp's `--no-log-prefix`/`--no-log-timestamps`,
//! `--log-disable` with `--log-file`, and `-lv 2` (warnings only).
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server binary with its stdout and stderr captured line by line; killed on drop.
struct Proc {
    child: Child,
    port: u16,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

fn capture(stream: impl Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

impl Proc {
    /// Starts the server on a free port with `args` and waits for `/health` to say ok.
    fn start(model: &Path, args: &[&str]) -> Proc {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_llama-server"))
            .arg("-m")
            .arg(model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["-t", "1", "-c", "512", "--parallel", "1"])
            .args(args)
            .env_remove("LLAMA_API_KEY")
            .env("OTEL_SDK_DISABLED", "false")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start llama-server");
        let out = capture(child.stdout.take().unwrap());
        let err = capture(child.stderr.take().unwrap());
        let proc = Proc {
            child,
            port,
            out,
            err,
        };
        let start = Instant::now();
        while http(port, "GET", "/health", "").is_none_or(|(s, _, _)| s != 200) {
            assert!(start.elapsed() < Duration::from_secs(120), "not ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        proc
    }

    /// A chat request; returns its `traceresponse` header, if any.
    fn chat(&self) -> Option<String> {
        let body = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3,
            "temperature": 0, "ignore_eos": true});
        let (status, headers, text) =
            http(self.port, "POST", "/v1/chat/completions", &body.to_string()).unwrap();
        assert_eq!(status, 200, "{text}");
        headers.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("traceresponse: ")
                .map(String::from)
        })
    }

    /// SIGTERM, then waits for the exit; returns (stdout, stderr) lines.
    fn stop(mut self) -> (Vec<String>, Vec<String>) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        // The reader threads see EOF right after the exit.
        std::thread::sleep(Duration::from_millis(200));
        let out = self.out.lock().unwrap().clone();
        let err = self.err.lock().unwrap().clone();
        (out, err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange: (status, header block, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head.to_owned(), body.to_owned()))
}

#[test]
fn json_format_writes_only_json_lines_with_the_request_line() {
    let Some(model) = common::model_path() else {
        return;
    };
    let server = Proc::start(&model, &["--log-format", "json"]);
    let traceresponse = server.chat();
    // The request line is written when the response body ends, just after the client has it.
    std::thread::sleep(Duration::from_millis(300));
    let (out, err) = server.stop();
    assert!(err.is_empty(), "stderr: {err:#?}");
    let lines: Vec<Value> = out
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for line in &lines {
        assert_eq!(line["type"], "log", "{line}");
        assert!(line["time"].is_u64() && line["msg"].is_string(), "{line}");
        assert!(
            ["error", "warn", "info"].contains(&line["level"].as_str().unwrap()),
            "{line}"
        );
    }
    let msg = |prefix: &str| {
        lines
            .iter()
            .find(|l| l["msg"].as_str().unwrap().starts_with(prefix))
    };
    assert!(msg("llama-server listening on http://127.0.0.1:").is_some());
    assert!(msg("llama-server stopped").is_some());
    let request = lines
        .iter()
        .find(|l| l["msg"] == "request" && l["http.route"] == "/v1/chat/completions")
        .unwrap_or_else(|| panic!("no request line in {out:#?}"));
    assert_eq!(request["http.request.method"], "POST");
    assert_eq!(request["http.response.status_code"], 200);
    assert_eq!(request["gen_ai.usage.output_tokens"], 3);
    assert!(request["gen_ai.usage.input_tokens"]
        .as_u64()
        .is_some_and(|n| n > 0));
    assert!(request["duration_ms"].as_f64().is_some_and(|d| d > 0.0));
    // `/health` polls are probes: at debug level, so not in this (info) log.
    assert!(!lines
        .iter()
        .any(|l| l["url.path"] == "/health" || l["http.route"] == "/health"));
    match &traceresponse {
        Some(tr) => {
            let trace = tr.split('-').nth(1).unwrap();
            assert_eq!(request["trace_id"], trace);
            assert_eq!(request["span_id"], tr.split('-').nth(2).unwrap());
        }
        None => assert!(request.get("trace_id").is_none(), "{request}"),
    }
    assert_eq!(
        traceresponse.is_some(),
        llama_server_has_otel(),
        "{request}"
    );
}

/// Whether this test binary's server was built with `otel` (the feature is shared).
fn llama_server_has_otel() -> bool {
    cfg!(feature = "otel")
}

#[test]
fn prefix_timestamps_disable_file_and_verbosity_flags() {
    let Some(model) = common::model_path() else {
        return;
    };
    // Without prefix and timestamps: the message alone.
    let server = Proc::start(&model, &["--no-log-prefix", "--no-log-timestamps"]);
    let (out, _) = server.stop();
    assert!(
        out[0].starts_with("llama-server listening on http://"),
        "{out:#?}"
    );
    assert!(out.iter().any(|l| l == "llama-server stopped"), "{out:#?}");

    // `--log-disable`: nothing on the console; the file has everything, with the default
    // prefix (`M.SS.mmm.uuu I `).
    let file = std::env::temp_dir().join(format!("llama-server-logs-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let file_arg = file.to_str().unwrap();
    let server = Proc::start(&model, &["--log-disable", "--log-file", file_arg]);
    server.chat();
    std::thread::sleep(Duration::from_millis(300));
    let (out, _) = server.stop();
    assert!(out.is_empty(), "{out:#?}");
    let logged = std::fs::read_to_string(&file).unwrap();
    let ready = logged
        .lines()
        .find(|l| l.contains("llama-server listening on"))
        .unwrap_or_else(|| panic!("{logged}"));
    let (stamp, rest) = ready.split_once(' ').unwrap();
    assert_eq!(stamp.split('.').count(), 4, "{ready}");
    assert!(rest.starts_with("I llama-server listening on"), "{ready}");
    let _ = std::fs::remove_file(&file);
    assert!(
        logged
            .lines()
            .any(|l| l.contains("I request http.request.method=POST")
                && l.contains("http.route=/v1/chat/completions")
                && l.contains("http.response.status_code=200")),
        "{logged}"
    );

    // `-lv 2`: warnings and errors only, so none of these info lines.
    let server = Proc::start(&model, &["-lv", "2"]);
    server.chat();
    std::thread::sleep(Duration::from_millis(300));
    let (out, _) = server.stop();
    assert!(out.is_empty(), "{out:#?}");
}
