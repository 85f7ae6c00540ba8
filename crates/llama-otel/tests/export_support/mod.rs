//! Real receivers for the export tests: `rotel-agent` (PyPI `rotel`) printing what it gets,
//! `stunnel` terminating TLS in front of it with certificates made by `openssl`, and a TCP
//! proxy that keeps a copy of every byte the exporter sent (to check compression on the wire).

#![allow(dead_code, clippy::unwrap_used)] // test helpers: failures should panic

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `None` (with the reason printed) when a tool is missing outside CI; under CI, a failure.
fn required<T>(what: Result<T, String>) -> Option<T> {
    match what {
        Ok(t) => Some(t),
        Err(why) => {
            assert!(std::env::var_os("CI").is_none(), "CI needs it: {why}");
            eprintln!("skipping: {why}");
            None
        }
    }
}

fn rotel_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        return Ok(PathBuf::from(p));
    }
    let script =
        "import rotel,os;print(os.path.join(os.path.dirname(rotel.__file__),'rotel-agent'))";
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    match out.status.success() && path.is_file() {
        true => Ok(path),
        false => Err("no rotel-agent (pip install rotel, or set ROTEL_AGENT)".into()),
    }
}

/// A child process whose output is collected; killed on drop.
pub struct Proc {
    child: Child,
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

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        capture(child.stdout.take().unwrap(), log.clone());
        capture(child.stderr.take().unwrap(), log.clone());
        Proc { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_listening(&self, ports: &[u16]) {
        let start = Instant::now();
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "nothing listens on {port}:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Polls the log until it contains `needle`; false after `timeout`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rotel-agent` with its debug log on and the blackhole exporter.
pub struct Rotel {
    pub proc: Proc,
    pub grpc_port: u16,
    pub http_port: u16,
}

impl Rotel {
    pub fn start() -> Option<Rotel> {
        let bin = required(rotel_binary())?;
        let (grpc_port, http_port) = (free_port(), free_port());
        let proc = Proc::spawn(
            Command::new(bin)
                .arg("start")
                .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc_port}")])
                .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
                .args(["--debug-log", "traces", "--debug-log", "metrics"])
                .args(["--debug-log", "logs", "--debug-log-verbosity", "detailed"])
                .args(["--exporter", "blackhole"]),
        );
        proc.wait_listening(&[grpc_port, http_port]);
        Some(Rotel {
            proc,
            grpc_port,
            http_port,
        })
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throw-away CA (`ca.pem`), a server certificate it signed for 127.0.0.1/localhost
/// (`server.pem`, `server.key`), and an unrelated CA (`other-ca.pem`).
pub fn make_certificates(dir: &Path) -> Option<()> {
    required(
        Command::new("openssl")
            .arg("version")
            .output()
            .map_err(|e| format!("no openssl CLI: {e}")),
    )?;
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    for ca in ["ca", "other-ca"] {
        let (key, pem, subj) = (
            format!("{ca}.key"),
            format!("{ca}.pem"),
            format!("/CN=llama-otel test {ca}"),
        );
        let mut args = vec!["req", "-x509", "-nodes", "-days", "1"];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem, "-subj", &subj]);
        openssl(dir, &args);
    }
    leaf(dir, "server", "serverAuth");
    leaf(dir, "client", "clientAuth");
    Some(())
}

/// `{name}.pem`/`{name}.key`: a certificate signed by `ca.pem` for 127.0.0.1/localhost.
fn leaf(dir: &Path, name: &str, usage: &str) {
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    let (key, csr, pem, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    let mut args = vec!["req", "-nodes"];
    args.extend(ec);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
    openssl(dir, &args);
    std::fs::write(
        dir.join(&ext),
        format!(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage={usage}\n"
        ),
    )
    .unwrap();
    let sign = [
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        &pem,
        "-extfile",
        &ext,
    ];
    openssl(dir, &sign);
}

/// `stunnel` accepting TLS and forwarding to rotel's gRPC and HTTP receivers, plus a port
/// that requires a client certificate signed by `ca.pem` (mutual TLS, to gRPC).
pub struct Stunnel {
    pub proc: Proc,
    pub grpc_port: u16,
    pub http_port: u16,
    pub mtls_grpc_port: u16,
}

impl Stunnel {
    pub fn start(dir: &Path, rotel: &Rotel) -> Option<Stunnel> {
        let bin = required(
            ["stunnel4", "stunnel"]
                .into_iter()
                .find(|b| Command::new(b).arg("-version").output().is_ok())
                .ok_or_else(|| "no stunnel (Debian: apt-get install stunnel4)".to_owned()),
        )?;
        let (grpc_port, http_port, mtls_grpc_port) = (free_port(), free_port(), free_port());
        let conf = dir.join("stunnel.conf");
        let cert = dir.join("server.pem");
        let key = dir.join("server.key");
        std::fs::write(
            &conf,
            format!(
                "foreground = yes\npid =\ndebug = 4\n\
                 [grpc]\naccept = 127.0.0.1:{grpc_port}\nconnect = 127.0.0.1:{}\n\
                 cert = {c}\nkey = {k}\n\
                 [http]\naccept = 127.0.0.1:{http_port}\nconnect = 127.0.0.1:{}\n\
                 cert = {c}\nkey = {k}\n\
                 [mtls]\naccept = 127.0.0.1:{mtls_grpc_port}\nconnect = 127.0.0.1:{}\n\
                 cert = {c}\nkey = {k}\nverifyChain = yes\nrequireCert = yes\nCAfile = {ca}\n",
                rotel.grpc_port,
                rotel.http_port,
                rotel.grpc_port,
                c = cert.display(),
                k = key.display(),
                ca = dir.join("ca.pem").display(),
            ),
        )
        .unwrap();
        let proc = Proc::spawn(Command::new(bin).arg(&conf));
        proc.wait_listening(&[grpc_port, http_port, mtls_grpc_port]);
        Some(Stunnel {
            proc,
            grpc_port,
            http_port,
            mtls_grpc_port,
        })
    }
}

/// Forwards TCP connections to `target`, keeping a copy of what clients sent.
pub struct TeeProxy {
    pub port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
}

fn pump(mut from: TcpStream, mut to: TcpStream, copy: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(copy) = &copy {
            copy.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl TeeProxy {
    pub fn start(target: u16) -> TeeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let copy = sent.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let copy = copy.clone();
                std::thread::spawn(move || pump(client, server, Some(copy)));
                std::thread::spawn(move || pump(s2, c2, None));
            }
        });
        TeeProxy { port, sent }
    }

    pub fn sent(&self) -> Vec<u8> {
        self.sent.lock().unwrap().clone()
    }
}

/// The first byte of each gRPC message in the client's HTTP/2 (cleartext) DATA frames: the
/// gRPC "compressed" flag (1 = compressed with the `grpc-encoding` named in the headers).
pub fn grpc_message_flags(h2: &[u8]) -> Vec<u8> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut flags = Vec::new();
    let mut rest = h2.strip_prefix(PREFACE).unwrap_or(h2);
    let mut seen_streams = Vec::new();
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        let (kind, stream) = (
            rest[3],
            u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]),
        );
        let Some(payload) = rest.get(9..9 + len) else {
            break;
        };
        // The first DATA frame of a stream starts with the message prefix (flag, length).
        if kind == 0 && !payload.is_empty() && !seen_streams.contains(&stream) {
            seen_streams.push(stream);
            flags.push(payload[0]);
        }
        rest = &rest[9 + len..];
    }
    flags
}

/// Each HTTP/1.1 request's `Content-Encoding` (lower case, `-` when absent) and whether its
/// body starts with the gzip magic bytes.
pub fn http_encodings(http: &[u8]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = http;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let length: usize = header("content-length:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = &rest[end + 4..];
        let encoding = header("content-encoding:").unwrap_or_else(|| "-".into());
        out.push((encoding, body.starts_with(&[0x1f, 0x8b])));
        rest = body.get(length..).unwrap_or(&[]);
    }
    out
}
