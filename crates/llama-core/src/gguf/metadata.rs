//! GGUF key/value metadata: file-order storage, key index and typed getters.

use std::borrow::Cow;
use std::collections::HashMap;

use super::value::{GgufArray, GgufValue};
use crate::error::{Error, Result};

/// All key/value pairs of a file, in file order, with lookup by key.
///
/// Typed getters return `Ok(None)` when the key is absent, a
/// `GgufTypeMismatch` error when the stored type cannot represent the
/// requested one, and `GgufValueOutOfRange` when an integer does not fit.
/// Integer getters accept every integer type whose value fits losslessly.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    entries: Vec<(String, GgufValue)>,
    index: HashMap<String, usize>,
}

/// Integer types the lossless integer getters can produce.
trait IntTarget:
    Sized
    + Copy
    + TryFrom<u8>
    + TryFrom<i8>
    + TryFrom<u16>
    + TryFrom<i16>
    + TryFrom<u32>
    + TryFrom<i32>
    + TryFrom<u64>
    + TryFrom<i64>
{
    const NAME: &'static str;
    /// The array variant holding exactly this type, to borrow without copying.
    fn exact(array: &GgufArray) -> Option<&[Self]>;
}

macro_rules! int_target {
    ($t:ty, $name:literal, $variant:ident) => {
        impl IntTarget for $t {
            const NAME: &'static str = $name;
            fn exact(array: &GgufArray) -> Option<&[Self]> {
                match array {
                    GgufArray::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}

int_target!(u32, "u32", U32);
int_target!(i32, "i32", I32);
int_target!(u64, "u64", U64);
int_target!(i64, "i64", I64);

impl IntTarget for usize {
    const NAME: &'static str = "usize";
    fn exact(_: &GgufArray) -> Option<&[Self]> {
        None
    }
}

fn mismatch(key: &str, expected: &'static str, found: String) -> Error {
    Error::GgufTypeMismatch {
        key: key.to_string(),
        expected,
        found,
    }
}

fn out_of_range(key: &str, value: String, target: &'static str) -> Error {
    Error::GgufValueOutOfRange {
        key: key.to_string(),
        value,
        target,
    }
}

fn int_from_value<T: IntTarget>(key: &str, value: &GgufValue) -> Result<T> {
    let converted = match value {
        GgufValue::U8(v) => T::try_from(*v).ok(),
        GgufValue::I8(v) => T::try_from(*v).ok(),
        GgufValue::U16(v) => T::try_from(*v).ok(),
        GgufValue::I16(v) => T::try_from(*v).ok(),
        GgufValue::U32(v) => T::try_from(*v).ok(),
        GgufValue::I32(v) => T::try_from(*v).ok(),
        GgufValue::U64(v) => T::try_from(*v).ok(),
        GgufValue::I64(v) => T::try_from(*v).ok(),
        other => return Err(mismatch(key, T::NAME, other.type_name())),
    };
    converted.ok_or_else(|| out_of_range(key, value.to_string(), T::NAME))
}

/// Converts every element, naming the first one that does not fit.
fn convert_all<S: Copy + ToString, T: IntTarget>(
    key: &str,
    items: &[S],
    conv: impl Fn(S) -> Option<T>,
) -> Result<Vec<T>> {
    items
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            conv(s).ok_or_else(|| {
                out_of_range(key, format!("{} (element {i})", s.to_string()), T::NAME)
            })
        })
        .collect()
}

fn int_array<'a, T: IntTarget>(key: &str, array: &'a GgufArray) -> Result<Cow<'a, [T]>> {
    if let Some(exact) = T::exact(array) {
        return Ok(Cow::Borrowed(exact));
    }
    let owned = match array {
        GgufArray::U8(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::I8(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::U16(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::I16(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::U32(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::I32(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::U64(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        GgufArray::I64(v) => convert_all(key, v, |x| T::try_from(x).ok()),
        other => return Err(mismatch(key, array_name::<T>(), other.type_name())),
    }?;
    Ok(Cow::Owned(owned))
}

fn array_name<T: IntTarget>() -> &'static str {
    match T::NAME {
        "u32" => "array of integers fitting u32",
        "i32" => "array of integers fitting i32",
        "u64" => "array of integers fitting u64",
        "i64" => "array of integers fitting i64",
        _ => "array of integers",
    }
}

macro_rules! required {
    ($(#[$doc:meta])* $req:ident, $get:ident, $ret:ty) => {
        $(#[$doc])*
        pub fn $req(&self, key: &str) -> Result<$ret> {
            self.$get(key)?.ok_or_else(|| Error::GgufMissingKey {
                key: key.to_string(),
            })
        }
    };
}

impl Metadata {
    /// Moves a string array out (leaving an empty array under the key), so large tokenizer
    /// tables are not held twice once a vocabulary owns them. `None` when absent or not strings.
    pub fn take_str_array(&mut self, key: &str) -> Option<Vec<String>> {
        let &i = self.index.get(key)?;
        match &mut self.entries[i].1 {
            GgufValue::Array(GgufArray::String(v)) => Some(std::mem::take(v)),
            _ => None,
        }
    }

    /// Builds metadata from pairs in file order; `Err(key)` on a duplicate key.
    pub(crate) fn from_entries(
        entries: Vec<(String, GgufValue)>,
    ) -> std::result::Result<Self, String> {
        let mut index = HashMap::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            if index.insert(key.clone(), i).is_some() {
                return Err(key.clone());
            }
        }
        Ok(Self { entries, index })
    }

    /// Number of key/value pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Pairs in file order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &GgufValue)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Keys in file order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// Raw value of `key`.
    pub fn get(&self, key: &str) -> Option<&GgufValue> {
        self.index
            .get(key)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    /// Integer value of any integer type that fits in `u32`.
    pub fn get_u32(&self, key: &str) -> Result<Option<u32>> {
        self.get(key).map(|v| int_from_value(key, v)).transpose()
    }

    /// Integer value of any integer type that fits in `u64`.
    pub fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        self.get(key).map(|v| int_from_value(key, v)).transpose()
    }

    /// Integer value of any integer type that fits in `usize`.
    pub fn get_usize(&self, key: &str) -> Result<Option<usize>> {
        self.get(key).map(|v| int_from_value(key, v)).transpose()
    }

    /// Integer value of any integer type that fits in `i32`.
    pub fn get_i32(&self, key: &str) -> Result<Option<i32>> {
        self.get(key).map(|v| int_from_value(key, v)).transpose()
    }

    /// Integer value of any integer type that fits in `i64`.
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>> {
        self.get(key).map(|v| int_from_value(key, v)).transpose()
    }

    /// `f32` value; an `f64` is rounded to the nearest `f32`.
    pub fn get_f32(&self, key: &str) -> Result<Option<f32>> {
        self.get(key)
            .map(|v| match v {
                GgufValue::F32(x) => Ok(*x),
                GgufValue::F64(x) => Ok(*x as f32),
                other => Err(mismatch(key, "f32 or f64", other.type_name())),
            })
            .transpose()
    }

    /// `f64` value (an `f32` widens exactly).
    pub fn get_f64(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|v| match v {
                GgufValue::F32(x) => Ok(f64::from(*x)),
                GgufValue::F64(x) => Ok(*x),
                other => Err(mismatch(key, "f32 or f64", other.type_name())),
            })
            .transpose()
    }

    /// `bool` value.
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| match v {
                GgufValue::Bool(b) => Ok(*b),
                other => Err(mismatch(key, "bool", other.type_name())),
            })
            .transpose()
    }

    /// String value.
    pub fn get_str(&self, key: &str) -> Result<Option<&str>> {
        self.get(key)
            .map(|v| match v {
                GgufValue::String(s) => Ok(s.as_str()),
                other => Err(mismatch(key, "string", other.type_name())),
            })
            .transpose()
    }

    /// Array value of any element type.
    pub fn get_array(&self, key: &str) -> Result<Option<&GgufArray>> {
        self.get(key)
            .map(|v| match v {
                GgufValue::Array(a) => Ok(a),
                other => Err(mismatch(key, "array", other.type_name())),
            })
            .transpose()
    }

    /// Array of strings.
    pub fn get_str_array(&self, key: &str) -> Result<Option<&[String]>> {
        self.typed_array(key, "array<string>", |a| match a {
            GgufArray::String(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// Array of `f32`; an `f64` array is converted (rounding each element).
    pub fn get_f32_array(&self, key: &str) -> Result<Option<Cow<'_, [f32]>>> {
        self.typed_array(key, "array<f32> or array<f64>", |a| match a {
            GgufArray::F32(v) => Some(Cow::Borrowed(v.as_slice())),
            GgufArray::F64(v) => Some(Cow::Owned(v.iter().map(|&x| x as f32).collect())),
            _ => None,
        })
    }

    /// Array of integers that all fit in `i32` (borrowed when stored as `i32`).
    pub fn get_i32_array(&self, key: &str) -> Result<Option<Cow<'_, [i32]>>> {
        self.get_array(key)?.map(|a| int_array(key, a)).transpose()
    }

    /// Array of integers that all fit in `u32` (borrowed when stored as `u32`).
    pub fn get_u32_array(&self, key: &str) -> Result<Option<Cow<'_, [u32]>>> {
        self.get_array(key)?.map(|a| int_array(key, a)).transpose()
    }

    /// Array of integers that all fit in `u64` (borrowed when stored as `u64`).
    pub fn get_u64_array(&self, key: &str) -> Result<Option<Cow<'_, [u64]>>> {
        self.get_array(key)?.map(|a| int_array(key, a)).transpose()
    }

    /// Array of integers that all fit in `i64` (borrowed when stored as `i64`).
    pub fn get_i64_array(&self, key: &str) -> Result<Option<Cow<'_, [i64]>>> {
        self.get_array(key)?.map(|a| int_array(key, a)).transpose()
    }

    fn typed_array<'a, T: 'a>(
        &'a self,
        key: &str,
        expected: &'static str,
        pick: impl Fn(&'a GgufArray) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(GgufValue::Array(a)) => pick(a)
                .map(Some)
                .ok_or_else(|| mismatch(key, expected, a.type_name())),
            Some(other) => Err(mismatch(key, expected, other.type_name())),
        }
    }

    required!(
        /// Like [`Metadata::get`] but a missing key is a `GgufMissingKey` error.
        require, get_value_ok, &GgufValue
    );
    required!(
        /// Like [`Metadata::get_u32`] but a missing key is a `GgufMissingKey` error.
        require_u32, get_u32, u32
    );
    required!(
        /// Like [`Metadata::get_u64`] but a missing key is a `GgufMissingKey` error.
        require_u64, get_u64, u64
    );
    required!(
        /// Like [`Metadata::get_usize`] but a missing key is a `GgufMissingKey` error.
        require_usize, get_usize, usize
    );
    required!(
        /// Like [`Metadata::get_i32`] but a missing key is a `GgufMissingKey` error.
        require_i32, get_i32, i32
    );
    required!(
        /// Like [`Metadata::get_i64`] but a missing key is a `GgufMissingKey` error.
        require_i64, get_i64, i64
    );
    required!(
        /// Like [`Metadata::get_f32`] but a missing key is a `GgufMissingKey` error.
        require_f32, get_f32, f32
    );
    required!(
        /// Like [`Metadata::get_f64`] but a missing key is a `GgufMissingKey` error.
        require_f64, get_f64, f64
    );
    required!(
        /// Like [`Metadata::get_bool`] but a missing key is a `GgufMissingKey` error.
        require_bool, get_bool, bool
    );
    required!(
        /// Like [`Metadata::get_str`] but a missing key is a `GgufMissingKey` error.
        require_str, get_str, &str
    );
    required!(
        /// Like [`Metadata::get_array`] but a missing key is a `GgufMissingKey` error.
        require_array, get_array, &GgufArray
    );
    required!(
        /// Like [`Metadata::get_str_array`] but a missing key is a `GgufMissingKey` error.
        require_str_array, get_str_array, &[String]
    );
    required!(
        /// Like [`Metadata::get_f32_array`] but a missing key is a `GgufMissingKey` error.
        require_f32_array, get_f32_array, Cow<'_, [f32]>
    );
    required!(
        /// Like [`Metadata::get_i32_array`] but a missing key is a `GgufMissingKey` error.
        require_i32_array, get_i32_array, Cow<'_, [i32]>
    );
    required!(
        /// Like [`Metadata::get_u32_array`] but a missing key is a `GgufMissingKey` error.
        require_u32_array, get_u32_array, Cow<'_, [u32]>
    );
    required!(
        /// Like [`Metadata::get_u64_array`] but a missing key is a `GgufMissingKey` error.
        require_u64_array, get_u64_array, Cow<'_, [u64]>
    );
    required!(
        /// Like [`Metadata::get_i64_array`] but a missing key is a `GgufMissingKey` error.
        require_i64_array, get_i64_array, Cow<'_, [i64]>
    );

    fn get_value_ok(&self, key: &str) -> Result<Option<&GgufValue>> {
        Ok(self.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md() -> Metadata {
        Metadata::from_entries(vec![
            ("u8".into(), GgufValue::U8(200)),
            ("i8".into(), GgufValue::I8(-1)),
            ("u64.big".into(), GgufValue::U64(1 << 40)),
            ("i64.small".into(), GgufValue::I64(7)),
            ("f32".into(), GgufValue::F32(0.5)),
            ("f64".into(), GgufValue::F64(0.25)),
            ("b".into(), GgufValue::Bool(true)),
            ("s".into(), GgufValue::String("hi".into())),
            (
                "strs".into(),
                GgufValue::Array(GgufArray::String(vec!["a".into(), "b".into()])),
            ),
            ("i32s".into(), GgufValue::Array(GgufArray::I32(vec![-1, 2]))),
            ("u8s".into(), GgufValue::Array(GgufArray::U8(vec![1, 255]))),
            ("f64s".into(), GgufValue::Array(GgufArray::F64(vec![1.5]))),
        ])
        .unwrap()
    }

    #[test]
    fn integer_getters_accept_any_integer_that_fits() {
        let m = md();
        assert_eq!(m.get_u32("u8").unwrap(), Some(200));
        assert_eq!(m.get_i32("u8").unwrap(), Some(200));
        assert_eq!(m.get_i64("i8").unwrap(), Some(-1));
        assert_eq!(m.get_u64("u64.big").unwrap(), Some(1 << 40));
        assert_eq!(m.get_u32("i64.small").unwrap(), Some(7));
        assert_eq!(m.get_usize("i64.small").unwrap(), Some(7));
    }

    #[test]
    fn integer_that_does_not_fit_is_out_of_range_naming_key() {
        let m = md();
        match m.get_u32("u64.big") {
            Err(Error::GgufValueOutOfRange { key, value, target }) => {
                assert_eq!(
                    (key.as_str(), value.as_str(), target),
                    ("u64.big", "1099511627776", "u32")
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            m.get_u64("i8"),
            Err(Error::GgufValueOutOfRange { .. })
        ));
    }

    #[test]
    fn wrong_type_names_key_expected_and_found() {
        let m = md();
        match m.get_u32("s") {
            Err(Error::GgufTypeMismatch {
                key,
                expected,
                found,
            }) => {
                assert_eq!(
                    (key.as_str(), expected, found.as_str()),
                    ("s", "u32", "string")
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            m.get_str("u8"),
            Err(Error::GgufTypeMismatch { .. })
        ));
        assert!(matches!(
            m.get_bool("f32"),
            Err(Error::GgufTypeMismatch { .. })
        ));
        assert!(matches!(
            m.get_f32("b"),
            Err(Error::GgufTypeMismatch { .. })
        ));
        assert!(matches!(
            m.get_u32("b"),
            Err(Error::GgufTypeMismatch { .. })
        ));
        match m.get_str_array("i32s") {
            Err(Error::GgufTypeMismatch { found, .. }) => assert_eq!(found, "array<i32>"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            m.get_i32_array("strs"),
            Err(Error::GgufTypeMismatch { .. })
        ));
        assert!(matches!(
            m.get_f32_array("s"),
            Err(Error::GgufTypeMismatch { .. })
        ));
    }

    #[test]
    fn float_getters_accept_f32_and_f64() {
        let m = md();
        assert_eq!(m.get_f32("f32").unwrap(), Some(0.5));
        assert_eq!(m.get_f32("f64").unwrap(), Some(0.25));
        assert_eq!(m.get_f64("f32").unwrap(), Some(0.5));
        assert_eq!(
            m.get_f32_array("f64s").unwrap().as_deref(),
            Some(&[1.5f32][..])
        );
    }

    #[test]
    fn absent_keys_are_none_and_required_ones_are_missing_key_errors() {
        let m = md();
        assert_eq!(m.get_u32("nope").unwrap(), None);
        assert_eq!(m.get_str_array("nope").unwrap(), None);
        match m.require_u32("nope") {
            Err(Error::GgufMissingKey { key }) => assert_eq!(key, "nope"),
            other => panic!("{other:?}"),
        }
        assert!(m
            .require_str("nope")
            .unwrap_err()
            .to_string()
            .contains("'nope'"));
        assert!(matches!(
            m.require("nope"),
            Err(Error::GgufMissingKey { .. })
        ));
        assert!(m.require_bool("b").unwrap());
    }

    #[test]
    fn arrays_borrow_exact_types_and_convert_others() {
        let m = md();
        assert!(matches!(
            m.get_i32_array("i32s").unwrap(),
            Some(Cow::Borrowed(_))
        ));
        let u = m.get_u32_array("u8s").unwrap().unwrap();
        assert!(matches!(u, Cow::Owned(_)));
        assert_eq!(&*u, &[1, 255]);
        assert_eq!(
            m.require_str_array("strs").unwrap(),
            &["a".to_string(), "b".to_string()]
        );
        match m.get_u32_array("i32s") {
            Err(Error::GgufValueOutOfRange { value, .. }) => assert_eq!(value, "-1 (element 0)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn iteration_is_in_insertion_order() {
        let m = md();
        let keys: Vec<&str> = m.keys().take(3).collect();
        assert_eq!(keys, ["u8", "i8", "u64.big"]);
        let first = m.iter().next().map(|(k, v)| (k, v.clone()));
        assert_eq!(first, Some(("u8", GgufValue::U8(200))));
        assert_eq!(md().len(), 12);
        assert!(md().contains_key("s") && !md().contains_key("x"));
    }

    #[test]
    fn duplicate_entries_are_refused() {
        let dup = Metadata::from_entries(vec![
            ("k".into(), GgufValue::U8(1)),
            ("k".into(), GgufValue::U8(2)),
        ]);
        assert_eq!(dup, Err("k".to_string()));
    }
}
