//! `llama-server` binary: parse flags, start telemetry, run the server.

use clap::Parser;
use llama_server::cli::{normalize_args, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize_args(std::env::args()));
    let model_name = cli.alias.clone().unwrap_or_else(|| {
        cli.model
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let telemetry = match llama_server::telemetry::init(&cli, &model_name) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("error: telemetry: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
