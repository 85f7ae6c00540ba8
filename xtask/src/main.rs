//! `cargo xtask <command>`: project automation (the cargo-xtask pattern); one module per command.

mod bench;
mod bench_embed;
mod bench_ggml;
mod bench_otel;
mod bench_otel_cpu;
mod bench_otel_micro;
mod bench_server;
mod bench_server_schema;
mod bindgen;
mod check_cuda;
mod ci;
mod fetch_model;
mod gpu_check;
mod http;
mod serve;
mod server_suite;
mod stack;
#[cfg(test)]
mod tidy;
mod tiny_models;
mod util;

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::process::ExitCode;

/// Project automation for the llama-rs workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Serve(serve::Opts),
    FetchModel(fetch_model::Opts),
    Bench(bench::Cli),
    Bindgen(bindgen::Opts),
    BenchGgml(bench_ggml::Options),
    BenchServer(bench_server::Cli),
    BenchOtel(bench_otel::Cli),
    BenchEmbed(bench_embed::Cli),
    Ci(ci::Opts),
    StackUp(stack::UpOpts),
    StackDown(stack::DownOpts),
    StackStatus(stack::StatusOpts),
    CheckObservability(stack::CheckOpts),
    CheckCuda(check_cuda::Opts),
    GpuCheck(gpu_check::Opts),
    TinyModels(tiny_models::Opts),
    ServerSuite(server_suite::Opts),
}

/// llama-server's `-np` is one flag with a two-letter short name, which clap cannot spell:
/// the benchmarks that mirror the server's flags take it as `--np`. Arguments after `--` are
/// passed on untouched.
fn normalize(args: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut passthrough = false;
    args.map(|a| match a.to_str() {
        _ if passthrough => a,
        Some("--") => {
            passthrough = true;
            a
        }
        Some("-np") => "--np".into(),
        Some(s) if s.starts_with("-np=") => format!("-{s}").into(),
        _ => a,
    })
    .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(normalize(std::env::args_os()));
    let result = match cli.command {
        Command::Serve(o) => serve::run(o),
        Command::FetchModel(o) => fetch_model::run(o),
        Command::Bench(o) => bench::run(o),
        Command::Bindgen(o) => bindgen::run(o),
        Command::BenchGgml(o) => bench_ggml::run(o),
        Command::BenchServer(o) => bench_server::run(o),
        Command::BenchOtel(o) => bench_otel::run(o),
        Command::BenchEmbed(o) => bench_embed::run(o),
        Command::Ci(o) => ci::run(o),
        Command::StackUp(o) => stack::up(o),
        Command::StackDown(o) => stack::down(o),
        Command::StackStatus(_) => stack::status(),
        Command::TinyModels(o) => tiny_models::run(o),
        Command::ServerSuite(o) => server_suite::run(o),
        Command::CheckCuda(o) => check_cuda::run(o),
        Command::GpuCheck(o) => gpu_check::run(o),
        // Prints its own `N passed, M failed` as the last line, so it sets the exit code itself.
        Command::CheckObservability(o) => return stack::check(o),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let argv = std::iter::once("xtask").chain(args.iter().copied());
        Cli::try_parse_from(normalize(argv.map(OsString::from)))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_prints_its_help() {
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name().to_string();
            if name == "help" {
                continue;
            }
            let err = parse(&[&name, "--help"]).expect_err("--help ends parsing");
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{name}");
            assert!(
                err.to_string().contains("Usage: cargo xtask"),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn the_old_flags_still_parse() {
        let cli = parse(&["bench-server", "-np", "8", "--clients", "1,2", "-r", "2"]).unwrap();
        assert!(matches!(cli.command, Command::BenchServer(_)), "{cli:?}");
        assert!(parse(&["bench-otel", "-np=2", "--ggml-ops", "--tg", "64"]).is_ok());
        assert!(parse(&["bench", "-m", "x.gguf", "-t", "4", "-p", "8", "-n", "4"]).is_ok());
        assert!(parse(&["fetch-model", "gemma3", "qwen2", "--dest", "d"]).is_ok());
        let args = ["xtask", "serve", "--", "-np", "8"].map(OsString::from);
        assert_eq!(normalize(args.clone().into_iter()), args);
        assert!(parse(&["serve", "--", "--port", "9000", "-np", "8"]).is_ok());
        assert!(parse(&["check-observability", "--static", "--model", "m"]).is_ok());
        assert!(parse(&["bench-ggml", "--threads", "x"]).is_err());
        assert!(parse(&["bindgen", "--bogus"]).is_err());
        assert!(parse(&[]).is_err());
    }
}
