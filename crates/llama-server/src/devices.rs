//! Devices: `--list-devices` (answered before the other flags, so it needs no `-m`) and `--rpc`
//! (remote ggml RPC servers registered as devices before the model loads).

use std::io::Write;
use std::process::ExitCode;

/// With `--list-devices` in `argv`: connects the `--rpc` servers given (as llama.cpp does, so
/// they are listed), prints the devices and returns the exit code; otherwise `None`.
pub fn list_devices_if_asked(argv: &[String]) -> Option<ExitCode> {
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
        })
        .or_else(|| std::env::var("LLAMA_ARG_RPC").ok());
    if let Some(servers) = rpc {
        if let Err(e) = connect_rpc(&servers) {
            // The command's own output, before logging is set up (as llama.cpp prints it).
            let _ = writeln!(std::io::stderr(), "error: {e}");
            return Some(ExitCode::FAILURE);
        }
    }
    let _ = write!(
        std::io::stdout(),
        "{}",
        llama_core::devices::list_devices_text()
    );
    Some(ExitCode::SUCCESS)
}

/// Registers each `HOST:PORT` of a comma list as ggml RPC devices.
#[cfg(feature = "rpc")]
pub fn connect_rpc(servers: &str) -> Result<(), String> {
    for endpoint in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let names = llama_core::devices::add_rpc_server(endpoint).map_err(|e| e.to_string())?;
        tracing::info!("rpc: {endpoint}: devices {}", names.join(", "));
    }
    Ok(())
}

/// Without the `rpc` feature `--rpc` is refused with the reason.
#[cfg(not(feature = "rpc"))]
pub fn connect_rpc(servers: &str) -> Result<(), String> {
    Err(format!(
        "--rpc {servers}: this llama-server was built without the `rpc` feature \
         (cargo build -p llama-server --features rpc)"
    ))
}
