//! Unit tests of the aligned-bucket reservoir: bucket alignment, latest wins, trace filter.

use super::*;
use opentelemetry::trace::{TraceContextExt as _, TraceFlags, TraceState};

const BOUNDS: [f64; 3] = [0.1, 0.5, 1.0];

fn span(trace: u128, span: u64, sampled: bool) -> SpanContext {
    let flags = match sampled {
        true => TraceFlags::SAMPLED,
        false => TraceFlags::default(),
    };
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        false,
        TraceState::default(),
    )
}

fn reservoir() -> InstrumentReservoir {
    InstrumentReservoir::new("t", "s", BOUNDS.to_vec())
}

fn attrs() -> Vec<KeyValue> {
    vec![KeyValue::new("b", "2"), KeyValue::new("a", 1)]
}

/// Which bucket holds an exemplar, and its span id.
fn filled(r: &InstrumentReservoir, attributes: &[KeyValue]) -> Vec<Option<(f64, u64)>> {
    let slots = r.slots(&series_key(attributes)).unwrap_or_default();
    slots
        .into_iter()
        .map(|s| s.map(|e| (e.value, u64::from_be_bytes(e.span_id.to_bytes()))))
        .collect()
}

#[test]
fn a_value_lands_in_the_bucket_the_sdk_counts_it_in() {
    // Upper bounds are inclusive, as Prometheus' `le`; above the last bound is the overflow.
    assert_eq!(bucket_index(&BOUNDS, -3.0), 0);
    assert_eq!(bucket_index(&BOUNDS, 0.1), 0);
    assert_eq!(bucket_index(&BOUNDS, 0.100001), 1);
    assert_eq!(bucket_index(&BOUNDS, 0.5), 1);
    assert_eq!(bucket_index(&BOUNDS, 1.0), 2);
    assert_eq!(bucket_index(&BOUNDS, 7.0), 3);
    let r = reservoir();
    let s = sampled(Some(&span(1, 7, true)));
    r.offer(0.3, &attrs(), s);
    r.offer(9.0, &attrs(), sampled(Some(&span(1, 8, true))));
    assert_eq!(
        filled(&r, &attrs()),
        vec![None, Some((0.3, 7)), None, Some((9.0, 8))]
    );
}

#[test]
fn the_latest_measurement_of_a_bucket_wins() {
    let r = reservoir();
    r.offer(0.2, &attrs(), sampled(Some(&span(1, 1, true))));
    r.offer(0.4, &attrs(), sampled(Some(&span(2, 2, true))));
    r.offer(0.05, &attrs(), sampled(Some(&span(3, 3, true))));
    r.offer(0.3, &attrs(), sampled(Some(&span(4, 4, true))));
    assert_eq!(
        filled(&r, &attrs()),
        vec![Some((0.05, 3)), Some((0.3, 4)), None, None]
    );
    let kept = r.slots(&series_key(&attrs())).unwrap();
    assert_eq!(kept[1].as_ref().unwrap().trace_id, TraceId::from(4u128));
}

#[test]
fn unsampled_or_missing_spans_leave_no_exemplar() {
    let r = reservoir();
    r.offer(0.2, &attrs(), sampled(Some(&span(1, 1, false))));
    r.offer(0.2, &attrs(), sampled(Some(&SpanContext::empty_context())));
    // No explicit span and no current span.
    r.offer(0.2, &attrs(), sampled(None));
    assert_eq!(r.slots(&series_key(&attrs())), None);
    // A sampled span made current on this thread is used when none is passed.
    let cx = opentelemetry::Context::new().with_remote_span_context(span(5, 9, true));
    let _attached = cx.attach();
    r.offer(0.2, &attrs(), sampled(None));
    assert_eq!(filled(&r, &attrs()), vec![None, Some((0.2, 9)), None, None]);
}

#[test]
fn series_are_told_apart_by_attributes_in_any_order() {
    let r = reservoir();
    let reversed: Vec<KeyValue> = attrs().into_iter().rev().collect();
    r.offer(0.2, &attrs(), sampled(Some(&span(1, 1, true))));
    r.offer(0.7, &reversed, sampled(Some(&span(1, 2, true))));
    r.offer(
        0.7,
        &[KeyValue::new("a", 2)],
        sampled(Some(&span(1, 3, true))),
    );
    assert_eq!(
        filled(&r, &attrs()),
        vec![None, Some((0.2, 1)), Some((0.7, 2)), None]
    );
    assert_eq!(
        filled(&r, &[KeyValue::new("a", 2)]),
        vec![None, None, Some((0.7, 3)), None]
    );
}

#[test]
fn nan_is_ignored_like_the_sdk_does() {
    let r = reservoir();
    r.offer(f64::NAN, &attrs(), sampled(Some(&span(1, 1, true))));
    assert_eq!(r.slots(&series_key(&attrs())), None);
}
