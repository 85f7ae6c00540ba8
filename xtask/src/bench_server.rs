//! `cargo xtask bench-server`: serving throughput and time to first token of our llama-server
//! under concurrent streaming clients sending one of bench_clients' workloads, optionally
//! against llama.cpp's llama-server with the same flags in the same run.

use crate::stack::process::{free_port, target_dir, wait_http, Proc};
use crate::util::{self, TempDir};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Serving throughput and time to first token under concurrent streaming clients.
///
/// Builds llama-server (release, default features) and the bench_clients example, starts the
/// server on a free loopback port with `-m MODEL -np 4 -t 2` (default model
/// models/SmolLM2-135M-Instruct.Q4_1.gguf) and runs N concurrent streaming chat clients
/// (64 tokens each, greedy, ignore_eos) for N = 1, 4 and 8: aggregate generated tokens/s and
/// time to first token p50/p95. With --llama-cpp (or LLAMA_CPP_SERVER) pointing at llama.cpp's
/// llama-server, starts it with the same flags and benchmarks it in the same run, alternating
/// servers per client count, and prints the ratios. -r repeats each measurement (mean ± sd
/// shown). --workload picks the requests: chat (one short question), shared-prefix (a
/// ~1,500-token system prompt shared by all clients, then distinct questions; 2 requests per
/// client), multi-turn (4 turns per client, each re-sending the whole conversation) or
/// repetitive (copy a code block with an edit). --server-args adds flags to both servers
/// (`--spec-type ngram-simple`). --json prints one summary object, --markdown
/// a README table, instead of the plain table.
#[derive(Debug, clap::Args)]
pub struct Cli {
    #[command(flatten)]
    server: crate::util::ServerArgs,
    /// Concurrent client counts to measure [default: chat 1,4,8; shared-prefix 8,16,32;
    /// multi-turn 4,8; repetitive 1]
    #[arg(long, value_name = "N,N,..", value_delimiter = ',')]
    clients: Vec<usize>,
    /// Requests: chat, shared-prefix, multi-turn, repetitive, or all of them (the README's
    /// results table: each with its default client counts, chat also at 16 and 32, repetitive
    /// with and without `--spec-type ngram-simple`; servers restarted per workload)
    #[arg(long, value_name = "NAME", default_value = "chat",
          value_parser = ["chat", "shared-prefix", "multi-turn", "repetitive", "all"])]
    workload: String,
    /// Requests each client sends in turn [default: 4 for multi-turn, 2 for shared-prefix, else 1]
    #[arg(long, value_name = "N")]
    requests_per_client: Option<usize>,
    /// Tokens each client generates
    #[arg(long, value_name = "N", default_value_t = 64)]
    tokens: usize,
    /// Repetitions of each measurement
    #[arg(short = 'r', value_name = "N", default_value_t = 3)]
    reps: usize,
    /// Print one JSON summary object instead of the table
    #[arg(long)]
    json: bool,
    /// Print a Markdown table (for the README) instead of the plain table
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Also write the JSON summary to FILE (whatever is printed)
    #[arg(long = "save-json", value_name = "FILE")]
    save_json: Option<PathBuf>,
    /// llama.cpp's llama-server, to compare against [env: LLAMA_CPP_SERVER]
    #[arg(long = "llama-cpp", value_name = "PATH")]
    llama_cpp: Option<PathBuf>,
    /// Instead: tg of one greedy chat request constrained by this JSON schema against the same
    /// request unconstrained (ratio constrained / unconstrained; --tokens, -r apply)
    #[arg(long = "json-schema", value_name = "FILE")]
    json_schema: Option<PathBuf>,
    /// More flags for both servers, one string split at spaces, e.g.
    /// `--server-args='--spec-type ngram-simple'` (speculative decoding, same flag in llama.cpp)
    #[arg(long = "server-args", value_name = "FLAGS", allow_hyphen_values = true)]
    server_args: Option<String>,
    /// More flags for our server only, e.g. `--ours-args=--cache-any-prefix`
    #[arg(long = "ours-args", value_name = "FLAGS", allow_hyphen_values = true)]
    ours_args: Option<String>,
    /// Use the debug (dev-profile) server instead of building a release one (quick checks
    /// only: its figures are not release figures)
    #[arg(long)]
    debug: bool,
}

