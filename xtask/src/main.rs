//! `cargo xtask <command>`: project automation (the cargo-xtask pattern); one module per command.

mod bench;
mod bench_ggml;
mod bench_otel;
mod bench_server;
mod bindgen;
mod ci;
mod fetch_model;
mod serve;
mod stack;
mod tiny_models;
mod util;

use std::process::ExitCode;
use util::Args;

fn usage() -> String {
    let commands = [
        serve::USAGE,
        fetch_model::USAGE,
        bench::USAGE,
        bindgen::USAGE,
        bench_ggml::USAGE,
        bench_server::USAGE,
        bench_otel::USAGE,
        ci::USAGE,
        stack::USAGE_UP,
        stack::USAGE_DOWN,
        stack::USAGE_STATUS,
        stack::USAGE_CHECK,
        tiny_models::USAGE,
    ];
    let mut text = String::from("usage: cargo xtask <command> [options]\n\ncommands:\n");
    for c in commands {
        text.push_str(&format!("  {c}\n\n"));
    }
    text.push_str("  help\n      Prints this.\n");
    text
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let rest = Args::new(args.collect());
    let result = match command.as_str() {
        "serve" => serve::run(rest),
        "fetch-model" => fetch_model::run(rest),
        "bench" => bench::run(rest),
        "bindgen" => bindgen::run(rest),
        "bench-ggml" => bench_ggml::run(rest),
        "bench-server" => bench_server::run(rest),
        "bench-otel" => bench_otel::run(rest),
        "ci" => ci::run(rest),
        "stack-up" => stack::up(rest),
        "stack-down" => stack::down(rest),
        "stack-status" => stack::status(rest),
        "tiny-models" => tiny_models::run(rest),
        // Prints its own `N passed, M failed` as the last line, so it sets the exit code itself.
        "check-observability" => return stack::check(rest),
        "help" | "-h" | "--help" => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        other => {
            let what = if other.is_empty() {
                "no command given".to_string()
            } else {
                format!("unknown command `{other}`")
            };
            eprint!("xtask: {what}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
