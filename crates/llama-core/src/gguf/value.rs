//! GGUF metadata value types and values (scalars, strings, possibly nested arrays).

use std::fmt;

/// On-disk metadata value type ids (`gguf_type` in gguf.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum GgufValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl GgufValueType {
    /// Decodes an on-disk id; `None` for ids gguf does not define.
    pub fn from_id(id: u32) -> Option<Self> {
        use GgufValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// The on-disk id.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Short lower-case name used in error messages (`"u32"`, `"string"`).
    pub fn name(self) -> &'static str {
        use GgufValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }

    /// Smallest number of bytes one value of this type occupies on disk;
    /// used to reject counts the remaining file cannot hold before allocating.
    pub(crate) fn min_encoded_size(self) -> u64 {
        use GgufValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
            // length prefix
            String => 8,
            // element type + count
            Array => 12,
        }
    }
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(GgufArray),
}

/// A metadata array: all elements share one type. Nested arrays hold one
/// `GgufArray` per element, each with its own element type.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufArray {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<GgufArray>),
}

impl GgufValue {
    /// The on-disk type of this value.
    pub fn value_type(&self) -> GgufValueType {
        use GgufValue as V;
        use GgufValueType as T;
        match self {
            V::U8(_) => T::U8,
            V::I8(_) => T::I8,
            V::U16(_) => T::U16,
            V::I16(_) => T::I16,
            V::U32(_) => T::U32,
            V::I32(_) => T::I32,
            V::U64(_) => T::U64,
            V::I64(_) => T::I64,
            V::F32(_) => T::F32,
            V::F64(_) => T::F64,
            V::Bool(_) => T::Bool,
            V::String(_) => T::String,
            V::Array(_) => T::Array,
        }
    }

    /// Type description for messages, e.g. `"u32"` or `"array<string>"`.
    pub fn type_name(&self) -> String {
        match self {
            GgufValue::Array(a) => a.type_name(),
            other => other.value_type().name().to_string(),
        }
    }
}

impl GgufArray {
    /// Element type (`Array` for nested arrays).
    pub fn element_type(&self) -> GgufValueType {
        use GgufArray as A;
        use GgufValueType as T;
        match self {
            A::U8(_) => T::U8,
            A::I8(_) => T::I8,
            A::U16(_) => T::U16,
            A::I16(_) => T::I16,
            A::U32(_) => T::U32,
            A::I32(_) => T::I32,
            A::U64(_) => T::U64,
            A::I64(_) => T::I64,
            A::F32(_) => T::F32,
            A::F64(_) => T::F64,
            A::Bool(_) => T::Bool,
            A::String(_) => T::String,
            A::Array(_) => T::Array,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        use GgufArray as A;
        match self {
            A::U8(v) => v.len(),
            A::I8(v) => v.len(),
            A::U16(v) => v.len(),
            A::I16(v) => v.len(),
            A::U32(v) => v.len(),
            A::I32(v) => v.len(),
            A::U64(v) => v.len(),
            A::I64(v) => v.len(),
            A::F32(v) => v.len(),
            A::F64(v) => v.len(),
            A::Bool(v) => v.len(),
            A::String(v) => v.len(),
            A::Array(v) => v.len(),
        }
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Type description for messages, e.g. `"array<i32>"`.
    pub fn type_name(&self) -> String {
        format!("array<{}>", self.element_type().name())
    }
}

impl fmt::Display for GgufValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GgufValue::U8(v) => write!(f, "{v}"),
            GgufValue::I8(v) => write!(f, "{v}"),
            GgufValue::U16(v) => write!(f, "{v}"),
            GgufValue::I16(v) => write!(f, "{v}"),
            GgufValue::U32(v) => write!(f, "{v}"),
            GgufValue::I32(v) => write!(f, "{v}"),
            GgufValue::U64(v) => write!(f, "{v}"),
            GgufValue::I64(v) => write!(f, "{v}"),
            GgufValue::F32(v) => write!(f, "{v}"),
            GgufValue::F64(v) => write!(f, "{v}"),
            GgufValue::Bool(v) => write!(f, "{v}"),
            GgufValue::String(v) => write!(f, "{v:?}"),
            GgufValue::Array(a) => write!(f, "{}[{}]", a.type_name(), a.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_ids_round_trip() {
        for id in 0..13 {
            let t = GgufValueType::from_id(id).unwrap();
            assert_eq!(t.id(), id);
        }
        assert_eq!(GgufValueType::from_id(13), None);
    }

    #[test]
    fn type_names_describe_array_element_types() {
        let v = GgufValue::Array(GgufArray::String(vec!["a".into()]));
        assert_eq!(v.type_name(), "array<string>");
        assert_eq!(GgufValue::U16(3).type_name(), "u16");
        let nested = GgufArray::Array(vec![GgufArray::U8(vec![])]);
        assert_eq!(nested.type_name(), "array<array>");
        assert_eq!(nested.len(), 1);
        assert!(!nested.is_empty());
    }

    #[test]
    fn display_quotes_strings_and_summarises_arrays() {
        assert_eq!(GgufValue::String("x".into()).to_string(), "\"x\"");
        assert_eq!(
            GgufValue::Array(GgufArray::I32(vec![1, 2])).to_string(),
            "array<i32>[2]"
        );
        assert_eq!(GgufValue::I64(-5).to_string(), "-5");
    }
}
