//! The compose `gpu` profile: a llama-server built with CUDA from `Dockerfile.cuda` that reserves
//! an NVIDIA device and offloads layers — what only running it on a GPU host would otherwise show.

use super::config::{Either, Service};
use super::{outcome, Stack};
use anyhow::{bail, Result};
use serde_norway::Value;

impl Stack {
    /// Every service of the `gpu` profile is checked; there must be one.
    pub(super) fn gpu_profile(&self) -> Result<String> {
        let gpu: Vec<(&String, &Service)> = (self.compose.services.iter())
            .filter(|(_, s)| s.profiles.iter().any(|p| p == "gpu"))
            .collect();
        if gpu.is_empty() {
            bail!("no service in the `gpu` profile");
        }
        let mut p = Vec::new();
        for (name, s) in &gpu {
            self.gpu_service(name, s, &mut p);
        }
        outcome(p, || {
            let names: Vec<&str> = gpu.iter().map(|(n, _)| n.as_str()).collect();
            format!("{} (Dockerfile.cuda, nvidia device)", names.join(", "))
        })
    }

    fn gpu_service(&self, name: &str, s: &Service, p: &mut Vec<String>) {
        let Some(build) = &s.build else {
            p.push(format!("{name}: not built from the repository"));
            return;
        };
        let dockerfile = build.dockerfile.as_deref().unwrap_or("Dockerfile");
        match self.dockerfile(build) {
            Ok(text) if !text.contains("nvidia/cuda:") => {
                p.push(format!("{name}: {dockerfile} is not built on nvidia/cuda"))
            }
            Ok(_) => {}
            Err(e) => p.push(format!("{name}: {e:#}")),
        }
        let features = build.args.get("FEATURES").unwrap_or_default();
        for want in ["cuda", "otel"] {
            if !features.split(',').any(|f| f.ends_with(want)) {
                p.push(format!("{name}: FEATURES `{features}` lack {want}"));
            }
        }
        if !offloads(&s.command) {
            p.push(format!("{name}: no --n-gpu-layers/-ngl in its command"));
        }
        if !reserves_nvidia_gpu(s.deploy.as_ref()) {
            p.push(format!(
                "{name}: no deploy.resources.reservations.devices entry with driver nvidia and capability gpu"
            ));
        }
    }
}

/// `--n-gpu-layers`/`-ngl` with a value other than 0.
fn offloads(command: &Either) -> bool {
    ["--n-gpu-layers", "-ngl", "--gpu-layers"]
        .iter()
        .filter_map(|f| command.flag(f))
        .any(|v| v.trim() != "0")
}

fn reserves_nvidia_gpu(deploy: Option<&Value>) -> bool {
    let devices = deploy
        .and_then(|d| d.get("resources"))
        .and_then(|r| r.get("reservations"))
        .and_then(|r| r.get("devices"))
        .and_then(Value::as_sequence);
    devices.into_iter().flatten().any(|d| {
        let driver = d.get("driver").and_then(Value::as_str) == Some("nvidia");
        let caps = d.get("capabilities").and_then(Value::as_sequence);
        let gpu = caps
            .into_iter()
            .flatten()
            .any(|c| c.as_str() == Some("gpu"));
        driver && gpu
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_reservations_and_offload() {
        let yaml = "resources: {reservations: {devices: [{driver: nvidia, count: all, capabilities: [gpu]}]}}";
        let deploy: Value = serde_norway::from_str(yaml).unwrap();
        assert!(reserves_nvidia_gpu(Some(&deploy)));
        let amd = "resources: {reservations: {devices: [{driver: amd, capabilities: [gpu]}]}}";
        let deploy: Value = serde_norway::from_str(amd).unwrap();
        assert!(!reserves_nvidia_gpu(Some(&deploy)));
        assert!(!reserves_nvidia_gpu(None));
        let cmd = Either::List(vec!["--n-gpu-layers=99".into()]);
        assert!(offloads(&cmd));
        assert!(!offloads(&Either::List(vec!["-ngl".into(), "0".into()])));
        assert!(!offloads(&Either::Absent));
    }
}
