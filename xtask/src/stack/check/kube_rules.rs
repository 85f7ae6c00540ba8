//! What a schema does not say about the Kubernetes manifests: selectors match the pod
//! template's labels, Services and probes reach container ports, the HPA scales a Deployment
//! on a metric prometheus-adapter serves, pods are annotated for scraping on a port they
//! listen on, the OTLP endpoint is a Service's port, and images are pinned.

use super::compose::pinned_image;
use super::kube::{Container, Deployment, Hpa, KService, Labels, Manifest, PortRef};
use super::outcome;
use super::wiring::host_port;
use anyhow::Result;

/// The server's Deployment, its health path and the per-pod queue-depth metrics it exports.
const SERVER: &str = "llama-server";
const HEALTH: &str = "/health";
const QUEUE_METRICS: [&str; 2] = ["llama_requests_queued", "llamacpp:requests_deferred"];

/// Every rule over all manifests; a summary, or every problem found.
pub(super) fn rules(manifests: &[(String, Manifest)]) -> Result<String> {
    let mut p = Vec::new();
    let pick = |f: fn(&Manifest) -> bool| manifests.iter().map(|(_, m)| m).filter(move |m| f(m));
    let deployments: Vec<&Deployment> = pick(|_| true)
        .filter_map(|m| match m {
            Manifest::Deployment(d) => Some(d),
            _ => None,
        })
        .collect();
    let services: Vec<&KService> = pick(|_| true)
        .filter_map(|m| match m {
            Manifest::Service(s) => Some(s),
            _ => None,
        })
        .collect();
    let hpas: Vec<&Hpa> = pick(|_| true)
        .filter_map(|m| match m {
            Manifest::HorizontalPodAutoscaler(h) => Some(h),
            _ => None,
        })
        .collect();
    let names =
        |f: fn(&Manifest) -> Option<&str>| -> Vec<&str> { pick(|_| true).filter_map(f).collect() };
    let config_maps = names(|m| match m {
        Manifest::ConfigMap(c) => Some(c.metadata.name.as_str()),
        _ => None,
    });
    let claims = names(|m| match m {
        Manifest::PersistentVolumeClaim(c) => Some(c.metadata.name.as_str()),
        _ => None,
    });
    for d in &deployments {
        deployment(d, &config_maps, &claims, &services, &mut p);
    }
    if !deployments.iter().any(|d| d.metadata.name == SERVER) {
        p.push(format!("no Deployment {SERVER}"));
    }
    for s in &services {
        service(s, &deployments, &mut p);
    }
    let adapter: Vec<&str> = pick(|_| true)
        .filter_map(|m| match m {
            Manifest::ConfigMap(c) => Some(c),
            _ => None,
        })
        .flat_map(|c| c.data.values().map(String::as_str))
        .collect();
    if hpas.is_empty() {
        p.push("no HorizontalPodAutoscaler".into());
    }
    for h in &hpas {
        hpa(h, &deployments, &adapter, &mut p);
    }
    outcome(p, || {
        let (d, s, h) = (deployments.len(), services.len(), hpas.len());
        format!(
            "{} manifests: {d} Deployments, {s} Services, {h} HPA",
            manifests.len()
        )
    })
}

/// The label set `labels` includes every pair of `selector`.
fn selects(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The container port `port` refers to, if any.
fn resolves(containers: &[Container], port: &PortRef) -> Option<u16> {
    let ports = containers.iter().flat_map(|c| &c.ports);
    ports.into_iter().find_map(|cp| match port {
        PortRef::Number(n) => (cp.container_port == *n).then_some(*n),
        PortRef::Name(n) => (cp.name.as_deref() == Some(n)).then_some(cp.container_port),
    })
}

fn deployment(
    d: &Deployment,
    config_maps: &[&str],
    claims: &[&str],
    services: &[&KService],
    p: &mut Vec<String>,
) {
    let (name, pod) = (&d.metadata.name, &d.spec.template);
    if !selects(&d.spec.selector.match_labels, &pod.metadata.labels) {
        p.push(format!(
            "{name}: selector does not match the pod template's labels"
        ));
    }
    for v in &pod.spec.volumes {
        let cm = v.config_map.as_ref().map(|c| c.name.as_str());
        if let Some(cm) = cm.filter(|cm| !config_maps.contains(cm)) {
            p.push(format!("{name}: volume {} names no ConfigMap {cm}", v.name));
        }
        let claim = v
            .persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str());
        if let Some(c) = claim.filter(|c| !claims.contains(c)) {
            p.push(format!(
                "{name}: volume {} names no PersistentVolumeClaim {c}",
                v.name
            ));
        }
    }
    for c in &pod.spec.containers {
        let at = format!("{name}/{}", c.name);
        if let Err(e) = pinned_image(&c.image) {
            p.push(format!("{at}: {e}"));
        }
        if c.resources
            .as_ref()
            .is_none_or(|r| r.requests.is_empty() || r.limits.is_empty())
        {
            p.push(format!("{at}: no resource requests and limits"));
        }
        let probes = [
            ("readiness", &c.readiness_probe),
            ("liveness", &c.liveness_probe),
        ];
        for (what, probe) in probes {
            match probe {
                None => p.push(format!("{at}: no {what} probe")),
                Some(pr) if resolves(&pod.spec.containers, &pr.http_get.port).is_none() => {
                    p.push(format!(
                        "{at}: {what} probe on {:?}, no container port",
                        pr.http_get.port
                    ))
                }
                Some(pr) if *name == SERVER && pr.http_get.path != HEALTH => p.push(format!(
                    "{at}: {what} probe on {}, not {HEALTH}",
                    pr.http_get.path
                )),
                Some(_) => {}
            }
        }
        for m in c
            .volume_mounts
            .iter()
            .filter(|m| !pod.spec.volumes.iter().any(|v| v.name == m.name))
        {
            p.push(format!("{at}: mounts undefined volume {}", m.name));
        }
        otlp_endpoint(&at, c, services, p);
    }
    if *name == SERVER {
        server_pod(d, p);
    }
}