/// The measurements bench_clients prints, averaged over repetitions.
const METRICS: [&str; 3] = ["tokens_per_second", "ttft_p50_ms", "ttft_p95_ms"];

#[derive(Clone)]
struct Opts {
    model: PathBuf,
    threads: usize,
    slots: usize,
    clients: Vec<usize>,
    tokens: usize,
    reps: usize,
    json: bool,
    markdown: bool,
    save_json: Option<PathBuf>,
    workload: String,
    per_client: usize,
    llama_cpp: Option<PathBuf>,
    json_schema: Option<PathBuf>,
    debug: bool,
    server_args: Vec<String>,
    /// Flags for our server only (`--workload all`: `--cache-any-prefix`, which llama.cpp has
    /// no name for: its prompt cache always reuses any length).
    ours_args: Vec<String>,
}

/// The client counts and requests per client a workload is measured with by default.
fn workload_defaults(workload: &str) -> (Vec<usize>, usize) {
    match workload {
        "shared-prefix" => (vec![8, 16, 32], 2),
        "multi-turn" => (vec![4, 8], 4),
        "repetitive" => (vec![1], 1),
        _ => (vec![1, 4, 8], 1),
    }
}

fn parse(a: Cli) -> Result<Opts> {
    let root = util::workspace_root();
    let (clients, per_client) = workload_defaults(&a.workload);
    let opts = Opts {
        model: root.join(
            a.server
                .model
                .as_deref()
                .unwrap_or("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
        ),
        threads: a.server.threads,
        slots: a.server.slots,
        clients: if a.clients.is_empty() {
            clients
        } else {
            a.clients
        },
        tokens: a.tokens,
        reps: a.reps.max(1),
        json: a.json,
        markdown: a.markdown,
        save_json: a.save_json,
        per_client: a.requests_per_client.unwrap_or(per_client).max(1),
        workload: a.workload,
        llama_cpp: a
            .llama_cpp
            .or_else(|| std::env::var_os("LLAMA_CPP_SERVER").map(PathBuf::from)),
        json_schema: a.json_schema,
        debug: a.debug,
        server_args: a
            .server_args
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect(),
        ours_args: (a.ours_args.as_deref().unwrap_or("").split_whitespace())
            .map(String::from)
            .collect(),
    };
    if !opts.model.is_file() {
        bail!(
            "{} not found (cargo xtask fetch-model, or pass -m)",
            opts.model.display()
        );
    }
    if let Some(bin) = opts.llama_cpp.as_ref().filter(|b| !b.is_file()) {
        bail!("--llama-cpp {}: no such file", bin.display());
    }
    Ok(opts)
}

/// A server under test; killed when dropped (also when the benchmark fails).
struct Server {
    name: &'static str,
    proc: Proc,
    url: String,
}

impl Server {
    /// Starts `bin -m MODEL -np SLOTS -t THREADS --port P --host 127.0.0.1 [--server-args]` on a
    /// free port and waits until `/health` answers 200.
    fn start(name: &'static str, bin: &Path, o: &Opts, logs: &Path) -> Result<Self> {
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.arg("-m")
            .arg(&o.model)
            .args(["-np", &o.slots.to_string(), "-t", &o.threads.to_string()])
            .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
            .args(&o.server_args);
        if name == "llama-server" {
            cmd.args(&o.ours_args);
        }
        let log = logs.join(format!("{}.log", name.replace(' ', "-")));
        let mut proc = Proc::spawn(name, &mut cmd, log)?;
        let addr = format!("127.0.0.1:{port}");
        wait_http(&mut proc, &addr, "/health", Duration::from_secs(180))?;
        Ok(Server {
            name,
            proc,
            url: format!("http://{addr}"),
        })
    }

    /// One bench_clients run against this server: its JSON line.
    fn measure(
        &mut self,
        client_bin: &Path,
        clients: usize,
        tokens: usize,
        extra: &[String],
    ) -> Result<Value> {
        self.proc.alive()?;
        let v = util::run_bench_clients_with(client_bin, &self.url, clients, tokens, extra)?;
        let failed = v["requests_failed"].as_u64().unwrap_or(0);
        if failed > 0 || v["tokens"].as_u64().unwrap_or(0) == 0 {
            bail!(
                "{} with {clients} clients: {failed} requests failed, {} tokens (log: {})",
                self.name,
                v["tokens"],
                self.proc.tail()
            );
        }
        Ok(v)
    }
}

pub fn run(args: Cli) -> Result<()> {
    let o = parse(args)?;
    let profile = if o.debug { "debug" } else { "release" };
    let mut build = util::cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "llama-server",
        "--bin",
        "llama-server",
    ]);
    if !o.debug {
        build.arg("--release");
    }
    if o.json_schema.is_none() {
        build.args(["--example", "bench_clients"]);
    }
    util::run(&mut build)?;
    let release = target_dir(&util::workspace_root()).join(profile);
    if let Some(schema) = &o.json_schema {
        return run_schema(&release, &o, schema);
    }
    let client_bin = release.join("examples").join("bench_clients");
    let mut summaries = Vec::new();
    for w in plan(&o) {
        summaries.push(run_workload(&release, &client_bin, &w)?);
    }
    let all = Value::Array(summaries.clone());
    if let Some(path) = &o.save_json {
        std::fs::write(path, format!("{all:#}\n"))?;
    }
    if o.json {
        println!("{all}");
    } else if o.markdown {
        print_markdown_header();
        for s in &summaries {
            print_markdown_rows(s);
        }
        print_markdown_footer(&o);
    } else {
        for s in &summaries {
            print_table(s, &o);
        }
    }
    Ok(())
}

