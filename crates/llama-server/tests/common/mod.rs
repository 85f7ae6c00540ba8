//! Shared by the integration tests: finding the test model, starting the real `llama-server`
//! binary on a free loopback port, and a minimal HTTP/1.1 client (std `TcpStream`, so bad
//! requests can be sent byte for byte and streams can be dropped mid-way).

#![allow(dead_code)]

pub mod python;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `<workspace>` (two levels above this crate).
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The SmolLM2 model, or `None` (test skipped) when it is absent outside CI.
pub fn model_path() -> Option<PathBuf> {
    let path = std::env::var_os("LLAMA_TEST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/SmolLM2-135M-Instruct.Q4_1.gguf"));
    existing_model(path)
}

/// Qwen2.5-Coder-0.5B-Instruct: the tool-calling, structured-output and Responses tests' model.
pub const QWEN: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// A greedy (`--temp 0`) server on Qwen2.5-Coder with one 2048-token slot, or `None` (test
/// skipped) without the model outside CI.
pub fn greedy_qwen() -> Option<Server> {
    let model = named_model(QWEN)?;
    Some(Server::start_model(
        &model,
        &["-c", "2048", "-np", "1", "--temp", "0"],
        &[],
    ))
}

/// `models/NAME`, or `None` (test skipped) when it is absent outside CI.
pub fn named_model(name: &str) -> Option<PathBuf> {
    existing_model(workspace().join("models").join(name))
}

fn existing_model(path: PathBuf) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "test model {} is missing (CI must provide it)",
        path.display()
    );
    eprintln!(
        "skipping: test model {} not found (set LLAMA_TEST_MODEL)",
        path.display()
    );
    None
}

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    pub api_key: Option<String>,
}

impl Server {
    /// Starts the binary with `args` (model, `--port 0`, `--host` and `-t 1` are added) and waits until
    /// `/health` says ok. `None` when the model is absent (outside CI).
    pub fn start(args: &[&str]) -> Option<Server> {
        Self::start_with_env(args, &[])
    }

