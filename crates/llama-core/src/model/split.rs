//! Which device each layer runs on: llama.cpp's `-ngl`, `-sm/--split-mode`, `-ts/--tensor-split`
//! and `-mg/--main-gpu`, with the rules of its `llama_model_load_from_file` (device choice) and
//! `load_tensors` (layers to devices).

use super::weights::LayerMap;
use super::ModelParams;
use crate::error::{Error, Result};
use crate::ggml::{self, Backend, Device};
use std::sync::Arc;

/// How layers are spread over several devices (llama.cpp's `llama_split_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SplitMode {
    /// One device: `main_gpu` (none when it is negative).
    None,
    /// Whole layers (and their KV cache) over every device, by the split proportions.
    #[default]
    Layer,
    /// Rows of each matrix over the devices: needs split buffers, which no backend offers here.
    Row,
}

impl std::str::FromStr for SplitMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "none" => Ok(SplitMode::None),
            "layer" => Ok(SplitMode::Layer),
            "row" => Ok(SplitMode::Row),
            other => Err(format!("invalid split mode '{other}' (none, layer or row)")),
        }
    }
}

/// llama.cpp's `-ts` value as a flag type: proportions per device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TensorSplit(pub Vec<f32>);

impl std::str::FromStr for TensorSplit {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        parse_tensor_split(s).map(TensorSplit)
    }
}

/// Parses llama.cpp's `-ts` value: proportions separated by `,` or `/` (`3,1`, `1/1`).
pub fn parse_tensor_split(s: &str) -> std::result::Result<Vec<f32>, String> {
    s.split([',', '/'])
        .map(|p| {
            let v: f32 = p
                .trim()
                .parse()
                .map_err(|_| format!("invalid tensor split '{s}'"))?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(format!("invalid tensor split '{s}'"))
            }
        })
        .collect()
}

/// The devices a model offloads to (each becomes backend `i`, the CPU comes last): every
/// offload device in layer mode, only `main_gpu` with `SplitMode::None`.
pub(crate) fn select_devices(
    mode: SplitMode,
    main_gpu: i32,
    all: Vec<Device>,
) -> Result<Vec<Device>> {
    match mode {
        SplitMode::Layer => Ok(all),
        SplitMode::None if main_gpu < 0 || all.is_empty() => Ok(Vec::new()),
        SplitMode::None => {
            let i = usize::try_from(main_gpu).unwrap_or(usize::MAX);
            all.get(i).map(|d| vec![*d]).ok_or_else(|| {
                Error::Model(format!(
                    "invalid value for main_gpu: {main_gpu} (available devices: {})",
                    all.len()
                ))
            })
        }
        SplitMode::Row => match all.first() {
            // llama.cpp refuses devices without split buffers the same way (RPC has none).
            Some(d) => Err(Error::Model(format!(
                "split mode row: device {} does not support split buffers (use -sm layer)",
                d.name()
            ))),
            None => Ok(Vec::new()),
        },
    }
}

/// Cumulative split points normalised to 1 (device `i` takes the layers whose relative
/// position is below `points[i]`): from `tensor_split` unless it is all zeros, else from each
/// device's free memory (`free[i]`; a device reporting none counts the host's `host_free`).
pub(crate) fn split_points(
    tensor_split: &[f32],
    free: &[(usize, usize)],
    host_free: usize,
) -> Vec<f32> {
    let n = free.len();
    let given = tensor_split.iter().take(n).any(|&x| x != 0.0);
    let mut points: Vec<f32> = (0..n)
        .map(|i| match given {
            true => tensor_split.get(i).copied().unwrap_or(0.0),
            false if free[i] == (0, 0) => host_free as f32,
            false => free[i].0 as f32,
        })
        .collect();
    let mut sum = 0.0f32;
    for p in points.iter_mut() {
        sum += *p;
        *p = sum;
    }
    for p in points.iter_mut() {
        *p /= sum;
    }
    points
}

/// The backends a model is placed on, and how.
pub(crate) struct Offload {
    /// The offload devices' backends, in llama.cpp's order (RPC, then GPUs), then the CPU's;
    /// only the CPU's when nothing is offloaded.
    pub backends: Vec<Arc<Backend>>,
    /// The devices' split points ([`split_points`]).
    pub points: Vec<f32>,
    /// `HOST:PORT` of each RPC device's server.
    pub rpc_endpoints: Vec<String>,
}

