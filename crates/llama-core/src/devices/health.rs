//! Liveness of the connections ggml's RPC client holds. ggml aborts the process when a remote
//! server fails during a call, and its sockets are out of reach; but the kernel knows them: when
//! a server process dies, its host closes the connection and this process's end turns to
//! CLOSE_WAIT. Reading `/proc/net/tcp{,6}` for this process's sockets to an endpoint tells,
//! before the next decode, that the server is gone — a request can then fail with an error
//! instead of the next RPC call aborting. (A host that vanishes without closing — power loss,
//! a cut network — still shows ESTABLISHED: that case remains ggml's abort.) Linux only;
//! elsewhere the state is always `Unknown`.

use super::rpc_error;
use crate::error::Result;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// What the kernel says of this process's connections to an RPC endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcConnection {
    /// An established connection, none closed by the server.
    Alive,
    /// The server closed its end (its process ended) or reset it.
    Closed,
    /// No connection to it (none made yet), or no `/proc` to ask.
    Unknown,
}

/// The state of this process's TCP connections to `endpoint` (`HOST:PORT`).
pub fn rpc_connection_state(endpoint: &str) -> RpcConnection {
    let Ok(addrs) = endpoint.to_socket_addrs() else {
        return RpcConnection::Unknown;
    };
    let addrs: Vec<SocketAddr> = addrs.collect();
    let ours = socket_inodes();
    let mut states = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            if let Some((remote, state, inode)) = parse_line(line) {
                if ours.contains(&inode) && addrs.contains(&remote) {
                    states.push(state);
                }
            }
        }
    }
    classify(&states)
}

/// Fails with `rpc: server HOST:PORT closed the connection` for the first endpoint whose
/// server is gone.
pub fn check_rpc_connections(endpoints: &[String]) -> Result<()> {
    for ep in endpoints {
        if rpc_connection_state(ep) == RpcConnection::Closed {
            return Err(rpc_error(format!(
                "server {ep} closed the connection (it stopped or crashed); \
                 the model's layers on it are lost: restart this process once it is back"
            )));
        }
    }
    Ok(())
}

/// TCP states of `/proc/net/tcp`: 01 ESTABLISHED, 07 CLOSE, 08 CLOSE_WAIT, 09 LAST_ACK.
fn classify(states: &[u8]) -> RpcConnection {
    const ESTABLISHED: u8 = 0x01;
    if states.is_empty() {
        RpcConnection::Unknown
    } else if states.iter().any(|&s| matches!(s, 0x07..=0x09)) || !states.contains(&ESTABLISHED) {
        RpcConnection::Closed
    } else {
        RpcConnection::Alive
    }
}

/// The inodes of this process's sockets (`/proc/self/fd/N -> socket:[INODE]`).
fn socket_inodes() -> HashSet<u64> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return HashSet::new();
    };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let t = target.to_string_lossy().into_owned();
            t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect()
}

/// One row of `/proc/net/tcp{,6}`: the remote address, the state and the inode.
fn parse_line(line: &str) -> Option<(SocketAddr, u8, u64)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let (remote, state, inode) = (f.get(2)?, f.get(3)?, f.get(9)?);
    let (ip, port) = remote.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = parse_ip(ip)?;
    Some((
        SocketAddr::new(ip, port),
        u8::from_str_radix(state, 16).ok()?,
        inode.parse().ok()?,
    ))
}

/// The kernel prints addresses as 32-bit words in host byte order, each as 8 hex digits.
fn parse_ip(hex: &str) -> Option<IpAddr> {
    let words: Option<Vec<u32>> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect();
    let bytes: Vec<u8> = words?.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => {
            let v6 = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
            Some(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_closed_peer_is_seen_as_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let ep = listener.local_addr().unwrap().to_string();
        assert_eq!(rpc_connection_state(&ep), RpcConnection::Unknown);
        let client = TcpStream::connect(&ep).unwrap();
        let (server, _) = listener.accept().unwrap();
        if !std::path::Path::new("/proc/net/tcp").exists() {
            eprintln!("skipped: no /proc/net/tcp on this system");
            return;
        }
        assert_eq!(rpc_connection_state(&ep), RpcConnection::Alive);
        assert!(check_rpc_connections(std::slice::from_ref(&ep)).is_ok());
        drop(server);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while rpc_connection_state(&ep) != RpcConnection::Closed {
            assert!(std::time::Instant::now() < deadline, "never seen closed");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let err = check_rpc_connections(std::slice::from_ref(&ep))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("rpc: server {ep} closed the connection")),
            "{err}"
        );
        drop(client);
    }

    #[test]
    fn proc_addresses_parse() {
        let line = "   0: 0100007F:C350 0100007F:9C40 08 00000000:00000000 00:00000000 00000000  1000        0 4242 1";
        let (addr, state, inode) = parse_line(line).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(addr, "127.0.0.1:40000".parse().unwrap());
        }
        assert_eq!((state, inode), (8, 4242));
        assert_eq!(classify(&[1, 8]), RpcConnection::Closed);
        assert_eq!(classify(&[1]), RpcConnection::Alive);
    }
}
