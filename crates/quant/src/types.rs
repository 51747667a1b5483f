//! The `ggml_type` table: ids, block sizes and block byte sizes.
//!
//! Ids follow `enum ggml_type` in llama.cpp `ggml/include/ggml.h` (gguf-py `GGMLQuantizationType`);
//! block and byte sizes follow the block structs of `ggml/src/ggml-common.h` (gguf-py
//! `GGML_QUANT_SIZES`, except Q8_1, whose gguf-py entry says 40 bytes where ggml's static assert
//! says `2*sizeof(ggml_half) + 32` = 36).

use std::fmt;

use crate::error::{Error, Result};

/// A tensor element type as GGUF tensor infos name it (`ggml_type`).
#[allow(non_camel_case_types, missing_docs)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
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
}

/// `(type, name, elements per block, bytes per block)`.
const TABLE: &[(GgmlType, &str, usize, usize)] = &[
    (GgmlType::F32, "F32", 1, 4),
    (GgmlType::F16, "F16", 1, 2),
    (GgmlType::Q4_0, "Q4_0", 32, 2 + 16),
    (GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16),
    (GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16),
    (GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16),
    (GgmlType::Q8_0, "Q8_0", 32, 2 + 32),
    (GgmlType::Q8_1, "Q8_1", 32, 2 + 2 + 32),
    (GgmlType::Q2_K, "Q2_K", 256, 2 + 2 + 16 + 64),
    (GgmlType::Q3_K, "Q3_K", 256, 2 + 64 + 32 + 12),
    (GgmlType::Q4_K, "Q4_K", 256, 2 + 2 + 12 + 128),
    (GgmlType::Q5_K, "Q5_K", 256, 2 + 2 + 12 + 32 + 128),
    (GgmlType::Q6_K, "Q6_K", 256, 128 + 64 + 16 + 2),
    (GgmlType::Q8_K, "Q8_K", 256, 4 + 256 + 32),
    (GgmlType::IQ2_XXS, "IQ2_XXS", 256, 2 + 64),
    (GgmlType::IQ2_XS, "IQ2_XS", 256, 2 + 64 + 8),
    (GgmlType::IQ3_XXS, "IQ3_XXS", 256, 2 + 64 + 32),
    (GgmlType::IQ1_S, "IQ1_S", 256, 2 + 32 + 16),
    (GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16),
    (GgmlType::IQ3_S, "IQ3_S", 256, 2 + 64 + 32 + 8 + 4),
    (GgmlType::IQ2_S, "IQ2_S", 256, 2 + 64 + 16),
    (GgmlType::IQ4_XS, "IQ4_XS", 256, 2 + 2 + 128 + 4),
    (GgmlType::I8, "I8", 1, 1),
    (GgmlType::I16, "I16", 1, 2),
    (GgmlType::I32, "I32", 1, 4),
    (GgmlType::I64, "I64", 1, 8),
    (GgmlType::F64, "F64", 1, 8),
    (GgmlType::IQ1_M, "IQ1_M", 256, 32 + 16 + 8),
    (GgmlType::BF16, "BF16", 1, 2),
    (GgmlType::TQ1_0, "TQ1_0", 256, 2 + 4 * 13),
    (GgmlType::TQ2_0, "TQ2_0", 256, 2 + 64),
    (GgmlType::MXFP4, "MXFP4", 32, 1 + 16),
    (GgmlType::NVFP4, "NVFP4", 64, 4 + 32),
    (GgmlType::Q1_0, "Q1_0", 128, 2 + 16),
];

impl GgmlType {
    fn entry(self) -> &'static (GgmlType, &'static str, usize, usize) {
        // Every variant has exactly one row; the table test below keeps it that way.
        TABLE.iter().find(|e| e.0 == self).unwrap_or(&TABLE[0])
    }

    /// Looks up a `ggml_type` id; `None` for ids ggml does not define (or no longer defines).
    pub fn from_id(id: u32) -> Option<Self> {
        TABLE.iter().find(|e| e.0 as u32 == id).map(|e| e.0)
    }

    /// Looks up a type by its ggml name (`"Q4_K"`, `"BF16"`, ...), case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        TABLE
            .iter()
            .find(|e| e.1.eq_ignore_ascii_case(name))
            .map(|e| e.0)
    }

    /// The ggml id stored in GGUF tensor infos.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// The ggml name (`ggml_type_name`).
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// Elements per block (1 for plain float and integer types).
    pub fn block_size(self) -> usize {
        self.entry().2
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.entry().3
    }

    /// Whether the type is block-quantised (block size above 1).
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }

    /// Bytes taken by `n` consecutive elements (`ggml_row_size`).
    ///
    /// # Errors
    /// [`Error::PartialBlock`] when `n` is not a multiple of the block size and
    /// [`Error::Overflow`] when the byte count does not fit in `usize`.
    pub fn row_bytes(self, n: usize) -> Result<usize> {
        let block = self.block_size();
        if !n.is_multiple_of(block) {
            return Err(Error::PartialBlock {
                ty: self,
                n_values: n,
                block_size: block,
            });
        }
        (n / block)
            .checked_mul(self.type_size())
            .ok_or(Error::Overflow {
                ty: self,
                n_values: n,
            })
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
    fn table_is_consistent() {
        for (i, e) in TABLE.iter().enumerate() {
            assert_eq!(GgmlType::from_id(e.0 as u32), Some(e.0));
            assert_eq!(GgmlType::from_name(e.1), Some(e.0));
            assert!(
                TABLE[i + 1..].iter().all(|o| o.0 != e.0 && o.1 != e.1),
                "duplicate row {}",
                e.1
            );
        }
        // Sizes that gguf.md and ggml-common.h state explicitly.
        assert_eq!(
            (GgmlType::Q8_0.block_size(), GgmlType::Q8_0.type_size()),
            (32, 34)
        );
        assert_eq!(
            (GgmlType::Q4_K.block_size(), GgmlType::Q4_K.type_size()),
            (256, 144)
        );
        assert_eq!(
            (GgmlType::Q5_K.block_size(), GgmlType::Q5_K.type_size()),
            (256, 176)
        );
        assert_eq!(
            (GgmlType::Q6_K.block_size(), GgmlType::Q6_K.type_size()),
            (256, 210)
        );
        assert_eq!(
            (GgmlType::Q8_K.block_size(), GgmlType::Q8_K.type_size()),
            (256, 292)
        );
        assert_eq!(GgmlType::Q4_1.type_size(), 20);
        assert_eq!(GgmlType::BF16.id(), 30);
        assert_eq!(GgmlType::from_id(4), None);
        assert_eq!(GgmlType::from_id(31), None);
    }

    #[test]
    fn row_bytes_checks_blocks_and_overflow() {
        assert_eq!(GgmlType::Q4_1.row_bytes(576).unwrap(), 18 * 20);
        assert_eq!(GgmlType::F32.row_bytes(3).unwrap(), 12);
        assert!(matches!(
            GgmlType::Q6_K.row_bytes(576),
            Err(Error::PartialBlock { .. })
        ));
        assert!(matches!(
            GgmlType::F64.row_bytes(usize::MAX),
            Err(Error::Overflow { .. })
        ));
    }
}
