//! What one `decode` call did, for telemetry and benchmarks.

use llama_otel::SpanContext;
use std::time::Duration;

/// What one `decode` call did (for telemetry and benchmarks).
#[derive(Debug, Clone, Default)]
pub struct DecodeStats {
    pub n_tokens: usize,
    pub n_outputs: usize,
    pub n_seqs: usize,
    pub n_ubatches: usize,
    pub graphs_built: usize,
    pub kv_used: usize,
    pub duration: Duration,
    /// The `llama.decode` span of this call (empty without telemetry), for links back from the
    /// requests it served.
    pub span: SpanContext,
}
