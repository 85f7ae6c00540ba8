//! Attribute values accepted by the macros, identical with and without the `otel` feature so
//! that code which compiles in one build compiles in the other.

use std::borrow::Cow;
use std::sync::Arc;

#[cfg(feature = "otel")]
use opentelemetry::{Array, StringValue, Value};

/// A type usable as an attribute value: `key = value` in every macro.
///
/// Implemented for `bool`, all integer types (unsigned values above `i64::MAX` saturate),
/// `f32`/`f64`, `&'static str`, `String`, `&String`, `Cow<'static, str>`, `Arc<str>`, and
/// vectors of `String`, `&'static str`, `i64` and `f64`. A borrowed non-`'static` `&str` is
/// deliberately not accepted (it would force an allocation on every use of a literal):
/// pass `s.to_owned()` instead.
pub trait AttrValue {
    #[cfg(feature = "otel")]
    #[doc(hidden)]
    fn into_otel(self) -> Value;
}

macro_rules! impl_attr {
    ($($t:ty => |$v:ident| $conv:expr;)*) => {$(
        impl AttrValue for $t {
            #[cfg(feature = "otel")]
            fn into_otel(self) -> Value {
                let $v = self;
                $conv
            }
        }
    )*};
}

#[cfg(feature = "otel")]
fn saturate_u64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl_attr! {
    bool => |v| Value::Bool(v);
    i8 => |v| Value::I64(i64::from(v));
    i16 => |v| Value::I64(i64::from(v));
    i32 => |v| Value::I64(i64::from(v));
    i64 => |v| Value::I64(v);
    isize => |v| Value::I64(v as i64);
    u8 => |v| Value::I64(i64::from(v));
    u16 => |v| Value::I64(i64::from(v));
    u32 => |v| Value::I64(i64::from(v));
    u64 => |v| Value::I64(saturate_u64(v));
    usize => |v| Value::I64(saturate_u64(v as u64));
    f32 => |v| Value::F64(f64::from(v));
    f64 => |v| Value::F64(v);
    &'static str => |v| Value::String(StringValue::from(v));
    String => |v| Value::String(StringValue::from(v));
    &String => |v| Value::String(StringValue::from(v.clone()));
    Cow<'static, str> => |v| Value::String(StringValue::from(v));
    Arc<str> => |v| Value::String(StringValue::from(v));
    Vec<String> => |v| Value::Array(Array::String(v.into_iter().map(StringValue::from).collect()));
    Vec<&'static str> => |v| Value::Array(Array::String(v.into_iter().map(StringValue::from).collect()));
    Vec<i64> => |v| Value::Array(Array::I64(v));
    Vec<f64> => |v| Value::Array(Array::F64(v));
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use super::*;

    #[test]
    fn unsigned_values_above_i64_max_saturate() {
        assert_eq!(u64::MAX.into_otel(), Value::I64(i64::MAX));
        assert_eq!(7u64.into_otel(), Value::I64(7));
    }

    #[test]
    fn strings_and_arrays_keep_their_content() {
        assert_eq!("chat".into_otel(), Value::from("chat"));
        let owned = String::from("m");
        assert_eq!((&owned).into_otel(), Value::from("m"));
        let v = vec!["stop", "length"].into_otel();
        assert_eq!(
            v,
            Value::Array(Array::String(vec!["stop".into(), "length".into()]))
        );
    }
}