/// The workloads one run measures: the one asked for, or with `all` each at its defaults
/// (chat also at 16 and 32 clients; multi-turn also with our `--cache-any-prefix`; repetitive
/// also with n-gram speculative decoding).
fn plan(o: &Opts) -> Vec<Opts> {
    if o.workload != "all" {
        return vec![o.clone()];
    }
    let mut out = Vec::new();
    for name in ["chat", "shared-prefix", "multi-turn", "repetitive"] {
        let (clients, per_client) = workload_defaults(name);
        let mut w = o.clone();
        w.workload = name.to_owned();
        w.clients = if name == "chat" {
            vec![1, 4, 8, 16, 32]
        } else {
            clients
        };
        w.per_client = per_client;
        out.push(w.clone());
        if name == "multi-turn" {
            let mut any = w.clone();
            any.ours_args.push("--cache-any-prefix".into());
            out.push(any);
        }
        if name == "repetitive" {
            w.server_args
                .extend(["--spec-type".into(), "ngram-simple".into()]);
            out.push(w);
        }
    }
    out
}

/// Starts the servers, warms them up and measures one workload: its summary object.
fn run_workload(release: &Path, client_bin: &Path, o: &Opts) -> Result<Value> {
    let tmp = TempDir::new(
        Some(&target_dir(&util::workspace_root()).join("tmp")),
        "bench-server",
    )?;
    let mut servers = vec![Server::start(
        "llama-server",
        &release.join("llama-server"),
        o,
        tmp.path(),
    )?];
    if let Some(bin) = &o.llama_cpp {
        servers.push(Server::start("llama.cpp llama-server", bin, o, tmp.path())?);
    }
    // One client's requests of the workload first: the first decode allocates graphs and
    // buffers, and every measured round then finds the prompt caches as the rounds after it do
    // (the workload's prompts repeat from round to round).
    for s in &mut servers {
        s.measure(client_bin, 1, 8, &workload_args(o))?;
    }
    let runs = measure_all(&mut servers, client_bin, o)?;
    Ok(summarize(&runs, o))
}

