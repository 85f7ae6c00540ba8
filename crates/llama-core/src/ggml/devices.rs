//! The devices ggml registered (CPU, a GPU backend compiled in, RPC servers added at run time).

use super::backend::{Backend, BackendKind};
use crate::error::{Error, Result};
use ggml_sys as sys;

/// One ggml device as `--list-devices` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// ggml's name ("CPU", "CUDA0", "RPC0[127.0.0.1:50052]").
    pub name: String,
    pub description: String,
    /// "cpu", "gpu", "igpu" or "accel".
    pub kind: &'static str,
    pub free_bytes: usize,
    pub total_bytes: usize,
}

/// A registered ggml device a model can offload layers to (a GPU or an RPC server's device);
/// registered devices live as long as the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Device {
    raw: sys::ggml_backend_dev_t,
}

// SAFETY: a device is an immutable registry entry; ggml's device queries are thread-safe.
unsafe impl Send for Device {}
// SAFETY: as above.
unsafe impl Sync for Device {}

impl Device {
    /// ggml's name ("CUDA0", "RPC0[127.0.0.1:50052]").
    pub fn name(&self) -> String {
        info(self.raw).name
    }

    /// ggml's description (for an RPC device: its server's `HOST:PORT`).
    pub fn description(&self) -> String {
        info(self.raw).description
    }

    /// Free and total bytes, asked now (an RPC device asks its server).
    pub fn memory(&self) -> (usize, usize) {
        let d = info(self.raw);
        (d.free_bytes, d.total_bytes)
    }

    /// Whether it belongs to ggml's RPC backend (a remote server's device).
    pub fn is_rpc(&self) -> bool {
        // SAFETY: a registered device; its registry and the registry's name are static.
        let reg = unsafe { sys::ggml_backend_dev_backend_reg(self.raw) };
        // SAFETY: as above; a null registry has no name.
        !reg.is_null() && unsafe { super::cstr(sys::ggml_backend_reg_name(reg)) } == "RPC"
    }

    /// A backend computing on this device.
    pub fn init_backend(&self) -> Result<Backend> {
        // SAFETY: a registered device; null params are the device's defaults; null on failure.
        let raw = unsafe { sys::ggml_backend_dev_init(self.raw, std::ptr::null()) };
        Backend::from_raw(raw, BackendKind::Gpu).ok_or_else(|| {
            Error::Ggml(format!("failed to initialise a backend on {}", self.name()))
        })
    }
}

/// The devices a model may offload layers to, in llama.cpp's order: RPC servers' devices first
/// (fewer network transfers), then GPUs, then integrated GPUs when there is no GPU.
pub fn offload_devices() -> Vec<Device> {
    super::log::install();
    let (mut rpc, mut gpus, mut igpus) = (Vec::new(), Vec::new(), Vec::new());
    // SAFETY: plain query of the static registry.
    let n = unsafe { sys::ggml_backend_dev_count() };
    for i in 0..n {
        // SAFETY: i < dev_count; the registry owns the device for the process's lifetime.
        let raw = unsafe { sys::ggml_backend_dev_get(i) };
        if raw.is_null() {
            continue;
        }
        let dev = Device { raw };
        // SAFETY: a registered device.
        match unsafe { sys::ggml_backend_dev_type(raw) } {
            sys::GGML_BACKEND_DEVICE_TYPE_GPU if dev.is_rpc() => rpc.push(dev),
            sys::GGML_BACKEND_DEVICE_TYPE_GPU => gpus.push(dev),
            sys::GGML_BACKEND_DEVICE_TYPE_IGPU => igpus.push(dev),
            _ => {}
        }
    }
    if gpus.is_empty() {
        gpus = igpus;
    }
    rpc.extend(gpus);
    rpc
}

/// Every device of every registered backend, in ggml's order (GPUs before the CPU).
pub fn devices() -> Vec<DeviceInfo> {
    super::log::install();
    // SAFETY: plain query of the static registry.
    let n = unsafe { sys::ggml_backend_dev_count() };
    (0..n)
        .filter_map(|i| {
            // SAFETY: i < dev_count; the registry owns the device for the process's lifetime.
            let dev = unsafe { sys::ggml_backend_dev_get(i) };
            (!dev.is_null()).then(|| info(dev))
        })
        .collect()
}

fn info(dev: sys::ggml_backend_dev_t) -> DeviceInfo {
    let (mut free, mut total) = (0usize, 0usize);
    // SAFETY: dev is a registered device; the strings are owned by it.
    unsafe {
        sys::ggml_backend_dev_memory(dev, &mut free, &mut total);
        DeviceInfo {
            name: super::cstr(sys::ggml_backend_dev_name(dev)),
            description: super::cstr(sys::ggml_backend_dev_description(dev)),
            kind: kind_name(sys::ggml_backend_dev_type(dev)),
            free_bytes: free,
            total_bytes: total,
        }
    }
}

fn kind_name(t: sys::ggml_backend_dev_type) -> &'static str {
    match t {
        sys::GGML_BACKEND_DEVICE_TYPE_CPU => "cpu",
        sys::GGML_BACKEND_DEVICE_TYPE_GPU => "gpu",
        sys::GGML_BACKEND_DEVICE_TYPE_IGPU => "igpu",
        _ => "accel",
    }
}

/// The devices as llama.cpp's `--list-devices` prints them: `Available devices:`, then one line
/// per device that is not the CPU (`  NAME: DESCRIPTION (TOTAL MiB, FREE MiB free)`) or `  (none)`.
pub fn list_devices_text() -> String {
    let mut out = String::from("Available devices:\n");
    let listed: Vec<DeviceInfo> = devices().into_iter().filter(|d| d.kind != "cpu").collect();
    if listed.is_empty() {
        out.push_str("  (none)\n");
    }
    for d in &listed {
        out.push_str(&format!(
            "  {}: {} ({} MiB, {} MiB free)\n",
            d.name,
            d.description,
            d.total_bytes / (1 << 20),
            d.free_bytes / (1 << 20)
        ));
    }
    out
}

