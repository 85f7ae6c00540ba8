//! The collector's and Jaeger's pipelines: every component they name is defined, span metrics
//! are computed from every span (never behind the tail sampler), the sampler keeps every request
//! the TTFT alert would count as slow, and logs reach Loki when the server exports them.

use super::config::Collector;
use super::{outcome, Stack};
use anyhow::Result;

/// Every component a pipeline names that is not defined (connectors count as exporter and
/// receiver), and every extension the service enables that is not.
pub(super) fn undefined(c: &Collector) -> Vec<String> {
    let defined = |kind: &str, id: &String| match kind {
        "receivers" => c.receivers.contains_key(id) || c.connectors.contains_key(id),
        "processors" => c.processors.contains_key(id),
        "exporters" => c.exporters.contains_key(id) || c.connectors.contains_key(id),
        _ => false,
    };
    let mut p = Vec::new();
    for e in c.service.extensions.iter() {
        if !c.extensions.contains_key(e) {
            p.push(format!("extension {e} is not defined"));
        }
    }
    for (name, pipeline) in &c.service.pipelines {
        for (kind, ids) in pipeline {
            for id in ids.iter().filter(|id| !defined(kind, id)) {
                p.push(format!("pipeline {name}: {kind} {id} is not defined"));
            }
        }
    }
    p
}

/// The threshold, in milliseconds, of the alert rule `name`'s `> N` (seconds) comparison.
fn alert_threshold_ms(stack: &Stack, name: &str) -> Option<u64> {
    let rules = stack.rules.groups.iter().flat_map(|g| &g.rules);
    let rule = rules
        .into_iter()
        .find(|r| r.alert.as_deref() == Some(name))?;
    let (_, threshold) = rule.expr.rsplit_once('>')?;
    let seconds: f64 = threshold.trim().parse().ok()?;
    Some((seconds * 1000.0).round() as u64)
}

impl Stack {
    /// The pipeline rules across the collector, Jaeger, the alerts and the server's settings.
    pub(super) fn sampling(&self) -> Result<String> {
        let mut p: Vec<String> = undefined(&self.jaeger)
            .into_iter()
            .map(|e| format!("jaeger: {e}"))
            .collect();
        let c = &self.collector;
        for (name, pipeline) in &c.service.pipelines {
            let of = |kind: &str| pipeline.get(kind).cloned().unwrap_or_default();
            let sampled = of("processors")
                .iter()
                .any(|id| id.starts_with("tail_sampling"));
            if sampled
                && of("exporters")
                    .iter()
                    .any(|id| id.starts_with("spanmetrics"))
            {
                p.push(format!(
                    "pipeline {name}: span metrics behind the tail sampler"
                ));
            }
        }
        let ttft = alert_threshold_ms(self, "LlamaTimeToFirstTokenHigh");
        let samplers = c
            .processors
            .iter()
            .filter(|(id, _)| id.starts_with("tail_sampling"));
        let policies: Vec<_> = samplers
            .flat_map(|(_, s)| s.iter())
            .flat_map(|s| &s.policies)
            .collect();
        let latency = policies
            .iter()
            .filter_map(|p| p.latency.as_ref())
            .map(|l| l.threshold_ms);
        let latency: Vec<u64> = latency.collect();
        if !policies.is_empty() && (ttft.is_none() || !latency.contains(&ttft.unwrap_or(0))) {
            p.push(format!(
                "tail_sampling keeps requests slower than {latency:?} ms, \
                 the TTFT alert fires above {ttft:?} ms"
            ));
        }
        if !policies.iter().any(|p| p.kind == "status_code") && !policies.is_empty() {
            p.push("tail_sampling has no status_code policy: errors can be dropped".into());
        }
        let logs = self.env("llama-server", "OTEL_LOGS_EXPORTER");
        let to_loki = c.service.pipelines.iter().any(|(name, pipeline)| {
            let exporters = pipeline.get("exporters").into_iter().flatten();
            name.starts_with("logs") && exporters.into_iter().any(|id| id.ends_with("/loki"))
        });
        if logs == "otlp" && !to_loki {
            p.push("llama-server exports logs, no collector logs pipeline reaches Loki".into());
        }
        if !self.loki.limits_config.allow_structured_metadata {
            p.push("loki: allow_structured_metadata is off (OTLP trace ids are lost)".into());
        }
        outcome(p, || {
            let sampler = format!("tail sampling at {} ms", ttft.unwrap_or(0));
            format!("{sampler}, span metrics unsampled, logs to Loki")
        })
    }
}
