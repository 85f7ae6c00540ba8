//! Tensor descriptors of a GGUF file and the shape/size checks applied to them.

use std::ops::Range;

use super::ggml_type::GgmlType;
use crate::error::{Error, Result};

/// Most dimensions a ggml tensor can have (`GGML_MAX_DIMS`).
pub const MAX_DIMS: usize = 4;

/// One tensor of a GGUF file, validated: positive dims, whole blocks per row,
/// aligned offset, data inside the file and not overlapping other tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    name: String,
    dims: Vec<u64>,
    ggml_type: GgmlType,
    offset: u64,
    file_offset: u64,
    n_elements: u64,
    n_bytes: u64,
}

impl TensorInfo {
    /// Checks the shape against the type and computes element/byte counts.
    /// `file_offset` is filled in later by the parser once the data section
    /// position is known.
    pub(crate) fn new(
        name: String,
        dims: Vec<u64>,
        ggml_type: GgmlType,
        offset: u64,
    ) -> Result<Self> {
        let overflow = || Error::GgufShapeOverflow {
            tensor: name.clone(),
            dims: dims.clone(),
            type_name: ggml_type.name(),
        };
        let n_elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&n| n <= i64::MAX as u64)
            .ok_or_else(overflow)?;
        let row = dims.first().copied().unwrap_or(1);
        if !row.is_multiple_of(ggml_type.block_size()) {
            return Err(Error::GgufRowNotBlockMultiple {
                tensor: name,
                row,
                block_size: ggml_type.block_size(),
                type_name: ggml_type.name(),
            });
        }
        let n_bytes = ggml_type.bytes_for(n_elements).ok_or_else(overflow)?;
        Ok(Self {
            name,
            dims,
            ggml_type,
            offset,
            file_offset: 0,
            n_elements,
            n_bytes,
        })
    }

    pub(crate) fn set_file_offset(&mut self, file_offset: u64) {
        self.file_offset = file_offset;
    }

    /// Tensor name, e.g. `blk.0.attn_q.weight`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Dimensions as stored, innermost (contiguous) first: ggml's `ne[0..n_dims]`.
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// Number of stored dimensions (0..=4).
    pub fn n_dims(&self) -> usize {
        self.dims.len()
    }

    /// Dimensions padded with 1s to four entries, like ggml's `ne`.
    pub fn ne(&self) -> [u64; MAX_DIMS] {
        let mut ne = [1u64; MAX_DIMS];
        for (slot, &d) in ne.iter_mut().zip(&self.dims) {
            *slot = d;
        }
        ne
    }

    /// Element type.
    pub fn ggml_type(&self) -> GgmlType {
        self.ggml_type
    }

    /// Offset of the data relative to the start of the data section (as stored).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Absolute offset of the data in the file.
    pub fn file_offset(&self) -> u64 {
        self.file_offset
    }

    /// Absolute byte range of the data in the file.
    pub fn file_range(&self) -> Range<u64> {
        // Both values were checked against the file size when parsing.
        self.file_offset..self.file_offset.saturating_add(self.n_bytes)
    }

    /// Total number of elements.
    pub fn n_elements(&self) -> u64 {
        self.n_elements
    }

    /// Size of the data in bytes.
    pub fn n_bytes(&self) -> u64 {
        self.n_bytes
    }

    /// Bytes of one row (`ne[0]` elements).
    pub fn row_bytes(&self) -> u64 {
        let row = self.dims.first().copied().unwrap_or(1);
        // row is a whole number of blocks and row <= n_elements, so no overflow.
        row / self.ggml_type.block_size() * self.ggml_type.type_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_block_layout() {
        let t = TensorInfo::new("w".into(), vec![64, 3], GgmlType::Q8_0, 0).unwrap();
        assert_eq!(t.n_elements(), 192);
        assert_eq!(t.n_bytes(), 6 * 34);
        assert_eq!(t.row_bytes(), 2 * 34);
        assert_eq!(t.ne(), [64, 3, 1, 1]);
    }

    #[test]
    fn scalar_tensor_has_one_element() {
        let t = TensorInfo::new("s".into(), vec![], GgmlType::F32, 0).unwrap();
        assert_eq!((t.n_elements(), t.n_bytes(), t.n_dims()), (1, 4, 0));
    }

    #[test]
    fn element_count_overflow_is_an_error() {
        let err = TensorInfo::new("w".into(), vec![1 << 32, 1 << 32], GgmlType::F32, 0);
        assert!(
            matches!(err, Err(Error::GgufShapeOverflow { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn byte_count_overflow_is_an_error() {
        let err = TensorInfo::new("w".into(), vec![1 << 62], GgmlType::F64, 0);
        assert!(
            matches!(err, Err(Error::GgufShapeOverflow { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn partial_block_row_is_an_error() {
        let err = TensorInfo::new("w".into(), vec![48, 2], GgmlType::Q4_K, 0);
        match err {
            Err(Error::GgufRowNotBlockMultiple {
                tensor, block_size, ..
            }) => assert_eq!((tensor.as_str(), block_size), ("w", 256)),
            other => panic!("{other:?}"),
        }
    }
}
