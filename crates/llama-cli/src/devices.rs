//! `--list-devices` (answered before the other flags, so it needs no `-m`) and `--rpc` (remote
//! ggml RPC servers registered as devices before the model loads), as llama.cpp's tools do.

use std::process::ExitCode;

/// With `--list-devices` on the command line: connects the `--rpc` servers given (so they are
/// listed too), prints the devices and returns the exit code; otherwise `None`.
pub fn list_devices_if_asked() -> Option<ExitCode> {
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--list-devices") {
        return None;
    }
    let rpc = argv
        .iter()
        .position(|a| a == "--rpc")
        .and_then(|i| argv.get(i + 1).cloned())
        .or_else(|| {
            argv.iter()
                .find_map(|a| a.strip_prefix("--rpc=").map(str::to_string))
        });
    if let Some(servers) = rpc {
        if let Err(e) = connect_rpc(&servers) {
            eprintln!("llama-cli: {e}");
            return Some(ExitCode::FAILURE);
        }
    }
    print!("{}", llama_core::devices::list_devices_text());
    Some(ExitCode::SUCCESS)
}

/// Registers each `HOST:PORT` of a comma list as ggml RPC devices.
#[cfg(feature = "rpc")]
pub fn connect_rpc(servers: &str) -> Result<(), String> {
    for endpoint in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let names = llama_core::devices::add_rpc_server(endpoint).map_err(|e| e.to_string())?;
        eprintln!("rpc: {endpoint}: devices {}", names.join(", "));
    }
    Ok(())
}

/// Without the `rpc` feature `--rpc` is refused with the reason.
#[cfg(not(feature = "rpc"))]
pub fn connect_rpc(servers: &str) -> Result<(), String> {
    Err(format!(
        "--rpc {servers}: this llama-cli was built without the `rpc` feature \
         (cargo build -p llama-cli --features rpc)"
    ))
}