    /// [`Server::start`] with environment variables set (or removed, for an empty value).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Option<Server> {
        Some(Self::start_model(&model_path()?, args, env))
    }

    /// Starts the binary on `model` with `args` and `env` (see [`Server::start_with_env`]).
    pub fn start_model(model: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_llama-server"));
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let mut child = cmd
            .arg("-m")
            .arg(model)
            // One compute thread: ggml's threads meet at a barrier after every op, and on a busy
            // machine a descheduled thread stalls each one (measured under load: 65 ms/token
            // with `-t 1`, 1,077 ms/token with `-t 2`).
            .args(["--host", "127.0.0.1", "--port", "0", "-t", "1"])
            .args(args)
            .env_remove("LLAMA_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start llama-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .expect("read stdout");
            // After the log prefix (timestamp, level letter) unless `--no-log-prefix`.
            if let Some((_, addr)) = line.split_once("llama-server listening on http://") {
                // `HOST:PORT`, up to the end of the message (a JSON line goes on after it).
                let addr = addr.split(['"', ' ']).next().unwrap_or(addr);
                break addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("port in banner");
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        let key = args
            .windows(2)
            .find(|w| w[0] == "--api-key")
            .map(|w| w[1].to_string());
        let server = Server {
            child,
            port,
            api_key: key,
        };
        server.wait_ready(Duration::from_secs(120));
        server
    }

    fn wait_ready(&self, timeout: Duration) {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(r) = self.get("/health") {
                if r.status == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server not ready within {timeout:?}");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit: the status and how long it took,
    /// or `None` if the server was still running at the deadline.
    pub fn terminate(&mut self, timeout: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let start = Instant::now();
        self.signal_term();
        let status = self.wait_exit(timeout)?;
        Some((status, start.elapsed()))
    }

    /// Sends SIGTERM (returns at once).
    pub fn signal_term(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Sends a POST and returns the open connection without reading the answer (drop it to
    /// disconnect).
    pub fn send_only(&self, path: &str, body: &Value) -> TcpStream {
        let body = body.to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.auth_header(),
            body.len()
        );
        stream.write_all(req.as_bytes()).expect("send");
        stream
    }

    /// `/slots` until `done` holds for it; panics after `timeout` with `what`.
    pub fn wait_slots(&self, timeout: Duration, what: &str, done: impl Fn(&[Value]) -> bool) {
        let start = Instant::now();
        loop {
            let slots = self.get("/slots").expect("slots").json();
            if done(slots.as_array().expect("slots array")) {
                return;
            }
            assert!(
                start.elapsed() < timeout,
                "{what} not within {timeout:?}: {slots}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The value of an unlabelled `llamacpp:NAME` series in `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let body = self.get("/metrics").expect("metrics").body;
        body.lines()
            .find_map(|l| l.strip_prefix(&format!("llamacpp:{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no llamacpp:{name} in /metrics"))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn auth_header(&self) -> String {
        self.api_key
            .as_ref()
            .map(|k| format!("Authorization: Bearer {k}\r\n"))
            .unwrap_or_default()
    }

    pub fn get(&self, path: &str) -> std::io::Result<Response> {
        self.raw(&format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\n{}Connection: close\r\n\r\n",
            self.auth_header()
        ))
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.post_raw(path, &body.to_string(), "").expect("request")
    }

    /// POST that must answer 200; its JSON body.
    pub fn post_ok(&self, path: &str, body: &Value) -> Value {
        let r = self.post(path, body);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    }

    /// POST with a raw body and extra header lines (each ending in `\r\n`).
    pub fn post_raw(&self, path: &str, body: &str, headers: &str) -> std::io::Result<Response> {
        let auth = if headers.to_ascii_lowercase().contains("authorization") {
            String::new()
        } else {
            self.auth_header()
        };
        self.raw(&format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    /// Sends `request` and reads the whole response.
    pub fn raw(&self, request: &str) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(300)))?;
        stream.write_all(request.as_bytes())?;
        read_response(BufReader::new(stream))
    }

    /// Starts a streaming POST and returns the open reader positioned at the body.
    pub fn open_stream(&self, path: &str, body: &Value) -> (Response, BufReader<TcpStream>) {
        let body = body.to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.auth_header(),
            body.len()
        );
        stream.write_all(req.as_bytes()).expect("send");
        let mut reader = BufReader::new(stream);
        let head = read_head(&mut reader).expect("response head");
        (head, reader)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response; `body` is de-chunked.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `data:` payloads of an SSE body.
    pub fn sse(&self) -> Vec<String> {
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(str::to_owned)
            .collect()
    }
}

fn read_head(r: &mut impl BufRead) -> std::io::Result<Response> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(Response {
        status,
        headers,
        body: String::new(),
    })
}

/// Reads the next chunk of a chunked body (`None` at the end).
pub fn read_chunk(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut size = String::new();
    if r.read_line(&mut size)? == 0 {
        return Ok(None);
    }
    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
    if n == 0 {
        return Ok(None);
    }
    let mut buf = vec![0; n + 2];
    r.read_exact(&mut buf)?;
    buf.truncate(n);
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn read_response(mut r: impl BufRead) -> std::io::Result<Response> {
    let mut resp = read_head(&mut r)?;
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"));
    if chunked {
        while let Some(c) = read_chunk(&mut r)? {
            resp.body.push_str(&c);
        }
    } else if let Some(n) = resp
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        let mut buf = vec![0; n];
        r.read_exact(&mut buf)?;
        resp.body = String::from_utf8_lossy(&buf).into_owned();
    } else {
        r.read_to_string(&mut resp.body)?;
    }
    Ok(resp)
}

/// The reference answers (llama.cpp's) from `testdata/reference/smollm2.json`.
pub fn reference() -> Option<Value> {
    reference_file("smollm2.json")
}

/// The reference answers (llama.cpp's) from `testdata/reference/NAME`.
pub fn reference_file(name: &str) -> Option<Value> {
    let path = workspace().join("testdata/reference").join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("reference JSON")),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing in CI: {e}",
                path.display()
            );
            eprintln!(
                "skipping reference check: {} not readable: {e}",
                path.display()
            );
            None
        }
    }
}

/// `(event name, data)` of each event of an SSE body with named events (the Anthropic
/// Messages stream), in order.
pub fn named_events(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut name = None;
    for line in body.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = Some(n.to_owned());
        } else if let Some(d) = line.strip_prefix("data: ") {
            let data: Value = serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}"));
            out.push((name.take().expect("every event is named"), data));
        }
    }
    out
}

/// A greedy chat request body.
pub fn chat_body(content: &str, max_tokens: u32) -> Value {
    serde_json::json!({"messages": [{"role": "user", "content": content}], "temperature": 0, "max_tokens": max_tokens})
}
