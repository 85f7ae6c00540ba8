//! The GGUF parser: header, metadata and tensor infos from a byte slice, fully validated.

use std::collections::HashMap;

use super::cursor::{to_u64, Cursor};
use super::ggml_type::{GgmlType, GgmlTypeId};
use super::metadata::Metadata;
use super::tensor::{TensorInfo, MAX_DIMS};
use super::value::{GgufArray, GgufValue, GgufValueType};
use crate::error::{Error, Result};

/// `"GGUF"`.
pub const GGUF_MAGIC: [u8; 4] = *b"GGUF";
/// Alignment used when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Metadata key that overrides the alignment.
pub const ALIGNMENT_KEY: &str = "general.alignment";
/// Deepest array-in-array nesting accepted; bounds parser recursion.
pub const MAX_ARRAY_DEPTH: usize = 8;

/// Smallest possible encodings, used to reject counts before allocating:
/// a kv is key length + value type + 1-byte value, a tensor info is name
/// length + n_dims + type + offset.
const MIN_KV_SIZE: u64 = 8 + 4 + 1;
const MIN_TENSOR_INFO_SIZE: u64 = 8 + 4 + 4 + 8;

/// Everything a GGUF file says before its data section.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    /// Format version (2 or 3).
    pub version: u32,
    /// Key/value metadata in file order.
    pub metadata: Metadata,
    /// Tensor descriptors in file order.
    pub tensors: Vec<TensorInfo>,
    /// Tensor name -> index into `tensors`.
    pub tensor_index: HashMap<String, usize>,
    /// Data alignment (from `general.alignment`, default 32).
    pub alignment: u64,
    /// Absolute offset of the data section (aligned). May exceed the file
    /// size only when the file has no tensors.
    pub data_offset: u64,
}

impl GgufHeader {
    /// Parses and validates a whole GGUF file held in `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut cur = Cursor::new(bytes);
        let version = read_preamble(&mut cur)?;
        let n_tensors_offset = cur.pos();
        let n_tensors = cur.u64(&|| "tensor count".to_string())?;
        let n_kv_offset = cur.pos();
        let n_kv = cur.u64(&|| "kv count".to_string())?;
        let no_ctx = || "header".to_string();
        cur.check_count("kv count", n_kv, MIN_KV_SIZE, n_kv_offset, &no_ctx)?;
        let metadata = read_metadata(&mut cur, n_kv)?;
        let alignment = alignment_of(&metadata)?;
        cur.check_count(
            "tensor count",
            n_tensors,
            MIN_TENSOR_INFO_SIZE,
            n_tensors_offset,
            &no_ctx,
        )?;
        let (mut tensors, tensor_index) = read_tensor_infos(&mut cur, n_tensors)?;
        let data_offset =
            align_up(cur.pos(), alignment).ok_or(Error::GgufInvalidAlignment { alignment })?;
        place_tensors(&mut tensors, data_offset, alignment, to_u64(bytes.len()))?;
        Ok(Self {
            version,
            metadata,
            tensors,
            tensor_index,
            alignment,
            data_offset,
        })
    }
}

fn align_up(pos: u64, alignment: u64) -> Option<u64> {
    pos.checked_next_multiple_of(alignment)
}

/// Magic and version; returns the version.
fn read_preamble(cur: &mut Cursor<'_>) -> Result<u32> {
    let magic: [u8; 4] = cur.array(&|| "magic".to_string())?;
    if magic != GGUF_MAGIC {
        return Err(Error::GgufBadMagic { found: magic });
    }
    let version = cur.u32(&|| "version".to_string())?;
    // A big-endian file's small version number reads as a value whose low
    // 16 bits are zero; gguf.cpp uses the same heuristic.
    if version != 0 && version & 0xFFFF == 0 {
        return Err(Error::GgufBigEndian { version });
    }
    if !(2..=3).contains(&version) {
        return Err(Error::GgufUnsupportedVersion { version });
    }
    Ok(version)
}

fn read_metadata(cur: &mut Cursor<'_>, n_kv: u64) -> Result<Metadata> {
    // check_count bounded n_kv by the file size, so this allocation is too.
    let mut entries: Vec<(String, GgufValue)> =
        Vec::with_capacity(usize::try_from(n_kv).unwrap_or(0));
    let mut seen: HashMap<String, ()> = HashMap::new();
    for index in 0..n_kv {
        let key_offset = cur.pos();
        let key = cur.string(&|| format!("key #{index}"))?;
        if key.is_empty() {
            return Err(Error::GgufEmptyKey {
                index,
                offset: key_offset,
            });
        }
        if seen.insert(key.clone(), ()).is_some() {
            return Err(Error::GgufDuplicateKey {
                key,
                offset: key_offset,
            });
        }
        let ctx = || format!("value of key '{key}'");
        let value_type = read_value_type(cur, &ctx)?;
        let value = read_value(cur, value_type, 0, &ctx)?;
        entries.push((key, value));
    }
    // Duplicates were rejected above, so this cannot fail; map it anyway.
    Metadata::from_entries(entries).map_err(|key| Error::GgufDuplicateKey {
        key,
        offset: cur.pos(),
    })
}

