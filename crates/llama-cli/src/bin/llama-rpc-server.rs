//! `llama-rpc-server`: serves this machine's devices over ggml RPC, flag for flag llama.cpp's
//! `rpc-server` (same vendored ggml, so the same protocol version and either side can be
//! llama.cpp's). The protocol is unauthenticated: bind to loopback or a private network only.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Serve this machine's devices (GPUs, else the CPU) to llama-server / llama-cli `--rpc`.
#[derive(Debug, Parser)]
#[command(name = "llama-rpc-server", version)]
struct Args {
    /// Host to bind to.
    #[arg(short = 'H', long = "host", default_value = "127.0.0.1")]
    host: String,
    /// Port to bind to.
    #[arg(short = 'p', long = "port", default_value_t = 50052)]
    port: u16,
    /// Threads for the CPU device (default: half the hardware threads, as llama.cpp).
    #[arg(short = 't', long = "threads")]
    threads: Option<usize>,
    /// Comma-separated devices to serve (default: every GPU, else the CPU).
    #[arg(short = 'd', long = "device", value_delimiter = ',')]
    device: Vec<String>,
    /// Enable the local tensor cache ($LLAMA_CACHE, else $XDG_CACHE_HOME or ~/.cache, /llama.cpp/rpc).
    #[arg(short = 'c', long = "cache")]
    cache: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.host != "127.0.0.1" {
        eprintln!(
            "WARNING: Host ('{}') is != '127.0.0.1'\n         Never expose the RPC server to an open network!\n         ggml RPC is unauthenticated and not secure.",
            args.host
        );
    }
    let cache = match args.cache.then(cache_dir).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("llama-rpc-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let threads = args.threads.filter(|&t| t > 0).unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    });
    let endpoint = format!("{}:{}", args.host, args.port);
    let cache = cache.map(|p| p.to_string_lossy().into_owned());
    // Blocks while serving; it only returns when the server cannot start.
    let e = llama_core::devices::serve_rpc(&endpoint, cache.as_deref(), threads, &args.device);
    if let Err(e) = e {
        eprintln!("llama-rpc-server: {e}");
    }
    ExitCode::FAILURE
}

/// llama.cpp's cache directory for the RPC tensor cache, created if absent.
fn cache_dir() -> Result<PathBuf, String> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = env("LLAMA_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|p| p.join("llama.cpp")))
        .or_else(|| env("HOME").map(|p| p.join(".cache/llama.cpp")))
        .ok_or("cannot find a cache directory (set LLAMA_CACHE)")?;
    let dir = base.join("rpc");
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("cannot create the cache directory {}: {e}", dir.display()))?;
    Ok(dir)
}
