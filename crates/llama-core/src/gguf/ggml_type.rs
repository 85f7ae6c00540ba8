//! The ggml tensor type table (ids, block sizes, byte sizes) as in ggml 0.25.3's `ggml.h`/`ggml.c`.

use std::fmt;

/// Tensor element type of a GGUF tensor; discriminants are the on-disk ids and
/// variant names follow ggml's `GGML_TYPE_*` spelling.
///
/// Ids removed from ggml (4, 5, 31, 32, 33, 36, 37, 38) have no variant: see
/// [`GgmlTypeId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
    MXFP4 = 39,
    NVFP4 = 40,
    Q1_0 = 41,
    Q2_0 = 42,
}

/// Outcome of decoding an on-disk ggml type id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlTypeId {
    Known(GgmlType),
    /// An id that ggml once used and has since dropped; carries its old name.
    Removed(&'static str),
    Unknown,
}

const QK_K: u64 = 256;

/// (type, name, block size, bytes per block). Sizes follow the
/// `static_assert`s in ggml-common.h with QK_K = 256 and a 2-byte ggml_half.
const TABLE: [(GgmlType, &str, u64, u64); 35] = [
    (GgmlType::F32, "f32", 1, 4),
    (GgmlType::F16, "f16", 1, 2),
    (GgmlType::Q4_0, "q4_0", 32, 2 + 16),
    (GgmlType::Q4_1, "q4_1", 32, 4 + 16),
    (GgmlType::Q5_0, "q5_0", 32, 2 + 4 + 16),
    (GgmlType::Q5_1, "q5_1", 32, 4 + 4 + 16),
    (GgmlType::Q8_0, "q8_0", 32, 2 + 32),
    (GgmlType::Q8_1, "q8_1", 32, 4 + 32),
    (GgmlType::Q2_K, "q2_K", QK_K, 4 + QK_K / 16 + QK_K / 4),
    (GgmlType::Q3_K, "q3_K", QK_K, 2 + QK_K / 4 + QK_K / 8 + 12),
    (GgmlType::Q4_K, "q4_K", QK_K, 4 + 12 + QK_K / 2),
    (GgmlType::Q5_K, "q5_K", QK_K, 4 + 12 + QK_K / 2 + QK_K / 8),
    (GgmlType::Q6_K, "q6_K", QK_K, 2 + QK_K / 16 + 3 * QK_K / 4),
    (GgmlType::Q8_K, "q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2),
    (GgmlType::IQ2_XXS, "iq2_xxs", QK_K, 2 + QK_K / 8 * 2),
    (
        GgmlType::IQ2_XS,
        "iq2_xs",
        QK_K,
        2 + QK_K / 8 * 2 + QK_K / 32,
    ),
    (GgmlType::IQ3_XXS, "iq3_xxs", QK_K, 2 + 3 * (QK_K / 8)),
    (GgmlType::IQ1_S, "iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 16),
    (GgmlType::IQ4_NL, "iq4_nl", 32, 2 + 16),
    (
        GgmlType::IQ3_S,
        "iq3_s",
        QK_K,
        2 + 13 * (QK_K / 32) + QK_K / 64,
    ),
    (GgmlType::IQ2_S, "iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 16),
    (
        GgmlType::IQ4_XS,
        "iq4_xs",
        QK_K,
        2 + 2 + QK_K / 64 + QK_K / 2,
    ),
    (GgmlType::I8, "i8", 1, 1),
    (GgmlType::I16, "i16", 1, 2),
    (GgmlType::I32, "i32", 1, 4),
    (GgmlType::I64, "i64", 1, 8),
    (GgmlType::F64, "f64", 1, 8),
    (
        GgmlType::IQ1_M,
        "iq1_m",
        QK_K,
        QK_K / 8 + QK_K / 16 + QK_K / 32,
    ),
    (GgmlType::BF16, "bf16", 1, 2),
    (
        GgmlType::TQ1_0,
        "tq1_0",
        QK_K,
        2 + QK_K / 64 + (QK_K - 4 * QK_K / 64) / 5,
    ),
    (GgmlType::TQ2_0, "tq2_0", QK_K, 2 + QK_K / 4),
    (GgmlType::MXFP4, "mxfp4", 32, 1 + 16),
    (GgmlType::NVFP4, "nvfp4", 64, 64 / 16 + 64 / 2),
    (GgmlType::Q1_0, "q1_0", 128, 2 + 128 / 8),
    (GgmlType::Q2_0, "q2_0", 64, 2 + 64 / 4),
];

impl GgmlType {
    /// Every supported type, in id order.
    pub const ALL: [GgmlType; 35] = {
        let mut all = [GgmlType::F32; 35];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].0;
            i += 1;
        }
        all
    };

    /// Decodes an on-disk id, distinguishing removed ids from never-used ones.
    pub fn from_id(id: u32) -> GgmlTypeId {
        if let Some(entry) = TABLE.iter().find(|e| e.0 as u32 == id) {
            return GgmlTypeId::Known(entry.0);
        }
        match id {
            4 => GgmlTypeId::Removed("Q4_2"),
            5 => GgmlTypeId::Removed("Q4_3"),
            31 => GgmlTypeId::Removed("Q4_0_4_4"),
            32 => GgmlTypeId::Removed("Q4_0_4_8"),
            33 => GgmlTypeId::Removed("Q4_0_8_8"),
            36 => GgmlTypeId::Removed("IQ4_NL_4_4"),
            37 => GgmlTypeId::Removed("IQ4_NL_4_8"),
            38 => GgmlTypeId::Removed("IQ4_NL_8_8"),
            _ => GgmlTypeId::Unknown,
        }
    }

    /// The on-disk id.
    pub fn id(self) -> u32 {
        self as u32
    }

    fn entry(self) -> &'static (GgmlType, &'static str, u64, u64) {
        // TABLE is in id order and covers every variant, so the search always hits;
        // the fallback only exists to stay panic-free.
        TABLE.iter().find(|e| e.0 == self).unwrap_or(&TABLE[0])
    }

    /// ggml's lower-case type name (`"q8_0"`, `"q4_K"`, ...).
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Number of elements in one block (1 for plain scalar types).
    pub fn block_size(self) -> u64 {
        self.entry().2
    }

    /// Bytes used by one block.
    pub fn type_size(self) -> u64 {
        self.entry().3
    }

    /// True for block-quantized types (block size > 1).
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Bytes needed by `n_elements` elements, or `None` if `n_elements` is not
    /// a whole number of blocks or the size overflows.
    pub fn bytes_for(self, n_elements: u64) -> Option<u64> {
        if !n_elements.is_multiple_of(self.block_size()) {
            return None;
        }
        (n_elements / self.block_size()).checked_mul(self.type_size())
    }
}