fn read_value_type(cur: &mut Cursor<'_>, ctx: &dyn Fn() -> String) -> Result<GgufValueType> {
    let offset = cur.pos();
    let id = cur.u32(ctx)?;
    GgufValueType::from_id(id).ok_or_else(|| Error::GgufUnknownValueType {
        type_id: id,
        offset,
        context: ctx(),
    })
}

fn read_bool(cur: &mut Cursor<'_>, ctx: &dyn Fn() -> String) -> Result<bool> {
    let offset = cur.pos();
    match cur.array::<1>(ctx)?[0] {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(Error::GgufInvalidBool {
            value,
            offset,
            context: ctx(),
        }),
    }
}

fn read_value(
    cur: &mut Cursor<'_>,
    ty: GgufValueType,
    depth: usize,
    ctx: &dyn Fn() -> String,
) -> Result<GgufValue> {
    use GgufValueType as T;
    Ok(match ty {
        T::U8 => GgufValue::U8(u8::from_le_bytes(cur.array(ctx)?)),
        T::I8 => GgufValue::I8(i8::from_le_bytes(cur.array(ctx)?)),
        T::U16 => GgufValue::U16(u16::from_le_bytes(cur.array(ctx)?)),
        T::I16 => GgufValue::I16(i16::from_le_bytes(cur.array(ctx)?)),
        T::U32 => GgufValue::U32(u32::from_le_bytes(cur.array(ctx)?)),
        T::I32 => GgufValue::I32(i32::from_le_bytes(cur.array(ctx)?)),
        T::U64 => GgufValue::U64(u64::from_le_bytes(cur.array(ctx)?)),
        T::I64 => GgufValue::I64(i64::from_le_bytes(cur.array(ctx)?)),
        T::F32 => GgufValue::F32(f32::from_le_bytes(cur.array(ctx)?)),
        T::F64 => GgufValue::F64(f64::from_le_bytes(cur.array(ctx)?)),
        T::Bool => GgufValue::Bool(read_bool(cur, ctx)?),
        T::String => GgufValue::String(cur.string(ctx)?),
        T::Array => GgufValue::Array(read_array(cur, depth, ctx)?),
    })
}

/// Decodes `count` fixed-size little-endian elements in one bounds check.
macro_rules! fixed_array {
    ($cur:expr, $count:expr, $ctx:expr, $t:ty, $variant:ident) => {{
        const SIZE: usize = std::mem::size_of::<$t>();
        let bytes = $cur.take($count.saturating_mul(SIZE as u64), $ctx)?;
        GgufArray::$variant(
            bytes
                .chunks_exact(SIZE)
                .map(|c| {
                    let mut a = [0u8; SIZE];
                    a.copy_from_slice(c);
                    <$t>::from_le_bytes(a)
                })
                .collect(),
        )
    }};
}

fn read_array(cur: &mut Cursor<'_>, depth: usize, ctx: &dyn Fn() -> String) -> Result<GgufArray> {
    if depth >= MAX_ARRAY_DEPTH {
        return Err(Error::GgufNestingTooDeep {
            max_depth: MAX_ARRAY_DEPTH,
            offset: cur.pos(),
            context: ctx(),
        });
    }
    let elem = read_value_type(cur, ctx)?;
    let count_offset = cur.pos();
    let count = cur.u64(ctx)?;
    cur.check_count(
        "array count",
        count,
        elem.min_encoded_size(),
        count_offset,
        ctx,
    )?;
    // After check_count, count <= remaining bytes, so it fits in usize.
    let n = usize::try_from(count).unwrap_or(0);
    use GgufValueType as T;
    Ok(match elem {
        T::U8 => fixed_array!(cur, count, ctx, u8, U8),
        T::I8 => fixed_array!(cur, count, ctx, i8, I8),
        T::U16 => fixed_array!(cur, count, ctx, u16, U16),
        T::I16 => fixed_array!(cur, count, ctx, i16, I16),
        T::U32 => fixed_array!(cur, count, ctx, u32, U32),
        T::I32 => fixed_array!(cur, count, ctx, i32, I32),
        T::U64 => fixed_array!(cur, count, ctx, u64, U64),
        T::I64 => fixed_array!(cur, count, ctx, i64, I64),
        T::F32 => fixed_array!(cur, count, ctx, f32, F32),
        T::F64 => fixed_array!(cur, count, ctx, f64, F64),
        T::Bool => GgufArray::Bool(collect_n(n, || read_bool(cur, ctx))?),
        T::String => GgufArray::String(collect_n(n, || cur.string(ctx))?),
        T::Array => GgufArray::Array(collect_n(n, || read_array(cur, depth + 1, ctx))?),
    })
}

