//! ggml RPC on loopback (`rpc` feature): two `llama-rpc-server`s started one at a time on free
//! ports; `--list-devices --rpc A,B` lists a device of each; SmolLM2 offloaded (`-ngl 99`) to a
//! remote device, or split over two (`-ts`, `-sm`), generates greedily the tokens of the local
//! run with each device holding the weights llama.cpp's split puts there; a server killed
//! during generation ends llama-cli with a message naming it.
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
    let (tokens, _, stderr) = greedy_run(model, extra);
    (tokens, stderr)
}

/// The greedy tokens, the top-two log-probabilities at each position, and llama-cli's stderr.
fn greedy_run(model: &str, extra: &[&str]) -> (Vec<u64>, Vec<(f64, f64)>, String) {
    let mut args = vec!["-m", model, "-p", "The capital of France is"];
    args.extend([
        "-n",
        "24",
        "--temp",
        "0",
        "--json",
        "--n-probs",
        "2",
        "-t",
        "1",
    ]);
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
    let top2 = v["probs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0][1].as_f64().unwrap(), p[1][1].as_f64().unwrap()))
        .collect();
    (tokens, top2, stderr.into_owned())
}

/// Asserts `got` equals the local run's tokens up to the local run's first near-tie (its two
/// best log-probabilities within 0.02, where CPUs may order them differently).
fn assert_same_greedy(local: &[u64], top2: &[(f64, f64)], got: &[u64], label: &str) {
    let tie = top2.iter().position(|(a, b)| a - b < 0.02);
    let n = tie.unwrap_or(local.len());
    if let Some(i) = tie {
        eprintln!("{label}: near-tie at generated position {i}: compared {i} tokens");
    }
    assert_eq!(
        &got[..n],
        &local[..n],
        "{label}: greedy tokens differ from the local run"
    );
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

/// The `  BACKEND LAYERS BYTES` line llama-cli prints for `backend` (`RPC0[ep]`, `CPU`).
fn split_line(stderr: &str, backend: &str) -> (String, usize) {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("  {backend} ")))
        .unwrap_or_else(|| panic!("no line for {backend} in {stderr}"));
    let (layers, bytes) = line.split_once(' ').unwrap();
    (layers.to_string(), bytes.parse().unwrap())
}

/// Bytes of the GGUF tensors whose names `pick` selects (data sizes, as ggml_nbytes).
fn tensor_bytes(path: &std::path::Path, pick: impl Fn(&str) -> bool) -> usize {
    let file = llama_core::gguf::GgufFile::open(path).unwrap();
    file.tensors()
        .iter()
        .filter(|t| pick(t.name()))
        .map(|t| t.n_bytes() as usize)
        .sum()
}

