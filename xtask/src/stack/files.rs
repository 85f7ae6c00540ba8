//! Where the stack's files are and which services it runs.

/// Paths, relative to the workspace root.
pub(super) const COMPOSE: &str = "observability/docker-compose.yaml";
pub(super) const COLLECTOR: &str = "observability/otel-collector.yaml";
pub(super) const JAEGER: &str = "observability/jaeger/config.yaml";
pub(super) const LOKI: &str = "observability/loki/config.yaml";
pub(super) const PROM_CONFIG: &str = "observability/prometheus/prometheus.yml";
/// The replicas overlay: its compose file, load balancer and Prometheus config.
pub(super) const REPLICAS: &str = "observability/docker-compose.replicas.yaml";
pub(super) const HAPROXY: &str = "observability/haproxy/haproxy.cfg";
pub(super) const PROM_REPLICAS: &str = "observability/prometheus/prometheus-replicas.yml";
/// The Kubernetes manifests.
pub(super) const KUBERNETES: &str = "deploy/kubernetes";
pub(super) const ALERTS: &str = "observability/prometheus/alerts.yml";
pub(super) const DATASOURCES: &str =
    "observability/grafana/provisioning/datasources/datasources.yaml";
pub(super) const PROVISIONING: &str = "observability/grafana/provisioning";
pub(super) const DASHBOARD_PROVIDERS: &str =
    "observability/grafana/provisioning/dashboards/dashboards.yaml";
pub(super) const DASHBOARDS: &str = "observability/grafana/dashboards";
pub(super) const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The stack's services and the host ports each publishes (each the same inside).
pub(super) const SERVICES: [(&str, &[u16]); 6] = [
    ("jaeger", &[16686]),
    ("loki", &[3100]),
    ("otel-collector", &[4317, 4318]),
    ("prometheus", &[9090]),
    ("grafana", &[3000]),
    ("llama-server", &[8080]),
];