fn collect_n<T>(n: usize, mut next: impl FnMut() -> Result<T>) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(next()?);
    }
    Ok(out)
}

fn alignment_of(metadata: &Metadata) -> Result<u64> {
    let alignment = match metadata.get(ALIGNMENT_KEY) {
        None => return Ok(DEFAULT_ALIGNMENT),
        // gguf.cpp accepts only u32 here; so do we, to agree on which files are valid.
        Some(GgufValue::U32(a)) => u64::from(*a),
        Some(other) => {
            return Err(Error::GgufTypeMismatch {
                key: ALIGNMENT_KEY.to_string(),
                expected: "u32",
                found: other.type_name(),
            })
        }
    };
    if !alignment.is_power_of_two() {
        return Err(Error::GgufInvalidAlignment { alignment });
    }
    Ok(alignment)
}

type TensorList = (Vec<TensorInfo>, HashMap<String, usize>);

fn read_tensor_infos(cur: &mut Cursor<'_>, n_tensors: u64) -> Result<TensorList> {
    let n = usize::try_from(n_tensors).unwrap_or(0);
    let mut tensors = Vec::with_capacity(n);
    let mut index = HashMap::with_capacity(n);
    for i in 0..n_tensors {
        let name_offset = cur.pos();
        let name = cur.string(&|| format!("name of tensor #{i}"))?;
        if index.contains_key(&name) {
            return Err(Error::GgufDuplicateTensor {
                name,
                offset: name_offset,
            });
        }
        let info = read_tensor_info(cur, name)?;
        index.insert(info.name().to_string(), tensors.len());
        tensors.push(info);
    }
    Ok((tensors, index))
}

fn read_tensor_info(cur: &mut Cursor<'_>, name: String) -> Result<TensorInfo> {
    let ctx = || format!("tensor '{name}'");
    let n_dims_offset = cur.pos();
    let n_dims = cur.u32(&ctx)?;
    if n_dims as usize > MAX_DIMS {
        return Err(Error::GgufTooManyDims {
            tensor: name,
            n_dims,
            offset: n_dims_offset,
        });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for index in 0..n_dims as usize {
        let offset = cur.pos();
        let value = cur.i64(&ctx)?;
        match u64::try_from(value) {
            Ok(d) if d > 0 => dims.push(d),
            _ => {
                return Err(Error::GgufInvalidDim {
                    tensor: name,
                    index,
                    value,
                    offset,
                })
            }
        }
    }
    let type_offset = cur.pos();
    let type_id = cur.u32(&ctx)?;
    let ggml_type = tensor_type(&name, type_id, type_offset)?;
    let offset = cur.u64(&ctx)?;
    TensorInfo::new(name, dims, ggml_type, offset)
}

fn tensor_type(name: &str, type_id: u32, offset: u64) -> Result<GgmlType> {
    match GgmlType::from_id(type_id) {
        GgmlTypeId::Known(t) => Ok(t),
        GgmlTypeId::Removed(type_name) => Err(Error::GgufRemovedTensorType {
            tensor: name.to_string(),
            type_id,
            type_name,
            offset,
        }),
        GgmlTypeId::Unknown => Err(Error::GgufUnknownTensorType {
            tensor: name.to_string(),
            type_id,
            offset,
        }),
    }
}

/// Checks alignment and bounds of each tensor's data, then that no two overlap.
fn place_tensors(
    tensors: &mut [TensorInfo],
    data_offset: u64,
    alignment: u64,
    file_size: u64,
) -> Result<()> {
    for t in tensors.iter_mut() {
        if !t.offset().is_multiple_of(alignment) {
            return Err(Error::GgufMisalignedTensor {
                tensor: t.name().to_string(),
                offset: t.offset(),
                alignment,
            });
        }
        let start = data_offset.checked_add(t.offset());
        let end = start.and_then(|s| s.checked_add(t.n_bytes()));
        match (start, end) {
            (Some(start), Some(end)) if end <= file_size => t.set_file_offset(start),
            _ => {
                return Err(Error::GgufTensorOutOfBounds {
                    tensor: t.name().to_string(),
                    start: start.unwrap_or(u64::MAX),
                    end: end.unwrap_or(u64::MAX),
                    file_size,
                })
            }
        }
    }
    let mut order: Vec<&TensorInfo> = tensors.iter().collect();
    order.sort_by_key(|t| (t.file_offset(), t.n_bytes()));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.file_range().start < a.file_range().end {
            return Err(Error::GgufOverlappingTensors {
                first: a.name().to_string(),
                first_start: a.file_range().start,
                first_end: a.file_range().end,
                second: b.name().to_string(),
                second_start: b.file_range().start,
            });
        }
    }
    Ok(())
}
