//! ggml RPC and a server that dies (`rpc` feature): llama-server with SmolLM2's layers on an RPC
//! server answers; once that RPC server is killed, the next request fails with a 500 naming it
//! (the connection check before each decode), `/health` says so, and llama-server stays up. The RPC server is this
//! test binary itself, re-run with `LLAMA_TEST_SERVE_RPC` set (see `serve_rpc_child`).
#![allow(clippy::unwrap_used)] // test code: failures should panic

mod common;

use common::Server;
use serde_json::json;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVE_ENV: &str = "LLAMA_TEST_SERVE_RPC";

/// Not a test: the body of the RPC server child process (run with `--ignored --exact`).
#[test]
#[ignore = "helper process of rpc_server_killed_fails_the_next_request_and_the_server_stays_up"]
fn serve_rpc_child() {
    let endpoint = std::env::var(SERVE_ENV).expect("run by the test with LLAMA_TEST_SERVE_RPC");
    let e = llama_core::devices::serve_rpc(&endpoint, None, 1, &[]);
    panic!("rpc server on {endpoint} stopped: {e:?}");
}

/// Starts `serve_rpc_child` on a free port and waits until it listens.
fn start_rpc_server() -> (std::process::Child, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("127.0.0.1:{port}");
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "serve_rpc_child", "--nocapture"])
        .env(SERVE_ENV, &endpoint)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(&endpoint).is_err() {
        assert!(Instant::now() < deadline, "rpc server never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, endpoint)
}

#[test]
fn rpc_server_killed_fails_the_next_request_and_the_server_stays_up() {
    let Some(model) = common::model_path() else {
        return;
    };
    let (mut rpc, endpoint) = start_rpc_server();
    let server = Server::start_model(
        &model,
        &["--rpc", &endpoint, "-ngl", "99", "-c", "512"],
        &[],
    );
    let body = json!({"prompt": "The capital of France is", "n_predict": 4, "temperature": 0});
    let ok = server.post("/completion", &body);
    assert_eq!(ok.status, 200, "{}", ok.body);

    rpc.kill().unwrap();
    rpc.wait().unwrap();
    let failed = server.post("/completion", &body);
    assert_eq!(failed.status, 500, "{}", failed.body);
    let want = format!("rpc: server {endpoint} closed the connection");
    assert!(failed.body.contains(&want), "{}", failed.body);
    // Still serving: the next request fails the same way instead of aborting the process.
    let again = server.post("/completion", &body);
    assert_eq!(again.status, 500, "{}", again.body);
    // `/health` reports the lost backend (a probe takes the replica out of rotation).
    let health = server.get("/health").unwrap();
    assert_eq!(health.status, 500, "{}", health.body);
    assert!(health.body.contains(&want), "{}", health.body);
}
