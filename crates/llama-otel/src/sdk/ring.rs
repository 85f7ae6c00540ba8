//! The in-process buffer of recent traces behind [`recent_traces_otlp_json`](crate::recent_traces_otlp_json):
//! a span processor on every tracer provider, so the last requests can be inspected (the
//! server's `/debug/traces` and its built-in page) with no collector at all. It sees exactly
//! what the provider samples; it never exports.
//!
//! Bounded: at most [`MAX_TRACES`] traces (the oldest evicted), [`MAX_SPANS_PER_TRACE`]
//! spans each, string attribute values cut to [`MAX_VALUE_CHARS`] characters, and about
//! [`MAX_BYTES`] in all (estimated per span; the oldest traces go first).
//!
//! A trace is kept once it has more than one span. A root span that ends alone — no children
//! still open, none ended before it, no links — is skipped: health checks, metric scrapes and
//! the page's own polling would otherwise evict every request. A root span with links (a
//! `llama.decode` step, linked to the GenAI spans of the requests it served) is filed under
//! each linked trace instead of its own.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use std::mem::size_of;

use opentelemetry::trace::{Event, Link, Span as _, SpanId, TraceId};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use crate::traces::{
    TraceBufferStats, TRACE_BUFFER_BYTES as MAX_BYTES,
    TRACE_BUFFER_SPANS_PER_TRACE as MAX_SPANS_PER_TRACE, TRACE_BUFFER_TRACES as MAX_TRACES,
    TRACE_BUFFER_VALUE_CHARS as MAX_VALUE_CHARS,
};

/// Distinct traces a linked root span is filed under.
const MAX_LINK_TARGETS: usize = 8;
/// Bound of the open-span bookkeeping (traces with spans started and not ended).
const MAX_OPEN_TRACES: usize = 4096;

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::String(items)) => items
            .iter()
            .map(|s| size_of::<StringValue>() + s.as_str().len())
            .sum(),
        Value::Array(Array::Bool(items)) => items.len(),
        Value::Array(Array::I64(items)) => items.len() * 8,
        Value::Array(Array::F64(items)) => items.len() * 8,
        _ => 0,
    }
}

fn attributes_bytes(attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| size_of::<KeyValue>() + kv.key.as_str().len() + value_bytes(&kv.value))
        .sum()
}

/// The heap a buffered span holds, estimated from its parts (the bound on bytes uses it).
pub(crate) fn span_bytes(span: &SpanData) -> usize {
    let events: usize = span
        .events
        .iter()
        .map(|e| size_of::<Event>() + e.name.len() + attributes_bytes(&e.attributes))
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|l| size_of::<Link>() + attributes_bytes(&l.attributes))
        .sum();
    size_of::<SpanData>() + span.name.len() + attributes_bytes(&span.attributes) + events + links
}

/// One buffered trace.
#[derive(Debug)]
struct Entry {
    trace_id: TraceId,
    /// Spans of this trace, in end order.
    own: Vec<SpanData>,
    /// Root spans of other traces that link here (decode steps), in end order.
    linked: Vec<SpanData>,
    /// [`span_bytes`] of all of them.
    bytes: usize,
}

impl Entry {
    fn new(trace_id: TraceId) -> Self {
        Entry {
            trace_id,
            own: Vec::new(),
            linked: Vec::new(),
            bytes: 0,
        }
    }

    fn len(&self) -> usize {
        self.own.len() + self.linked.len()
    }

    /// Keeps the trace's own span, giving up its oldest linked span when full.
    fn push_own(&mut self, span: SpanData) -> bool {
        if self.len() >= MAX_SPANS_PER_TRACE {
            if self.linked.is_empty() {
                return false;
            }
            let gone = self.linked.remove(0);
            self.bytes -= span_bytes(&gone);
        }
        self.bytes += span_bytes(&span);
        self.own.push(span);
        true
    }

    fn push_linked(&mut self, span: SpanData) -> bool {
        if self.len() >= MAX_SPANS_PER_TRACE {
            return false;
        }
        self.bytes += span_bytes(&span);
        self.linked.push(span);
        true
    }
}

/// The buffer and its bookkeeping.
#[derive(Debug, Default)]
struct Ring {
    /// Oldest first.
    traces: VecDeque<Entry>,
    /// Spans started and not yet ended, per trace.
    open: HashMap<TraceId, u32>,
    /// Spans not kept: lone roots, and spans past a trace's bound.
    skipped: u64,
    evicted: u64,
}

impl Ring {
    fn find(&mut self, trace_id: TraceId) -> Option<&mut Entry> {
        self.traces.iter_mut().find(|e| e.trace_id == trace_id)
    }

    fn entry(&mut self, trace_id: TraceId) -> &mut Entry {
        let index = match self.traces.iter().position(|e| e.trace_id == trace_id) {
            Some(i) => i,
            None => {
                if self.traces.len() >= MAX_TRACES {
                    self.traces.pop_front();
                    self.evicted += 1;
                }
                self.traces.push_back(Entry::new(trace_id));
                self.traces.len() - 1
            }
        };
        &mut self.traces[index]
    }

