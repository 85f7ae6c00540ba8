//! Recent traces from the in-process buffer (an SDK span processor, always on with `otel`,
//! with or without an OTLP endpoint), as OTLP/JSON: the protobuf-JSON mapping of an
//! `ExportTraceServiceRequest` (hex `traceId`/`spanId`, `startTimeUnixNano` as strings,
//! attributes as `KeyValue`/`AnyValue`). Without `otel`, or with the SDK disabled, there is
//! nothing to read.

/// Traces the buffer holds; a new one evicts the oldest.
pub const TRACE_BUFFER_TRACES: usize = 32;
/// Spans held per trace: its own and the `llama.decode` steps linked to it. When full, a
/// span of the trace itself replaces the oldest linked step; anything else is dropped.
pub const TRACE_BUFFER_SPANS_PER_TRACE: usize = 256;
/// Longest string attribute value the buffer keeps, in characters (longer ones are cut).
pub const TRACE_BUFFER_VALUE_CHARS: usize = 256;
/// Heap the buffer may hold, estimated from each span's attributes, events and links: past
/// it the oldest traces are evicted (spans with the SDK's default limits of 128 attributes and
/// 128 events could otherwise make 32 × 256 spans far larger than their usual ~1 KiB each).
pub const TRACE_BUFFER_BYTES: usize = 16 << 20;

/// The last `limit` traces (newest first) as one OTLP/JSON `ExportTraceServiceRequest` with
/// one `resourceSpans` entry per trace, holding the trace's spans and the root spans of other
/// traces that link to it (decode steps). `None` when no SDK is recording.
pub fn recent_traces_otlp_json(limit: usize) -> Option<String> {
    #[cfg(feature = "otel")]
    {
        let (resource, traces) = crate::sdk::ring::snapshot(limit)?;
        Some(to_otlp_json(&resource, traces))
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = limit;
        None
    }
}

/// What the trace buffer holds now and has given up since the SDK started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceBufferStats {
    /// Traces held.
    pub traces: usize,
    /// Spans held (a decode step filed under two traces counts twice).
    pub spans: usize,
    /// Estimated heap held by those spans (what [`TRACE_BUFFER_BYTES`] bounds).
    pub bytes: usize,
    /// Spans not kept: lone root spans, spans past a trace's bound.
    pub skipped_spans: u64,
    /// Traces evicted for newer ones.
    pub evicted_traces: u64,
}

/// The buffer's [`TraceBufferStats`]; `None` when no SDK is recording.
pub fn trace_buffer_stats() -> Option<TraceBufferStats> {
    #[cfg(feature = "otel")]
    {
        crate::sdk::ring::stats()
    }
    #[cfg(not(feature = "otel"))]
    None
}

#[cfg(feature = "otel")]
fn to_otlp_json(
    resource: &opentelemetry_sdk::Resource,
    traces: Vec<Vec<opentelemetry_sdk::trace::SpanData>>,
) -> String {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;

    let resource = ResourceAttributesWithSchema::from(resource);
    let resource_spans = traces
        .into_iter()
        .flat_map(|spans| group_spans_by_resource_and_scope(spans, &resource))
        .collect();
    let request = ExportTraceServiceRequest { resource_spans };
    // Serialising plain structs of strings and numbers cannot fail.
    serde_json::to_string(&request).unwrap_or_else(|_| String::from("{}"))
}