/// Connects to a ggml RPC server (`HOST:PORT`, llama.cpp's `--rpc`) and registers its devices;
/// returns their names. Fails when the server cannot be reached or speaks another protocol.
#[cfg(feature = "rpc")]
pub fn add_rpc_server(endpoint: &str) -> Result<Vec<String>> {
    super::log::install();
    reachable(endpoint)?;
    let c = std::ffi::CString::new(endpoint)
        .map_err(|_| Error::Ggml(format!("rpc: endpoint {endpoint:?} contains a NUL byte")))?;
    // SAFETY: c outlives the call; null means the server is unreachable or incompatible.
    let reg = unsafe { sys::ggml_backend_rpc_add_server(c.as_ptr()) };
    if reg.is_null() {
        return Err(Error::Ggml(format!("rpc: failed to connect to {endpoint}")));
    }
    // SAFETY: reg is a valid registry; registering it (as llama.cpp's --rpc does) adds its
    // devices to the global list, where the model loader finds them.
    unsafe { sys::ggml_backend_register(reg) };
    // SAFETY: reg owns its devices for the process's lifetime.
    let n = unsafe { sys::ggml_backend_reg_dev_count(reg) };
    let mut names = Vec::new();
    for i in 0..n {
        // SAFETY: i < dev_count of reg.
        let dev = unsafe { sys::ggml_backend_reg_dev_get(reg, i) };
        if !dev.is_null() {
            names.push(info(dev).name);
        }
    }
    if names.is_empty() {
        return Err(Error::Ggml(format!("rpc: {endpoint} offers no device")));
    }
    Ok(names)
}

/// ggml's RPC client aborts the process when it cannot connect; a TCP connection first turns
/// the common case (nothing listening, a wrong host) into an error.
#[cfg(feature = "rpc")]
fn reachable(endpoint: &str) -> Result<()> {
    use std::net::{TcpStream, ToSocketAddrs};
    let fail = |why: String| Error::Ggml(format!("rpc: failed to connect to {endpoint}: {why}"));
    let addrs: Vec<_> = endpoint
        .to_socket_addrs()
        .map_err(|e| fail(e.to_string()))?
        .collect();
    let timeout = std::time::Duration::from_secs(5);
    let mut last = String::from("no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(fail(last))
}

/// Serves this process's devices (the CPU, and a GPU if compiled in) over ggml RPC on
/// `endpoint` (`HOST:PORT`); blocks for the process's lifetime. `cache_dir` enables the
/// server's tensor cache (llama.cpp's `rpc-server -c`).
#[cfg(feature = "rpc")]
pub fn serve_rpc(
    endpoint: &str,
    cache_dir: Option<&str>,
    n_threads: usize,
    device_names: &[String],
) -> Result<()> {
    super::log::install();
    let cstring = |s: &str| {
        std::ffi::CString::new(s)
            .map_err(|_| Error::Ggml(format!("rpc: {s:?} contains a NUL byte")))
    };
    let ep = cstring(endpoint)?;
    let cache = cache_dir.map(cstring).transpose()?;
    let mut devs = rpc_devices(device_names)?;
    // SAFETY: the strings and the device array outlive the call, which only returns on error.
    unsafe {
        sys::ggml_backend_rpc_start_server(
            ep.as_ptr(),
            cache.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            n_threads.max(1),
            devs.len(),
            devs.as_mut_ptr(),
        )
    };
    Err(Error::Ggml(format!("rpc: server on {endpoint} stopped")))
}

/// The devices an RPC server offers: those named (`-d`), else every GPU, else the CPU — the
/// choice llama.cpp's `rpc-server` makes.
#[cfg(feature = "rpc")]
fn rpc_devices(names: &[String]) -> Result<Vec<sys::ggml_backend_dev_t>> {
    let mut devs = Vec::new();
    for name in names {
        let c = std::ffi::CString::new(name.as_str())
            .map_err(|_| Error::Ggml(format!("rpc: device {name:?} contains a NUL byte")))?;
        // SAFETY: plain lookup by name; null when unknown.
        let dev = unsafe { sys::ggml_backend_dev_by_name(c.as_ptr()) };
        if dev.is_null() {
            let known: Vec<String> = devices().into_iter().map(|d| d.name).collect();
            return Err(Error::Ggml(format!(
                "rpc: unknown device {name} (available: {})",
                known.join(", ")
            )));
        }
        devs.push(dev);
    }
    if devs.is_empty() {
        // SAFETY: plain registry queries; i < dev_count.
        let n = unsafe { sys::ggml_backend_dev_count() };
        for i in 0..n {
            // SAFETY: i < dev_count; the device is registered.
            let dev = unsafe { sys::ggml_backend_dev_get(i) };
            // SAFETY: as above.
            let t = unsafe { sys::ggml_backend_dev_type(dev) };
            if t == sys::GGML_BACKEND_DEVICE_TYPE_GPU || t == sys::GGML_BACKEND_DEVICE_TYPE_IGPU {
                devs.push(dev);
            }
        }
    }
    if devs.is_empty() {
        // SAFETY: plain lookup; the CPU device always exists.
        let cpu = unsafe { sys::ggml_backend_dev_by_type(sys::GGML_BACKEND_DEVICE_TYPE_CPU) };
        if cpu.is_null() {
            return Err(Error::Ggml("rpc: no CPU device".into()));
        }
        devs.push(cpu);
    }
    Ok(devs)
}
