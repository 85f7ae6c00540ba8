//! `cargo xtask bench-otel`: what telemetry costs the server. One run builds llama-server
//! without and with the `otel` feature and measures, alternating configurations round by round
//! so drift on a noisy machine hits them alike: generation speed of one request (tg, like
//! llama-bench's, through the server's `/completion`) and aggregate throughput of concurrent
//! streaming clients (`bench_clients`), for the plain build, the otel build exporting to a live
//! collector (`rotel-agent`, blackhole exporter), and the otel build with the collector down.

use crate::stack::http::http;
use crate::stack::process::{free_port, target_dir, wait_http, Proc};
use crate::util::{self, Args, TempDir};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const USAGE: &str =
    "bench-otel [-m MODEL] [-t 2] [-np 4] [-r 3] [--tg 128] [--clients 4] [--tokens 64]
                 [--ggml-ops] [--control] [--json]
      Cost of telemetry on serving speed. Builds llama-server (release) without and with the
      `otel` feature into target/xtask/llama-server-{plain,otel}, starts rotel-agent (PyPI
      `rotel`, or $ROTEL_AGENT) with the blackhole exporter, and in each of -r rounds, the order
      rotating, starts each configuration's server alone, warms it up and measures tg (one
      /completion, n_predict 128, ignore_eos, tokens/s from the server's timings) and
      bench_clients (4 streaming clients x 64 tokens, aggregate tokens/s). Configurations: plain
      build; otel build exporting over OTLP/gRPC to rotel; otel build with the collector down
      (endpoint at a closed port); both exporting every second. --ggml-ops adds the otel build
      with --otel-ggml-ops, --control a second plain run (the noise floor). Prints means, the
      per-round ratios to plain (mean ± standard error) and the costs; targets: <= 1 %
      exporting, <= 2 % collector down.";

/// Metric push interval and span batch delay of the exporting configurations (ms): shorter
/// than the defaults (60 s, 5 s) so that every measurement exports several times.
const EXPORT_INTERVAL_MS: &str = "1000";

struct Opts {
    model: PathBuf,
    threads: usize,
    slots: usize,
    reps: usize,
    tg: usize,
    clients: usize,
    tokens: usize,
    ggml_ops: bool,
    control: bool,
    json: bool,
}

fn parse(mut a: Args) -> Result<Opts> {
    let root = util::workspace_root();
    let model = match (a.value("-m")?, a.value("--model")?) {
        (Some(m), _) | (None, Some(m)) => root.join(m),
        (None, None) => root.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"),
    };
    let opts = Opts {
        model,
        threads: a.parsed("-t", 2)?,
        slots: a.parsed("-np", 4)?,
        reps: a.parsed("-r", 3usize)?.max(1),
        tg: a.parsed("--tg", 128usize)?.max(2),
        clients: a.parsed("--clients", 4usize)?.max(1),
        tokens: a.parsed("--tokens", 64usize)?.max(1),
        ggml_ops: a.flag("--ggml-ops"),
        control: a.flag("--control"),
        json: a.flag("--json"),
    };
    a.finish()?;
    if !opts.model.is_file() {
        bail!(
            "{} not found (cargo xtask fetch-model, or pass -m)",
            opts.model.display()
        );
    }
    Ok(opts)
}

/// One server configuration.
struct Config {
    name: &'static str,
    otel_build: bool,
    env: Vec<(&'static str, String)>,
    args: Vec<&'static str>,
}

fn configs(o: &Opts, rotel_grpc: u16, closed: u16) -> Vec<Config> {
    let otlp = |port: u16| {
        vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".to_owned()),
            ("OTEL_METRIC_EXPORT_INTERVAL", EXPORT_INTERVAL_MS.to_owned()),
            ("OTEL_BSP_SCHEDULE_DELAY", EXPORT_INTERVAL_MS.to_owned()),
        ]
    };
    let mut list = vec![
        Config {
            name: "plain (no otel feature)",
            otel_build: false,
            env: Vec::new(),
            args: Vec::new(),
        },
        Config {
            name: "otel, exporting",
            otel_build: true,
            env: otlp(rotel_grpc),
            args: Vec::new(),
        },
        Config {
            name: "otel, collector down",
            otel_build: true,
            env: otlp(closed),
            args: Vec::new(),
        },
    ];
    if o.control {
        list.push(Config {
            name: "plain again (control)",
            otel_build: false,
            env: Vec::new(),
            args: Vec::new(),
        });
    }
    if o.ggml_ops {
        list.push(Config {
            name: "otel, --otel-ggml-ops",
            otel_build: true,
            env: Vec::new(),
            args: vec!["--otel-ggml-ops"],
        });
    }
    list
}

