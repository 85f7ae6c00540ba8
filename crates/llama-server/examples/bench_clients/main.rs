//! Load generator (not a test): N concurrent streaming chat clients against a running
//! llama-server, each asking for a fixed number of tokens (greedy, `ignore_eos`). Prints
//! aggregate generated tokens/s and time-to-first-token percentiles.
//!
//! ```text
//! cargo run --release -p llama-server --example bench_clients -- \
//!     [--url http://127.0.0.1:8080] [--clients 8] [--tokens 64] [--requests-per-client 1] [--api-key KEY]
//!     [--workload chat|shared-prefix|multi-turn|repetitive]
//! ```
//! Each client sends its requests one after the other (`multi-turn`: the turns of one
//! conversation, each re-sending the history with the answers received so far).
//! Output ends with one JSON line (`{"clients":..,"tokens_per_second":..,"ttft_p50_ms":..}`)
//! for scripts.

mod workloads;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Args {
    host: String,
    port: u16,
    clients: usize,
    tokens: usize,
    per_client: usize,
    api_key: Option<String>,
    workload: workloads::Workload,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        host: "127.0.0.1".into(),
        port: 8080,
        clients: 8,
        tokens: 64,
        per_client: 1,
        api_key: None,
        workload: workloads::Workload::Chat,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--url" => {
                let hostport = value.trim_start_matches("http://").trim_end_matches('/');
                let (h, p) = hostport.rsplit_once(':').ok_or("--url needs host:port")?;
                a.host = h.to_string();
                a.port = p.parse().map_err(|e| format!("--url port: {e}"))?;
            }
            "--clients" => a.clients = num()?.max(1),
            "--tokens" => a.tokens = num()?.max(1),
            "--requests-per-client" => a.per_client = num()?.max(1),
            "--api-key" => a.api_key = Some(value),
            "--workload" => a.workload = workloads::Workload::parse(&value)?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// One client's requests in order; a conversation's history grows with each answer.
fn one_client(a: &Args, client: usize) -> Vec<Result<(Duration, usize), String>> {
    let mut history = Vec::new();
    let mut out = Vec::new();
    for turn in 0..a.per_client {
        let messages = workloads::messages(a.workload, client, turn, &history);
        let r = one_request(a, &messages);
        if let Ok((_, _, text)) = &r {
            history.push(messages[messages.len() - 1].clone());
            history.push(json!({"role": "assistant", "content": text}));
        }
        out.push(r.map(|(ttft, n, _)| (ttft, n)));
    }
    out
}

/// One streamed request: (time to first token, generated tokens, generated text).
fn one_request(a: &Args, messages: &[Value]) -> Result<(Duration, usize, String), String> {
    let body = json!({"messages": messages, "max_tokens": a.tokens, "temperature": 0,
        "ignore_eos": true, "stream": true, "stream_options": {"include_usage": true}})
    .to_string();
    let auth = a
        .api_key
        .as_ref()
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let start = Instant::now();
    let mut stream = TcpStream::connect((a.host.as_str(), a.port)).map_err(|e| e.to_string())?;
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        a.host,
        body.len()
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| e.to_string())?;
    let (mut ttft, mut generated, mut text) = (None, 0, String::new());
    for line in BufReader::new(stream).lines() {
        let line = line.map_err(|e| e.to_string())?;
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        if let Some(piece) = v["choices"][0]["delta"]["content"].as_str() {
            if ttft.is_none() && !piece.is_empty() {
                ttft = Some(start.elapsed());
            }
            text.push_str(piece);
        }
        if let Some(n) = v["usage"]["completion_tokens"].as_u64() {
            generated = n as usize;
        }
    }
    Ok((ttft.ok_or("no token received")?, generated, text))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let start = Instant::now();
    let results: Vec<Result<(Duration, usize), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..args.clients)
            .map(|c| {
                let a = &args;
                scope.spawn(move || one_client(a, c))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    let mut ttfts: Vec<Duration> = ok
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|x| x.0))
        .collect();
    ttfts.sort();
    let tokens: usize = ok.iter().filter_map(|r| r.as_ref().ok().map(|x| x.1)).sum();
    for e in failed.iter().filter_map(|r| r.as_ref().err()).take(3) {
        eprintln!("request failed: {e}");
    }
    let tps = tokens as f64 / wall;
    println!(
        "requests: {} ok, {} failed; generated {tokens} tokens in {wall:.2} s",
        ok.len(),
        failed.len()
    );
    println!(
        "throughput: {tps:.1} tokens/s; TTFT p50 {:.1} ms, p95 {:.1} ms",
        percentile(&ttfts, 0.5),
        percentile(&ttfts, 0.95)
    );
    println!(
        "{{\"clients\":{},\"requests_ok\":{},\"requests_failed\":{},\"tokens\":{tokens},\"seconds\":{wall:.3},\"tokens_per_second\":{tps:.2},\"ttft_p50_ms\":{:.2},\"ttft_p95_ms\":{:.2}}}",
        args.clients,
        ok.len(),
        failed.len(),
        percentile(&ttfts, 0.5),
        percentile(&ttfts, 0.95)
    );
}