    fn started(&mut self, trace_id: TraceId) {
        if let Some(n) = self.open.get_mut(&trace_id) {
            *n += 1;
        } else if self.open.len() < MAX_OPEN_TRACES {
            self.open.insert(trace_id, 1);
        }
    }

    /// Closes one open span of `trace_id`; true while others of the trace are still open.
    fn ended(&mut self, trace_id: TraceId) -> bool {
        match self.open.get_mut(&trace_id) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.open.remove(&trace_id);
                false
            }
            None => false,
        }
    }

    fn add(&mut self, span: SpanData) {
        let trace_id = span.span_context.trace_id();
        let still_open = self.ended(trace_id);
        let is_root = span.parent_span_id == SpanId::INVALID;
        let known = self.find(trace_id).is_some();
        if is_root && !known && !still_open {
            if span.links.is_empty() {
                self.skipped += 1;
            } else {
                self.file_linked(span);
            }
            return;
        }
        if !self.entry(trace_id).push_own(span) {
            self.skipped += 1;
        }
        self.enforce_bytes();
    }

    /// Evicts the oldest traces while the buffer holds more than [`MAX_BYTES`] (the newest
    /// trace always stays: 256 spans with values cut to 256 characters fit well below it).
    fn enforce_bytes(&mut self) {
        while self.traces.len() > 1 && self.bytes() > MAX_BYTES {
            self.traces.pop_front();
            self.evicted += 1;
        }
    }

    fn bytes(&self) -> usize {
        self.traces.iter().map(|e| e.bytes).sum()
    }

    /// Files a linked root span under each trace it links to.
    fn file_linked(&mut self, span: SpanData) {
        let mut targets: Vec<TraceId> = Vec::new();
        for link in span.links.iter() {
            let t = link.span_context.trace_id();
            if !targets.contains(&t) && targets.len() < MAX_LINK_TARGETS {
                targets.push(t);
            }
        }
        for t in targets {
            if !self.entry(t).push_linked(span.clone()) {
                self.skipped += 1;
            }
        }
        self.enforce_bytes();
    }

    /// Up to `limit` traces, newest first, each as its spans (own, then linked).
    fn snapshot(&self, limit: usize) -> Vec<Vec<SpanData>> {
        self.traces
            .iter()
            .rev()
            .take(limit)
            .map(|e| e.own.iter().chain(&e.linked).cloned().collect())
            .collect()
    }
}

/// What the processor and the readers share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    ring: Mutex<Ring>,
    resource: Mutex<Option<Resource>>,
}

/// The buffer of the running SDK, if any.
static CURRENT: RwLock<Option<Arc<Shared>>> = RwLock::new(None);

/// The span processor feeding the buffer.
#[derive(Debug)]
pub(crate) struct RingProcessor {
    shared: Arc<Shared>,
}

impl RingProcessor {
    /// A processor whose buffer becomes the one [`snapshot`] reads.
    pub(crate) fn install() -> Self {
        let shared = Arc::new(Shared::default());
        *CURRENT.write().unwrap_or_else(PoisonError::into_inner) = Some(shared.clone());
        RingProcessor { shared }
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.shared
            .ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl SpanProcessor for RingProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        let trace_id = span.span_context().trace_id();
        if span.is_recording() {
            self.ring().started(trace_id);
        }
    }

    fn on_end(&self, mut span: SpanData) {
        super::limits::truncate_span(&mut span, MAX_VALUE_CHARS);
        self.ring().add(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let mut current = CURRENT.write().unwrap_or_else(PoisonError::into_inner);
        if current
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &self.shared))
        {
            *current = None;
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self
            .shared
            .resource
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(resource.clone());
    }
}

/// The buffered traces (newest first, at most `limit`) and the provider's resource; `None`
/// when no SDK is running.
pub(crate) fn snapshot(limit: usize) -> Option<(Resource, Vec<Vec<SpanData>>)> {
    let shared = CURRENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()?;
    let traces = shared
        .ring
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .snapshot(limit);
    let resource = shared
        .resource
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
        .unwrap_or_else(|| Resource::builder_empty().build());
    Some((resource, traces))
}

/// What the running buffer holds and has given up.
pub(crate) fn stats() -> Option<TraceBufferStats> {
    let shared = CURRENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()?;
    let ring = shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
    Some(TraceBufferStats {
        traces: ring.traces.len(),
        spans: ring.traces.iter().map(Entry::len).sum(),
        bytes: ring.bytes(),
        skipped_spans: ring.skipped,
        evicted_traces: ring.evicted,
    })
}

/// (spans skipped, traces evicted), for the tests.
#[cfg(test)]
fn counters() -> Option<(u64, u64)> {
    stats().map(|s| (s.skipped_spans, s.evicted_traces))
}

#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