/// `OTEL_*` variables of the caller's shell that would change the configurations.
const CLEARED_ENV: [&str; 6] = [
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
];

/// A running server of one configuration; killed when dropped.
struct Server {
    name: &'static str,
    proc: Proc,
    addr: String,
}

impl Server {
    fn start(c: &Config, bin: &Path, o: &Opts, logs: &Path) -> Result<Self> {
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        for k in CLEARED_ENV {
            cmd.env_remove(k);
        }
        cmd.envs(c.env.iter().map(|(k, v)| (k, v)))
            .arg("-m")
            .arg(&o.model)
            .args(["-np", &o.slots.to_string(), "-t", &o.threads.to_string()])
            .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
            .args(&c.args);
        let log = logs.join(format!("server-{port}.log"));
        let mut proc = Proc::spawn(c.name, &mut cmd, log)?;
        let addr = format!("127.0.0.1:{port}");
        wait_http(&mut proc, &addr, "/health", Duration::from_secs(180))?;
        Ok(Server {
            name: c.name,
            proc,
            addr,
        })
    }

    /// Generation tokens/s of one request (the server's `predicted_per_second`).
    fn tg(&mut self, n: usize) -> Result<f64> {
        self.proc.alive()?;
        let body = json!({"prompt": "Once upon a time", "n_predict": n, "ignore_eos": true,
            "temperature": 0, "cache_prompt": false});
        let r = http(
            &self.addr,
            "POST",
            "/completion",
            "application/json",
            &body.to_string(),
            Duration::from_secs(600),
        )?;
        let v: Value = serde_json::from_str(&r.body)
            .with_context(|| format!("{}: /completion answered {}", self.name, r.status))?;
        let predicted = v["timings"]["predicted_n"].as_u64().unwrap_or(0);
        if r.status != 200 || predicted != n as u64 {
            bail!("{}: /completion: {} {}", self.name, r.status, r.body);
        }
        v["timings"]["predicted_per_second"]
            .as_f64()
            .ok_or_else(|| anyhow!("{}: no timings in {}", self.name, r.body))
    }

    /// One bench_clients run: its JSON line.
    fn clients(&mut self, client_bin: &Path, clients: usize, tokens: usize) -> Result<Value> {
        self.proc.alive()?;
        let v = util::run_bench_clients(
            client_bin,
            &format!("http://{}", self.addr),
            clients,
            tokens,
        )?;
        if v["requests_failed"].as_u64().unwrap_or(0) > 0 {
            bail!("{}: requests failed: {v} ({})", self.name, self.proc.tail());
        }
        Ok(v)
    }

