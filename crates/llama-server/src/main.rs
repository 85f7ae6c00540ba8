//! `llama-server` binary: parse flags, start logging and telemetry, run the server.

use llama_otel::TelemetryGuard;
use llama_server::cli::Cli;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;

/// The telemetry guard, where the fatal-error hook can shut it down (flushing what it holds).
static TELEMETRY: Mutex<Option<TelemetryGuard>> = Mutex::new(None);

fn lock_telemetry() -> std::sync::MutexGuard<'static, Option<TelemetryGuard>> {
    TELEMETRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(listing) = llama_core::devices::list_devices_if_asked(&argv, Some("LLAMA_ARG_RPC"))
    {
        // The command's own output, before logging is set up (as llama.cpp prints it).
        return match listing {
            Ok(text) => {
                let _ = write!(std::io::stdout(), "{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::try_parse_llama(argv).unwrap_or_else(|e| e.exit());
    llama_server::server::start_logging(&cli);
    let model_name = cli.aliases().into_iter().next().unwrap_or_else(|| {
        cli.model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    match llama_server::server::start_telemetry(&cli, &model_name) {
        Ok(guard) => *lock_telemetry() = Some(guard),
        Err(e) => {
            tracing::error!("telemetry: {e}");
            return ExitCode::FAILURE;
        }
    };
    // ggml aborts the process on a fatal error (an RPC server lost mid-call): what was recorded
    // until then is exported first.
    llama_core::devices::on_fatal(|_| drop(lock_telemetry().take()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // `--threads-http`; 2 by default: handlers only parse, queue and stream, the decoding
        // runs on the scheduler thread.
        .worker_threads(
            usize::try_from(cli.threads_http)
                .ok()
                .filter(|&n| n > 0)
                .unwrap_or(2),
        )
        .enable_all()
        .thread_name("http")
        .build();
    let result = match runtime {
        Ok(rt) => rt.block_on(llama_server::server::serve(cli)),
        Err(e) => Err(format!("cannot start the async runtime: {e}")),
    };
    drop(lock_telemetry().take());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
