//! `OTEL_PROPAGATORS`: which W3C formats incoming context is read from and outgoing context is
//! written in. Until `init()` (and after the guard is dropped) Trace Context alone is used, so
//! extraction works the same with or without an SDK.

use std::sync::atomic::{AtomicU8, Ordering};

use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::Propagator;

const TRACE_CONTEXT: u8 = 1;
const BAGGAGE: u8 = 2;

static ACTIVE: AtomicU8 = AtomicU8::new(TRACE_CONTEXT);

fn bit(p: Propagator) -> u8 {
    match p {
        Propagator::TraceContext => TRACE_CONTEXT,
        Propagator::Baggage => BAGGAGE,
    }
}

fn propagators(bits: u8) -> Vec<Box<dyn TextMapPropagator + Send + Sync>> {
    let mut out: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    if bits & TRACE_CONTEXT != 0 {
        out.push(Box::new(TraceContextPropagator::new()));
    }
    if bits & BAGGAGE != 0 {
        out.push(Box::new(BaggagePropagator::new()));
    }
    out
}

/// Uses `list` from now on, here and for the global API (other libraries).
pub(crate) fn install(list: &[Propagator]) {
    let bits = list.iter().fold(0, |acc, p| acc | bit(*p));
    ACTIVE.store(bits, Ordering::Release);
    global::set_text_map_propagator(TextMapCompositePropagator::new(propagators(bits)));
}

/// Back to Trace Context alone (the guard was dropped).
pub(crate) fn reset() {
    ACTIVE.store(TRACE_CONTEXT, Ordering::Release);
}

/// Reads a context from request headers with the active propagators.
pub(crate) fn extract(carrier: &dyn Extractor) -> Context {
    TextMapCompositePropagator::new(propagators(ACTIVE.load(Ordering::Acquire)))
        .extract_with_context(&Context::new(), carrier)
}

/// Writes `cx` into outgoing headers with the active propagators.
pub(crate) fn inject(cx: &Context, carrier: &mut dyn Injector) {
    TextMapCompositePropagator::new(propagators(ACTIVE.load(Ordering::Acquire)))
        .inject_context(cx, carrier);
}