    /// `llama_telemetry_dropped_total` lines of `/metrics` (empty for the plain build).
    fn telemetry_dropped(&self) -> String {
        let text = http(
            &self.addr,
            "GET",
            "/metrics",
            "text/plain",
            "",
            Duration::from_secs(10),
        )
        .map(|r| r.body)
        .unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("llama_telemetry_dropped"))
            .filter_map(|l| {
                let (labels, value) = l.rsplit_once(' ')?;
                let reason = labels.split("reason=\"").nth(1)?.split('"').next()?;
                let signal = labels.split("signal=\"").nth(1)?.split('"').next()?;
                Some(format!("{signal} {reason}: {value}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Builds the two servers (copied apart) and bench_clients; returns (plain, otel, clients).
fn build() -> Result<(PathBuf, PathBuf, PathBuf)> {
    let root = util::workspace_root();
    let target = target_dir(&root);
    let out = target.join("xtask");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let release = target.join("release");
    let mut paths = Vec::new();
    for (features, name) in [
        (None, "llama-server-plain"),
        (Some("otel"), "llama-server-otel"),
    ] {
        let mut cmd = util::cargo();
        cmd.args(["build", "--release", "--quiet", "-p", "llama-server"])
            .args(["--bin", "llama-server", "--example", "bench_clients"]);
        if let Some(f) = features {
            cmd.args(["--features", f]);
        }
        util::run(&mut cmd)?;
        let dest = out.join(name);
        std::fs::copy(release.join("llama-server"), &dest)
            .with_context(|| format!("copying the server to {}", dest.display()))?;
        paths.push(dest);
    }
    let clients = release.join("examples").join("bench_clients");
    Ok((paths.remove(0), paths.remove(0), clients))
}

/// `rotel-agent`: `$ROTEL_AGENT`, else the binary inside the `rotel` Python package.
fn rotel_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        return Ok(PathBuf::from(p));
    }
    let script =
        "import rotel,os;print(os.path.join(os.path.dirname(rotel.__file__),'rotel-agent'))";
    let out = util::output(Command::new("python3").args(["-c", script]))
        .context("finding rotel-agent (pip install rotel, or set ROTEL_AGENT)")?;
    let path = PathBuf::from(out.trim());
    if !path.is_file() {
        bail!("{} is missing (pip install rotel)", path.display());
    }
    Ok(path)
}

/// rotel on a free gRPC port (and a free HTTP one), exporting nowhere.
fn start_rotel(logs: &Path) -> Result<(Proc, u16)> {
    let (grpc, http_port) = (free_port()?, free_port()?);
    let mut cmd = Command::new(rotel_binary()?);
    cmd.arg("start")
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http_port}")])
        .args(["--exporter", "blackhole"]);
    let mut proc = Proc::spawn("rotel-agent", &mut cmd, logs.join("rotel.log"))?;
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", grpc)).is_err() {
        proc.alive()?;
        if start.elapsed() > Duration::from_secs(15) {
            bail!("rotel-agent not listening on {grpc}: {}", proc.tail());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((proc, grpc))
}

/// One measurement of one configuration in one round.
#[derive(Clone, Copy, Default)]
struct Sample {
    tg: f64,
    clients_tps: f64,
    ttft_p50_ms: f64,
}

/// How to read one value out of a sample.
type Getter = fn(&Sample) -> f64;

/// The reported values, by their JSON key.
const METRICS: [(&str, Getter); 3] = [
    ("tg_tps", |s| s.tg),
    ("clients_tps", |s| s.clients_tps),
    ("ttft_p50_ms", |s| s.ttft_p50_ms),
];

/// What every measurement needs.
struct Bench<'a> {
    o: &'a Opts,
    plain_bin: PathBuf,
    otel_bin: PathBuf,
    client_bin: PathBuf,
    logs: &'a Path,
}

/// Starts `c`'s server (alone: nothing else of ours runs meanwhile), warms it up, measures
/// it and stops it: the sample and the server's telemetry drop counters.
fn measure_one(b: &Bench, c: &Config) -> Result<(Sample, String)> {
    let bin = if c.otel_build {
        &b.otel_bin
    } else {
        &b.plain_bin
    };
    let mut s = Server::start(c, bin, b.o, b.logs)?;
    // The first decodes allocate graphs and buffers.
    s.tg(8)?;
    s.clients(&b.client_bin, b.o.clients, 8)?;
    let tg = s.tg(b.o.tg)?;
    let v = s.clients(&b.client_bin, b.o.clients, b.o.tokens)?;
    let sample = Sample {
        tg,
        clients_tps: v["tokens_per_second"].as_f64().unwrap_or(0.0),
        ttft_p50_ms: v["ttft_p50_ms"].as_f64().unwrap_or(0.0),
    };
    Ok((sample, s.telemetry_dropped()))
}

/// `samples[config][round]` and each configuration's last drop counters; within a round the
/// configurations run in rotating order.
fn measure(b: &Bench, configs: &[Config]) -> Result<(Vec<Vec<Sample>>, Vec<String>)> {
    let n = configs.len();
    let mut samples = vec![Vec::new(); n];
    let mut dropped = vec![String::new(); n];
    for round in 0..b.o.reps {
        for i in (0..n).map(|k| (k + round) % n) {
            let (sample, drops) = measure_one(b, &configs[i])?;
            if !b.o.json {
                eprintln!(
                    "round {} {:<24} tg{}: {:>7.1} t/s  {} clients: {:>7.1} t/s, TTFT p50 {:>6.1} ms",
                    round + 1,
                    configs[i].name,
                    b.o.tg,
                    sample.tg,
                    b.o.clients,
                    sample.clients_tps,
                    sample.ttft_p50_ms
                );
            }
            samples[i].push(sample);
            dropped[i] = drops;
        }
    }
    Ok((samples, dropped))
}

pub fn run(args: Args) -> Result<()> {
    let o = parse(args)?;
    let (plain_bin, otel_bin, client_bin) = build()?;
    let tmp = TempDir::new(
        Some(&target_dir(&util::workspace_root()).join("tmp")),
        "bench-otel",
    )?;
    let (_rotel, rotel_grpc) = start_rotel(tmp.path())?;
    let configs = configs(&o, rotel_grpc, free_port()?);
    let bench = Bench {
        o: &o,
        plain_bin,
        otel_bin,
        client_bin,
        logs: tmp.path(),
    };
    let (samples, dropped) = measure(&bench, &configs)?;
    let summary = summarize(&configs, &samples, &dropped, &o);
    if o.json {
        println!("{summary}");
    } else {
        print_table(&summary, &o);
    }
    Ok(())
}

/// Per configuration: means and sds, and the per-round ratios to the plain build (mean and
/// its standard error).
fn summarize(configs: &[Config], samples: &[Vec<Sample>], health: &[String], o: &Opts) -> Value {
    let plain = &samples[0];
    let rows: Vec<Value> = configs
        .iter()
        .zip(samples)
        .zip(health)
        .map(|((c, runs), dropped)| {
            let mut row = json!({"config": c.name, "telemetry_dropped": dropped});
            for (key, get) in METRICS {
                let (m, sd) = util::mean_sd(&runs.iter().map(get).collect::<Vec<_>>());
                let ratios: Vec<f64> = runs
                    .iter()
                    .zip(plain)
                    .filter(|(_, p)| get(p) > 0.0)
                    .map(|(s, p)| get(s) / get(p))
                    .collect();
                let (r, rsd) = util::mean_sd(&ratios);
                let se = rsd / (ratios.len().max(1) as f64).sqrt();
                row[key] = json!({"mean": m, "sd": sd, "ratio": r, "ratio_se": se});
            }
            row
        })
        .collect();
    json!({
        "model": o.model.file_name().map(|f| f.to_string_lossy().into_owned()),
        "threads": o.threads, "slots": o.slots, "rounds": o.reps, "tg": o.tg,
        "clients": o.clients, "tokens_per_client": o.tokens, "results": rows,
    })
}

fn print_table(s: &Value, o: &Opts) {
    println!(
        "{:<24} {:>14} {:>21} {:>16} {:>21} {:>12}",
        "config",
        format!("tg{} t/s", o.tg),
        "ratio (cost)",
        format!("{} clients t/s", o.clients),
        "ratio (cost)",
        "TTFT p50 ms"
    );
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    for r in s["results"].as_array().into_iter().flatten() {
        let cell = |key: &str| {
            let m = &r[key];
            (
                format!("{:.1} ± {:.1}", f(m, "mean"), f(m, "sd")),
                format!(
                    "{:.3}±{:.3} ({:+.1}%)",
                    f(m, "ratio"),
                    f(m, "ratio_se"),
                    (1.0 - f(m, "ratio")) * 100.0
                ),
            )
        };
        let (tg, tg_ratio) = cell("tg_tps");
        let (cl, cl_ratio) = cell("clients_tps");
        println!(
            "{:<24} {tg:>14} {tg_ratio:>21} {cl:>16} {cl_ratio:>21} {:>12.1}",
            r["config"].as_str().unwrap_or(""),
            f(&r["ttft_p50_ms"], "mean")
        );
    }
    for r in s["results"].as_array().into_iter().flatten() {
        let dropped = r["telemetry_dropped"].as_str().unwrap_or("");
        if !dropped.is_empty() {
            println!(
                "  {}: telemetry dropped: {dropped}",
                r["config"].as_str().unwrap_or("")
            );
        }
    }
    println!(
        "(-np {} -t {}, {} rounds; ratio = per-round config / plain, mean ± standard error; \
         cost = 1 - ratio; targets: <= 1 % exporting, <= 2 % collector down. On a shared \
         machine, compare a cost with its standard error and the control before trusting it.)",
        o.slots, o.threads, o.reps
    );
}
