//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` / `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`: the SDK
//! (0.33) has no value length limit, so string values of span and event attributes are cut
//! here, at a character boundary, before export.

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;

fn cut(s: &str, limit: usize) -> Option<String> {
    let (end, _) = s.char_indices().nth(limit)?;
    Some(s[..end].to_owned())
}

fn truncate_value(value: &mut Value, limit: usize) {
    match value {
        Value::String(s) => {
            if let Some(short) = cut(s.as_str(), limit) {
                *s = StringValue::from(short);
            }
        }
        Value::Array(Array::String(items)) => {
            for s in items.iter_mut() {
                if let Some(short) = cut(s.as_str(), limit) {
                    *s = StringValue::from(short);
                }
            }
        }
        _ => {}
    }
}

fn truncate_all(attrs: &mut [KeyValue], limit: usize) {
    for kv in attrs {
        truncate_value(&mut kv.value, limit);
    }
}

/// Cuts every string attribute value of `span` (and of its events) to `limit` characters.
pub(crate) fn truncate_span(span: &mut SpanData, limit: usize) {
    truncate_all(&mut span.attributes, limit);
    for event in span.events.events.iter_mut() {
        truncate_all(&mut event.attributes, limit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_cut_at_character_boundaries_and_other_values_kept() {
        let mut attrs = vec![
            KeyValue::new("s", "héllo wörld"),
            KeyValue::new("short", "ok"),
            KeyValue::new("n", 123456789_i64),
            KeyValue::new(
                "a",
                Value::Array(Array::String(vec!["abcdef".into(), "xy".into()])),
            ),
        ];
        truncate_all(&mut attrs, 4);
        assert_eq!(attrs[0].value, Value::from("héll"));
        assert_eq!(attrs[1].value, Value::from("ok"));
        assert_eq!(attrs[2].value, Value::I64(123456789));
        assert_eq!(
            attrs[3].value,
            Value::Array(Array::String(vec!["abcd".into(), "xy".into()]))
        );
    }
}
