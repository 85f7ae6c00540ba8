//! The Kubernetes manifests (deploy/kubernetes/) as typed structs: each document's
//! `apiVersion`/`kind` must be a known pair and its fields (only those the checks read, the
//! required ones without defaults) parse, or the file fails naming the document.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_norway::Value;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) type Labels = BTreeMap<String, String>;

/// One manifest, by `kind`; `check` below says which `apiVersion` each needs.
#[derive(Deserialize)]
#[serde(tag = "kind")]
pub(super) enum Manifest {
    Deployment(Deployment),
    Service(KService),
    ConfigMap(ConfigMap),
    PersistentVolumeClaim(Named),
    HorizontalPodAutoscaler(Hpa),
}

/// The `apiVersion` each kind is written against.
const API_VERSIONS: [(&str, &str); 5] = [
    ("Deployment", "apps/v1"),
    ("Service", "v1"),
    ("ConfigMap", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("HorizontalPodAutoscaler", "autoscaling/v2"),
];

#[derive(Deserialize)]
pub(super) struct Metadata {
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct Named {
    pub(super) metadata: Metadata,
}

#[derive(Deserialize)]
pub(super) struct Deployment {
    pub(super) metadata: Metadata,
    pub(super) spec: DeploymentSpec,
}

#[derive(Deserialize)]
pub(super) struct DeploymentSpec {
    pub(super) selector: Selector,
    pub(super) template: PodTemplate,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Selector {
    pub(super) match_labels: Labels,
}

#[derive(Deserialize)]
pub(super) struct PodTemplate {
    pub(super) metadata: PodMetadata,
    pub(super) spec: PodSpec,
}

#[derive(Deserialize)]
pub(super) struct PodMetadata {
    pub(super) labels: Labels,
    #[serde(default)]
    pub(super) annotations: Labels,
}

#[derive(Deserialize)]
pub(super) struct PodSpec {
    pub(super) containers: Vec<Container>,
    #[serde(default)]
    pub(super) volumes: Vec<PodVolume>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Container {
    pub(super) name: String,
    pub(super) image: String,
    #[serde(default)]
    pub(super) args: Vec<String>,
    #[serde(default)]
    pub(super) ports: Vec<ContainerPort>,
    #[serde(default)]
    pub(super) env: Vec<EnvVar>,
    pub(super) readiness_probe: Option<Probe>,
    pub(super) liveness_probe: Option<Probe>,
    pub(super) resources: Option<Resources>,
    #[serde(default)]
    pub(super) volume_mounts: Vec<Named2>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ContainerPort {
    pub(super) name: Option<String>,
    pub(super) container_port: u16,
}

#[derive(Deserialize)]
pub(super) struct EnvVar {
    pub(super) name: String,
    pub(super) value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Probe {
    pub(super) http_get: HttpGet,
}

#[derive(Deserialize)]
pub(super) struct HttpGet {
    pub(super) path: String,
    pub(super) port: PortRef,
}

/// A port by number or by a container port's name.
#[derive(Deserialize, Clone, PartialEq, Debug)]
#[serde(untagged)]
pub(super) enum PortRef {
    Number(u16),
    Name(String),
}

#[derive(Deserialize)]
pub(super) struct Resources {
    pub(super) requests: BTreeMap<String, Value>,
    #[serde(default)]
    pub(super) limits: BTreeMap<String, Value>,
}

/// An item with a `name`: a volume mount.
#[derive(Deserialize)]
pub(super) struct Named2 {
    pub(super) name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PodVolume {
    pub(super) name: String,
    pub(super) config_map: Option<Named2>,
    pub(super) persistent_volume_claim: Option<ClaimRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ClaimRef {
    pub(super) claim_name: String,
}

#[derive(Deserialize)]
pub(super) struct KService {
    pub(super) metadata: Metadata,
    pub(super) spec: ServiceSpec,
}

#[derive(Deserialize)]
pub(super) struct ServiceSpec {
    pub(super) selector: Labels,
    pub(super) ports: Vec<ServicePort>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ServicePort {
    pub(super) port: u16,
    /// Defaults to `port`.
    pub(super) target_port: Option<PortRef>,
}

#[derive(Deserialize)]
pub(super) struct ConfigMap {
    pub(super) metadata: Metadata,
    pub(super) data: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub(super) struct Hpa {
    pub(super) metadata: Metadata,
    pub(super) spec: HpaSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HpaSpec {
    pub(super) scale_target_ref: TargetRef,
    pub(super) min_replicas: Option<u32>,
    pub(super) max_replicas: u32,
    pub(super) metrics: Vec<Metric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TargetRef {
    pub(super) api_version: String,
    pub(super) kind: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct Metric {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) pods: Option<PodsMetric>,
}

#[derive(Deserialize)]
pub(super) struct PodsMetric {
    pub(super) metric: Named2,
    pub(super) target: MetricTarget,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MetricTarget {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) average_value: Option<Value>,
}

/// Every manifest of every `*.yaml` under `dir` (relative to `root`), as (file, manifest).
pub(super) fn load_all(root: &Path, dir: &str) -> Result<Vec<(String, Manifest)>> {
    let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
        .with_context(|| format!("reading {dir}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let file = format!(
            "{dir}/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let text = std::fs::read_to_string(&path).with_context(|| file.clone())?;
        for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let value = Value::deserialize(doc).with_context(|| format!("{file}#{i}"))?;
            let m = check(value).with_context(|| format!("{file} document {}", i + 1))?;
            out.push((file.clone(), m));
        }
    }
    Ok(out)
}

/// A document's `apiVersion` is the one its `kind` needs, then its fields parse.
fn check(value: Value) -> Result<Manifest> {
    let field = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (kind, api) = (field("kind"), field("apiVersion"));
    match API_VERSIONS.iter().find(|(k, _)| *k == kind) {
        None => bail!("unknown kind `{kind}`"),
        Some((_, want)) if *want != api => bail!("{kind} needs apiVersion {want}, not `{api}`"),
        Some(_) => Ok(serde_norway::from_value(value)?),
    }
}
