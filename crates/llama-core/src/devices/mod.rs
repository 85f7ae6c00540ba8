//! Devices for the command-line tools and the server: `--list-devices` (answered before the
//! other flags, so it needs no `-m`), `--rpc` (remote ggml RPC servers registered as devices
//! before the model loads), the RPC server itself, and the liveness of RPC connections.

mod health;

use crate::error::{Error, Result};
#[cfg(feature = "rpc")]
pub use crate::ggml::{add_rpc_server, serve_rpc};
pub use crate::ggml::{devices, explain_fatal, list_devices_text, on_fatal, DeviceInfo, FatalHook};
pub use health::{check_rpc_connections, rpc_connection_state, RpcConnection};

/// The `--rpc` value in `argv` (`--rpc X` or `--rpc=X`), else the environment variable `env`.
pub fn rpc_arg(argv: &[String], env: Option<&str>) -> Option<String> {
    argv.iter()
        .position(|a| a == "--rpc")
        .and_then(|i| argv.get(i + 1).cloned())
        .or_else(|| {
            argv.iter()
                .find_map(|a| a.strip_prefix("--rpc=").map(str::to_string))
        })
        .or_else(|| env.and_then(|k| std::env::var(k).ok()))
}

/// With `--list-devices` in `argv`: connects the `--rpc` servers given (from `argv`, else the
/// variable `rpc_env`) as llama.cpp does, so they are listed, and returns the listing (or why
/// a server could not be added); otherwise `None`.
pub fn list_devices_if_asked(argv: &[String], rpc_env: Option<&str>) -> Option<Result<String>> {
    if !argv.iter().any(|a| a == "--list-devices") {
        return None;
    }
    if let Some(servers) = rpc_arg(argv, rpc_env) {
        if let Err(e) = connect_rpc(&servers) {
            return Some(Err(e));
        }
    }
    Some(Ok(list_devices_text()))
}

/// One RPC server registered by [`connect_rpc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcServer {
    pub endpoint: String,
    /// The names ggml gave its devices ("RPC0[127.0.0.1:50052]").
    pub devices: Vec<String>,
}

/// Registers each `HOST:PORT` of a comma list (llama.cpp's `--rpc`) as ggml RPC devices.
#[cfg(feature = "rpc")]
pub fn connect_rpc(servers: &str) -> Result<Vec<RpcServer>> {
    let mut out = Vec::new();
    for endpoint in servers.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let devices = add_rpc_server(endpoint)?;
        tracing::info!("rpc: {endpoint}: devices {}", devices.join(", "));
        out.push(RpcServer {
            endpoint: endpoint.to_string(),
            devices,
        });
    }
    Ok(out)
}

/// Without the `rpc` feature `--rpc` is refused with the reason.
#[cfg(not(feature = "rpc"))]
pub fn connect_rpc(servers: &str) -> Result<Vec<RpcServer>> {
    Err(Error::Ggml(format!(
        "rpc: --rpc {servers}: built without the `rpc` feature (build with --features rpc)"
    )))
}

/// Builds an error of this module (`rpc: …`).
fn rpc_error(msg: String) -> Error {
    Error::Ggml(format!("rpc: {msg}"))
}