/// `--json-schema`: our server only, constrained against unconstrained tg.
fn run_schema(bin_dir: &Path, o: &Opts, schema: &Path) -> Result<()> {
    let tmp = TempDir::new(
        Some(&target_dir(&util::workspace_root()).join("tmp")),
        "bench-server",
    )?;
    let server = Server::start("llama-server", &bin_dir.join("llama-server"), o, tmp.path())?;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let summary = crate::bench_server_schema::measure(&addr, schema, o.tokens, o.reps)?;
    drop(server);
    if o.json {
        println!("{summary}");
    } else {
        crate::bench_server_schema::print(&summary);
    }
    Ok(())
}

/// bench_clients' flags for the workload.
fn workload_args(o: &Opts) -> [String; 4] {
    [
        "--workload".to_string(),
        o.workload.clone(),
        "--requests-per-client".to_string(),
        o.per_client.to_string(),
    ]
}

/// `runs[server][client count]`: each repetition's JSON line. Per repetition and client count
/// every server runs once, the order alternating, so drift on a noisy machine hits all alike.
fn measure_all(
    servers: &mut [Server],
    client_bin: &Path,
    o: &Opts,
) -> Result<Vec<Vec<Vec<Value>>>> {
    let mut runs = vec![vec![Vec::new(); o.clients.len()]; servers.len()];
    let mut turn = 0;
    let extra = workload_args(o);
    for _ in 0..o.reps {
        for (ci, &clients) in o.clients.iter().enumerate() {
            let mut order: Vec<usize> = (0..servers.len()).collect();
            if turn % 2 == 1 {
                order.reverse();
            }
            turn += 1;
            for si in order {
                let v = servers[si].measure(client_bin, clients, o.tokens, &extra)?;
                if !o.json {
                    eprintln!(
                        "{:<22} {clients:>2} clients: {:>7.1} t/s, TTFT p50 {:>7.1} ms",
                        servers[si].name,
                        v["tokens_per_second"].as_f64().unwrap_or(0.0),
                        v["ttft_p50_ms"].as_f64().unwrap_or(0.0)
                    );
                }
                runs[si][ci].push(v);
            }
        }
    }
    Ok(runs)
}

/// Mean and sample standard deviation of `key` over the repetitions.
fn mean_sd(runs: &[Value], key: &str) -> (f64, f64) {
    let xs: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
    let n = xs.len().max(1) as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, var.sqrt())
}

/// One object: the settings and, per client count, our means, llama.cpp's and the ratios
/// (ours / llama.cpp: above 1 is better for tokens/s, below 1 for TTFT).
fn summarize(runs: &[Vec<Vec<Value>>], o: &Opts) -> Value {
    let results: Vec<Value> = o
        .clients
        .iter()
        .enumerate()
        .map(|(ci, &clients)| {
            let mut r = json!({ "clients": clients });
            for key in METRICS {
                let (ours, sd) = mean_sd(&runs[0][ci], key);
                r[key] = json!(ours);
                r[format!("{key}_sd")] = json!(sd);
                if let Some(t) = runs.get(1) {
                    let (theirs, their_sd) = mean_sd(&t[ci], key);
                    r[format!("llama_cpp_{key}")] = json!(theirs);
                    r[format!("llama_cpp_{key}_sd")] = json!(their_sd);
                    r[format!("ratio_{key}")] =
                        json!(if theirs > 0.0 { ours / theirs } else { 0.0 });
                }
            }
            r
        })
        .collect();
    json!({
        "model": o.model.file_name().map(|f| f.to_string_lossy().into_owned()),
        "threads": o.threads,
        "slots": o.slots,
        "tokens_per_client": o.tokens,
        "workload": o.workload,
        "server_args": o.server_args.join(" "),
        "ours_args": o.ours_args.join(" "),
        "requests_per_client": o.per_client,
        "repetitions": o.reps,
        "llama_cpp": o.llama_cpp.is_some(),
        "results": results,
    })
}

