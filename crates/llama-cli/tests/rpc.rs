//! ggml RPC on loopback (`rpc` feature): two `llama-rpc-server`s started one at a time on free
//! ports; `--list-devices --rpc A,B` lists a device of each; SmolLM2 offloaded (`-ngl 99`) to a
//! remote device generates greedily the very tokens of the local run.
#![allow(clippy::unwrap_used)] // test code: failures should panic

#[path = "../../llama-core/tests/common/mod.rs"]
mod common;

use common::reference::SMOLLM2;
use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An RPC server process, killed on drop.
struct RpcServer {
    child: Child,
    endpoint: String,
}

impl RpcServer {
    /// Starts one on a free port and waits until it accepts connections.
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_llama-rpc-server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llama-rpc-server starts");
        let endpoint = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(&endpoint).is_err() {
            assert!(
                Instant::now() < deadline,
                "rpc server on {endpoint} never listened"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        RpcServer { child, endpoint }
    }
}

impl Drop for RpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_llama-cli"))
        .args(args)
        .output()
        .expect("llama-cli runs")
}

/// The greedy tokens, and llama-cli's stderr.
fn greedy_tokens(model: &str, extra: &[&str]) -> (Vec<u64>, String) {
    let mut args = vec!["-m", model, "-p", "The capital of France is"];
    args.extend(["-n", "24", "--temp", "0", "--json", "-t", "1"]);
    args.extend(extra);
    let out = cli(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "llama-cli {extra:?} failed: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let tokens = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    (tokens, stderr.into_owned())
}

#[test]
fn two_rpc_servers_are_listed_as_devices() {
    let a = RpcServer::start();
    let b = RpcServer::start();
    let both = format!("{},{}", a.endpoint, b.endpoint);
    let out = cli(&["--list-devices", "--rpc", &both]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for ep in [&a.endpoint, &b.endpoint] {
        // llama.cpp's line: `  RPC0: 127.0.0.1:PORT (TOTAL MiB, FREE MiB free)`.
        assert!(
            text.contains(&format!(": {ep} (")),
            "no device of {ep} in:\n{text}"
        );
    }
}

#[test]
fn an_unreachable_rpc_server_is_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = cli(&["--list-devices", "--rpc", &format!("127.0.0.1:{port}")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("rpc: failed to connect to 127.0.0.1"),
        "{stderr}"
    );
}

#[test]
fn smollm2_on_a_remote_device_matches_the_local_run() {
    let Some(path) = SMOLLM2.path() else {
        return;
    };
    let model = path.to_string_lossy().into_owned();
    let (local, _) = greedy_tokens(&model, &[]);
    let server = RpcServer::start();
    let args = ["--rpc", &server.endpoint, "--n-gpu-layers", "99"];
    let (remote, stderr) = greedy_tokens(&model, &args);
    // The remote device is the first backend and holds the repeating layers' weights (92 of
    // SmolLM2's 120 MiB; the token embeddings stay on the CPU, as in llama.cpp).
    let want = format!("backends RPC0[{}]+CPU (weights ", server.endpoint);
    let remote_mib: usize = stderr
        .split_once(&want)
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {want:?} in {stderr}"));
    assert!(remote_mib >= 64, "{stderr}");
    assert_eq!(
        remote, local,
        "greedy tokens over RPC differ from the local run"
    );
    assert_eq!(local.len(), 24);
}