/// The server listens where it is scraped, and each pod has its own `service.instance.id`.
fn server_pod(d: &Deployment, p: &mut Vec<String>) {
    let (pod, name) = (&d.spec.template, &d.metadata.name);
    let annotations = &pod.metadata.annotations;
    if annotations.get("prometheus.io/scrape").map(String::as_str) != Some("true") {
        p.push(format!(
            "{name}: pods not annotated prometheus.io/scrape: \"true\""
        ));
    }
    let port = annotations
        .get("prometheus.io/port")
        .and_then(|s| s.parse().ok());
    let listens = pod.spec.containers.iter().filter_map(|c| {
        let arg = c.args.iter().find_map(|a| a.strip_prefix("--port="));
        arg.and_then(|a| a.parse::<u16>().ok())
    });
    let listens: Vec<u16> = listens.collect();
    let declared = port.and_then(|n| resolves(&pod.spec.containers, &PortRef::Number(n)));
    if port.is_none() || declared.is_none() || !listens.contains(&port.unwrap_or(0)) {
        p.push(format!(
            "{name}: prometheus.io/port {port:?} is not the --port {listens:?} of a container port"
        ));
    }
    for c in &pod.spec.containers {
        let attrs = c.env.iter().find(|e| e.name == "OTEL_RESOURCE_ATTRIBUTES");
        let attrs = attrs.and_then(|e| e.value.as_deref()).unwrap_or("");
        if !attrs.contains("service.instance.id=$(POD_NAME)") {
            p.push(format!(
                "{name}/{}: service.instance.id is not the pod's name",
                c.name
            ));
        }
    }
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` is a Service's port.
fn otlp_endpoint(at: &str, c: &Container, services: &[&KService], p: &mut Vec<String>) {
    let env = c
        .env
        .iter()
        .find(|e| e.name == "OTEL_EXPORTER_OTLP_ENDPOINT");
    let Some(url) = env.and_then(|e| e.value.as_deref()) else {
        return;
    };
    let reaches = host_port(url).is_some_and(|(host, port)| {
        let s = services.iter().find(|s| s.metadata.name == host);
        s.is_some_and(|s| s.spec.ports.iter().any(|sp| sp.port == port))
    });
    if !reaches {
        p.push(format!("{at}: OTLP endpoint {url} is no Service's port"));
    }
}

/// A Service selects a Deployment's pods, and each target port is a container port.
fn service(s: &KService, deployments: &[&Deployment], p: &mut Vec<String>) {
    let name = &s.metadata.name;
    let selected = deployments
        .iter()
        .find(|d| selects(&s.spec.selector, &d.spec.template.metadata.labels));
    let Some(d) = selected else {
        p.push(format!(
            "Service {name}: selector matches no Deployment's pods"
        ));
        return;
    };
    for sp in &s.spec.ports {
        let target = sp.target_port.clone().unwrap_or(PortRef::Number(sp.port));
        if resolves(&d.spec.template.spec.containers, &target).is_none() {
            p.push(format!(
                "Service {name}: targetPort {target:?} is no container port of {}",
                d.metadata.name
            ));
        }
    }
}

/// The HPA scales an existing Deployment on a per-pod queue-depth metric that
/// prometheus-adapter's rules serve.
fn hpa(h: &Hpa, deployments: &[&Deployment], adapter: &[&str], p: &mut Vec<String>) {
    let (name, t) = (&h.metadata.name, &h.spec.scale_target_ref);
    let known = deployments.iter().any(|d| d.metadata.name == t.name);
    if t.kind != "Deployment" || t.api_version != "apps/v1" || !known {
        p.push(format!(
            "HPA {name}: scaleTargetRef {} {} {} is no Deployment here",
            t.api_version, t.kind, t.name
        ));
    }
    if h.spec.min_replicas.unwrap_or(1) > h.spec.max_replicas {
        p.push(format!("HPA {name}: minReplicas above maxReplicas"));
    }
    let pods: Vec<_> = h.spec.metrics.iter().filter(|m| m.kind == "Pods").collect();
    if pods.is_empty() {
        p.push(format!("HPA {name}: no `type: Pods` metric"));
    }
    for m in pods {
        let Some(pm) = &m.pods else {
            p.push(format!("HPA {name}: a Pods metric without `pods`"));
            continue;
        };
        let metric = pm.metric.name.as_str();
        if !QUEUE_METRICS.contains(&metric) {
            p.push(format!(
                "HPA {name}: {metric} is not a queue-depth metric {QUEUE_METRICS:?}"
            ));
        }
        if pm.target.kind != "AverageValue" || pm.target.average_value.is_none() {
            p.push(format!("HPA {name}: Pods metric target needs AverageValue"));
        }
        let served = adapter
            .iter()
            .any(|cfg| cfg.contains(&format!("as: {metric}")));
        if !served {
            p.push(format!(
                "HPA {name}: no prometheus-adapter rule serves {metric} (`as: {metric}`)"
            ));
        }
    }
}