/// The layer index of `blk.N.*`.
fn block(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

#[test]
fn smollm2_split_over_two_rpc_servers_matches_the_local_run_and_llama_cpp_placement() {
    let Some(path) = SMOLLM2.path() else {
        return;
    };
    let model = path.to_string_lossy().into_owned();
    let (local, top2, _) = greedy_run(&model, &[]);
    let (a, b) = (RpcServer::start(), RpcServer::start());
    let both = format!("{},{}", a.endpoint, b.endpoint);
    let args = ["--rpc", &both, "-ngl", "99", "-ts", "1,1"];
    let (split, _, stderr) = greedy_run(&model, &args);
    assert_same_greedy(&local, &top2, &split, "-ts 1,1 over two RPC servers");
    // llama.cpp's load_tensors: SmolLM2's 30 layers plus the output are 31 positions; with split
    // points [0.5, 1.0] position p goes to the first device whose point exceeds p/31, so layers
    // 0-15 (15/31 < 0.5) go to the first server and 16-29 with the output to the second; the
    // token embeddings stay on the CPU, and the output (tied to them) gets its own copy.
    let ra = format!("RPC0[{}]", a.endpoint);
    let rb = format!("RPC0[{}]", b.endpoint);
    let tied = tensor_bytes(&path, |n| n == "output.weight") == 0;
    let output = tensor_bytes(&path, |n| {
        n == "output_norm.weight" || n == "output.weight" || (tied && n == "token_embd.weight")
    });
    let first = tensor_bytes(&path, |n| block(n).is_some_and(|l| l <= 15));
    let second = tensor_bytes(&path, |n| block(n).is_some_and(|l| l >= 16)) + output;
    let cpu = tensor_bytes(&path, |n| n == "token_embd.weight");
    assert_eq!(split_line(&stderr, &ra), ("0-15".into(), first), "{stderr}");
    assert_eq!(
        split_line(&stderr, &rb),
        ("16-29+output".into(), second),
        "{stderr}"
    );
    assert_eq!(split_line(&stderr, "CPU"), ("-".into(), cpu), "{stderr}");
    eprintln!("-ts 1,1: {ra} {first} B, {rb} {second} B, CPU {cpu} B");

    // 3:1 by proportion: positions below 0.75·31 = 23.25, layers 0-23, on the first server.
    let args = ["--rpc", &both, "-ngl", "99", "-ts", "3,1"];
    let (uneven, _, stderr) = greedy_run(&model, &args);
    assert_same_greedy(&local, &top2, &uneven, "-ts 3,1");
    let first = tensor_bytes(&path, |n| block(n).is_some_and(|l| l <= 23));
    assert_eq!(split_line(&stderr, &ra), ("0-23".into(), first), "{stderr}");
    assert_eq!(split_line(&stderr, &rb).0, "24-29+output", "{stderr}");

    // -sm none -mg 1: everything offloaded on the second device only.
    let args = ["--rpc", &both, "-ngl", "99", "-sm", "none", "-mg", "1"];
    let (single, _, stderr) = greedy_run(&model, &args);
    assert_same_greedy(&local, &top2, &single, "-sm none -mg 1");
    assert_eq!(split_line(&stderr, &rb).0, "0-29+output", "{stderr}");
    assert!(!stderr.contains(&ra), "{stderr}");
}

#[test]
fn split_mode_row_and_a_bad_main_gpu_are_refused_as_llama_cpp_does() {
    let Some(path) = SMOLLM2.path() else {
        return;
    };
    let model = path.to_string_lossy().into_owned();
    let server = RpcServer::start();
    for (extra, want) in [
        (vec!["-sm", "row"], "does not support split buffers"),
        (
            vec!["-sm", "none", "-mg", "3"],
            "invalid value for main_gpu: 3",
        ),
    ] {
        let mut args = vec![
            "-m",
            &model,
            "-p",
            "Hi",
            "-n",
            "1",
            "--rpc",
            &server.endpoint,
        ];
        args.extend(["-ngl", "99"]);
        args.extend(extra.iter().copied());
        let out = cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} was accepted");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
    }
}

#[test]
fn an_rpc_server_killed_during_generation_ends_llama_cli_with_a_clear_message() {
    use std::io::Read;
    let Some(path) = SMOLLM2.path() else {
        return;
    };
    let mut server = RpcServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_llama-cli"))
        .args([
            "-m",
            &path.to_string_lossy(),
            "-p",
            "Once upon a time",
            "-n",
            "400",
        ])
        .args([
            "--temp",
            "0",
            "-t",
            "1",
            "-ngl",
            "99",
            "--rpc",
            &server.endpoint,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the server once tokens are streaming.
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while seen.len() < 40 {
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "llama-cli stopped before generating");
        seen.extend_from_slice(&buf[..n]);
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "llama-cli succeeded without its server: {stderr}"
    );
    // Between two decodes the dead connection is seen and the run ends with an error; during
    // a decode ggml's RPC client aborts, after our abort callback has said why.
    let checked = format!("rpc: server {} closed the connection", server.endpoint);
    let aborted = "an RPC server stopped or dropped the connection during a call";
    assert!(
        stderr.contains(&checked) || stderr.contains(aborted),
        "no clear message in: {stderr}"
    );
    eprintln!(
        "ended by {}: {:?}",
        if stderr.contains(&checked) {
            "the connection check"
        } else {
            "ggml's abort"
        },
        out.status
    );
}
