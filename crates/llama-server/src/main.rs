//! `llama-server` binary: parse flags, start logging and telemetry, run the server.

use llama_server::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(code) = llama_server::devices::list_devices_if_asked(&argv) {
        return code;
    }
    let cli = Cli::try_parse_llama(argv).unwrap_or_else(|e| e.exit());
    llama_server::server::start_logging(&cli);
    let model_name = cli.aliases().into_iter().next().unwrap_or_else(|| {
        cli.model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let telemetry = match llama_server::server::start_telemetry(&cli, &model_name) {
        Ok(guard) => guard,
        Err(e) => {
            tracing::error!("telemetry: {e}");
            return ExitCode::FAILURE;
        }
    };
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
    drop(telemetry);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