/// Picks the devices for `params`, computes their split points and starts their backends.
pub(crate) fn offload(params: &ModelParams) -> Result<Offload> {
    let cpu = Arc::new(Backend::cpu()?);
    if params.n_gpu_layers == 0 {
        return Ok(Offload {
            backends: vec![cpu],
            points: Vec::new(),
            rpc_endpoints: Vec::new(),
        });
    }
    let all = ggml::offload_devices();
    let devices = select_devices(params.split_mode, params.main_gpu, all)?;
    let memory: Vec<(usize, usize)> = devices.iter().map(|d| d.memory()).collect();
    let host_free = ggml::device_memory()
        .iter()
        .find(|d| d.name == "CPU")
        .map_or(0, |d| d.free as usize);
    let points = split_points(&params.tensor_split, &memory, host_free);
    let mut backends = Vec::with_capacity(devices.len() + 1);
    for d in &devices {
        backends.push(Arc::new(d.init_backend()?));
    }
    backends.push(cpu);
    // An RPC device's description is its server's endpoint.
    let rpc = devices.iter().filter(|d| d.is_rpc());
    Ok(Offload {
        backends,
        points,
        rpc_endpoints: rpc.map(|d| d.description()).collect(),
    })
}

impl LayerMap {
    /// llama.cpp's assignment for `n_layer` repeating layers plus the output (index `n_layer`):
    /// the last `n_gpu_layers` of those `n_layer + 1` go to the devices (backend `i` = device
    /// `i`), each to the first device whose split point exceeds its relative position among
    /// them; the rest, and every layer without devices, to backend `cpu`.
    pub fn split(n_layer: usize, n_gpu_layers: usize, points: &[f32], cpu: usize) -> Self {
        let n_all = n_layer + 1;
        let start = n_all.saturating_sub(n_gpu_layers);
        let active = if points.is_empty() {
            0
        } else {
            n_gpu_layers.min(n_all)
        };
        let device_of = |il: usize| {
            if il < start || il - start >= active {
                return cpu;
            }
            let rel = (il - start) as f32 / active as f32;
            // upper_bound: the first split point greater than `rel`.
            let d = points
                .iter()
                .position(|&p| p > rel)
                .unwrap_or(points.len() - 1);
            d
        };
        LayerMap {
            layer_backend: (0..n_layer).map(device_of).collect(),
            output_backend: device_of(n_layer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_even_split_of_30_layers_over_two_devices_is_16_and_14_plus_output() {
        let points = split_points(&[1.0, 1.0], &[(0, 0), (0, 0)], 0);
        let map = LayerMap::split(30, 99, &points, 2);
        let on = |d| map.layer_backend.iter().filter(|&&b| b == d).count();
        assert_eq!((on(0), on(1)), (16, 14));
        assert!(map.layer_backend[..16].iter().all(|&b| b == 0));
        assert_eq!(map.output_backend, 1);
    }

    #[test]
    fn n_gpu_layers_counts_the_output_as_the_last_layer() {
        // llama.cpp: -ngl 1 offloads only the output; -ngl 30 of 30 layers keeps layer 0 local.
        let one = LayerMap::split(30, 1, &[1.0], 5);
        assert!(one.layer_backend.iter().all(|&b| b == 5));
        assert_eq!(one.output_backend, 0);
        let thirty = LayerMap::split(30, 30, &[1.0], 5);
        assert_eq!(thirty.layer_backend[0], 5);
        assert!(thirty.layer_backend[1..].iter().all(|&b| b == 0));
        let none = LayerMap::split(30, 99, &[], 0);
        assert!(none.layer_backend.iter().all(|&b| b == 0) && none.output_backend == 0);
    }

    #[test]
    fn proportions_and_free_memory_set_the_split_points() {
        assert_eq!(
            split_points(&[3.0, 1.0], &[(1, 1), (9, 9)], 0),
            vec![0.75, 1.0]
        );
        // All zeros: by free memory; a device reporting no memory counts the host's.
        assert_eq!(
            split_points(&[0.0, 0.0], &[(100, 200), (0, 0)], 300),
            vec![0.25, 1.0]
        );
        let map = LayerMap::split(8, 99, &[0.75, 1.0], 2);
        let on0 = map.layer_backend.iter().filter(|&&b| b == 0).count();
        assert_eq!(on0, 7); // positions 0/9 .. 6/9 are below 0.75
        assert_eq!(parse_tensor_split("3/1").unwrap(), vec![3.0, 1.0]);
        assert!(parse_tensor_split("1,x").is_err());
        assert_eq!("row".parse::<SplitMode>(), Ok(SplitMode::Row));
    }
}
