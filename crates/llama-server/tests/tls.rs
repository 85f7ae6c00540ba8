//! HTTPS with `--ssl-cert-file` / `--ssl-key-file` given as llama.cpp's `LLAMA_ARG_*`
//! variables: a certificate made here, a rustls client that trusts only it, `/health` and a
//! completion over TLS; a plain-HTTP request to the TLS port gets no HTTP answer.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{crypto, ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// Kills the server on drop.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client(cert: &rcgen::Certificate) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(cert.der().clone())
        .expect("trust the test certificate");
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// One HTTPS request; the status line and the body.
fn https(config: &Arc<ClientConfig>, port: u16, request: &str) -> std::io::Result<(u16, String)> {
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = ClientConnection::new(config.clone(), name).map_err(std::io::Error::other)?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes())?;
    let mut text = String::new();
    // The server closes the connection (`Connection: close`); rustls reports a missing
    // close_notify as an error after all data has been read.
    let _ = tls.read_to_string(&mut text);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

#[test]
fn serves_https_with_llama_cpp_ssl_flags() {
    let Some(model) = common::model_path() else {
        return;
    };
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let dir = std::env::temp_dir().join(format!("llama-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key_pair.serialize_pem()).expect("write key");

    let mut child = Command::new(env!("CARGO_BIN_EXE_llama-server"))
        .arg("-m")
        .arg(&model)
        .args(["--host", "127.0.0.1", "--port", "0", "-t", "1", "-c", "512"])
        .env("LLAMA_ARG_SSL_CERT_FILE", &cert_path)
        .env("LLAMA_ARG_SSL_KEY_FILE", &key_path)
        .env_remove("LLAMA_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start llama-server");
    let stdout = child.stdout.take().expect("stdout");
    let child = Child(child);
    let mut lines = BufReader::new(stdout).lines();
    let port: u16 = loop {
        let line = lines.next().expect("server exited").expect("stdout");
        // After the log prefix (timestamp, level letter).
        if let Some((_, addr)) = line.split_once("llama-server listening on https://") {
            break addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port");
        }
        assert!(!line.contains("listening on http://"), "TLS not on: {line}");
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});

    let config = client(&cert);
    let health = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let start = Instant::now();
    loop {
        let (status, body) = https(&config, port, health).expect("https /health");
        if status == 200 {
            assert_eq!(body, r#"{"status":"ok"}"#);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "not ready: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = r#"{"prompt":"The capital of France is","n_predict":4,"temperature":0}"#;
    let post = format!(
        "POST /completion HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = https(&config, port, &post).expect("https /completion");
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    assert_eq!(v["tokens_predicted"], 4, "{v}");

    // Plain HTTP on the TLS port: no HTTP response comes back.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    plain.write_all(health.as_bytes()).expect("send");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/1.1 200"), "{got:?}");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
}