fn print_table(s: &Value, o: &Opts) {
    let theirs = o.llama_cpp.is_some();
    println!(
        "workload {} {}",
        s["workload"].as_str().unwrap_or(""),
        s["server_args"].as_str().unwrap_or("")
    );
    print!("{:>7} {:>10} {:>18}", "clients", "t/s", "TTFT p50/p95 ms");
    if theirs {
        print!(
            " {:>14} {:>24} {:>9} {:>10}",
            "llama.cpp t/s", "llama.cpp TTFT p50/p95", "t/s ratio", "p50 ratio"
        );
    }
    println!();
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap_or(0.0);
    for r in s["results"].as_array().into_iter().flatten() {
        let ttft = format!("{:.0} / {:.0}", f(r, "ttft_p50_ms"), f(r, "ttft_p95_ms"));
        print!(
            "{:>7} {:>10.1} {ttft:>18}",
            r["clients"].as_u64().unwrap_or(0),
            f(r, "tokens_per_second")
        );
        if theirs {
            let their_ttft = format!(
                "{:.0} / {:.0}",
                f(r, "llama_cpp_ttft_p50_ms"),
                f(r, "llama_cpp_ttft_p95_ms")
            );
            print!(
                " {:>14.1} {their_ttft:>24} {:>9.3} {:>10.3}",
                f(r, "llama_cpp_tokens_per_second"),
                f(r, "ratio_tokens_per_second"),
                f(r, "ratio_ttft_p50_ms")
            );
        }
        println!();
    }
    println!(
        "(-np {} -t {}, {} tokens per client, {} repetition(s); ratios are ours / llama.cpp: \
         t/s above 1 and TTFT below 1 favour ours)",
        o.slots, o.threads, o.tokens, o.reps
    );
}

/// The README table's header (ours and llama.cpp's mean ± sd and the ratios per row).
fn print_markdown_header() {
    println!(
        "| workload | clients | ours t/s | llama.cpp t/s | t/s ratio | ours TTFT p50 ms | \
         llama.cpp TTFT p50 ms | TTFT ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
}

/// One workload's rows of the README table.
fn print_markdown_rows(s: &Value) {
    let f = |r: &Value, k: &str| r[k].as_f64().unwrap_or(0.0);
    let pm = |r: &Value, k: &str, d: usize| {
        format!("{:.d$} ± {:.d$}", f(r, k), f(r, &format!("{k}_sd")), d = d)
    };
    let mut name = s["workload"].as_str().unwrap_or("").to_owned();
    if let Some(a) = s["server_args"].as_str().filter(|a| !a.is_empty()) {
        name = format!("{name} (`{a}`)");
    }
    if let Some(a) = s["ours_args"].as_str().filter(|a| !a.is_empty()) {
        name = format!("{name} (ours `{a}`)");
    }
    let per_client = s["requests_per_client"].as_u64().unwrap_or(1);
    if per_client > 1 {
        name = format!("{name}, {per_client} req/client");
    }
    for r in s["results"].as_array().into_iter().flatten() {
        println!(
            "| {name} | {} | {} | {} | {:.2} | {} | {} | {:.2} |",
            r["clients"].as_u64().unwrap_or(0),
            pm(r, "tokens_per_second", 1),
            pm(r, "llama_cpp_tokens_per_second", 1),
            f(r, "ratio_tokens_per_second"),
            pm(r, "ttft_p50_ms", 0),
            pm(r, "llama_cpp_ttft_p50_ms", 0),
            f(r, "ratio_ttft_p50_ms")
        );
    }
}

/// The settings under the README table.
fn print_markdown_footer(o: &Opts) {
    println!(
        "\n(-np {} -t {}, {} tokens per request, {} rounds alternating; mean ± sd; ratios ours / \
         llama.cpp: t/s above 1 and TTFT below 1 favour ours)",
        o.slots, o.threads, o.tokens, o.reps
    );
}