impl fmt::Display for GgmlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_from_id() {
        for t in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(t.id()), GgmlTypeId::Known(t));
        }
    }

    #[test]
    fn table_is_in_strictly_increasing_id_order() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].0.id() < pair[1].0.id(), "{:?}", pair[1].0);
        }
    }

    #[test]
    fn removed_ids_are_reported_as_removed() {
        for id in [4, 5, 31, 32, 33, 36, 37, 38] {
            assert!(
                matches!(GgmlType::from_id(id), GgmlTypeId::Removed(_)),
                "{id}"
            );
        }
    }

    #[test]
    fn ids_past_the_table_are_unknown() {
        for id in [43, 44, 1000, u32::MAX] {
            assert_eq!(GgmlType::from_id(id), GgmlTypeId::Unknown);
        }
    }

    #[test]
    fn every_id_below_count_is_known_or_removed() {
        for id in 0..43 {
            assert_ne!(GgmlType::from_id(id), GgmlTypeId::Unknown, "{id}");
        }
    }

    #[test]
    fn sizes_match_ggml_common_static_asserts() {
        // Values copied from the sizeof(block_*) of ggml-common.h, computed by hand.
        let expected = [
            (GgmlType::Q4_0, 32, 18),
            (GgmlType::Q4_1, 32, 20),
            (GgmlType::Q5_0, 32, 22),
            (GgmlType::Q5_1, 32, 24),
            (GgmlType::Q8_0, 32, 34),
            (GgmlType::Q8_1, 32, 36),
            (GgmlType::Q2_K, 256, 84),
            (GgmlType::Q3_K, 256, 110),
            (GgmlType::Q4_K, 256, 144),
            (GgmlType::Q5_K, 256, 176),
            (GgmlType::Q6_K, 256, 210),
            (GgmlType::Q8_K, 256, 292),
            (GgmlType::IQ2_XXS, 256, 66),
            (GgmlType::IQ2_XS, 256, 74),
            (GgmlType::IQ3_XXS, 256, 98),
            (GgmlType::IQ1_S, 256, 50),
            (GgmlType::IQ4_NL, 32, 18),
            (GgmlType::IQ3_S, 256, 110),
            (GgmlType::IQ2_S, 256, 82),
            (GgmlType::IQ4_XS, 256, 136),
            (GgmlType::IQ1_M, 256, 56),
            (GgmlType::TQ1_0, 256, 54),
            (GgmlType::TQ2_0, 256, 66),
            (GgmlType::MXFP4, 32, 17),
            (GgmlType::NVFP4, 64, 36),
            (GgmlType::Q1_0, 128, 18),
            (GgmlType::Q2_0, 64, 18),
            (GgmlType::BF16, 1, 2),
            (GgmlType::F64, 1, 8),
        ];
        for (t, block, size) in expected {
            assert_eq!((t.block_size(), t.type_size()), (block, size), "{t}");
        }
    }

    #[test]
    fn bytes_for_rejects_partial_blocks_and_overflow() {
        assert_eq!(GgmlType::Q8_0.bytes_for(64), Some(68));
        assert_eq!(GgmlType::Q8_0.bytes_for(33), None);
        assert_eq!(GgmlType::F64.bytes_for(u64::MAX), None);
    }

    #[test]
    fn names_follow_ggml_spelling() {
        assert_eq!(GgmlType::Q4_K.name(), "q4_K");
        assert_eq!(GgmlType::BF16.to_string(), "bf16");
        assert!(!GgmlType::F32.is_quantized());
        assert!(GgmlType::Q4_1.is_quantized());
    }
}
