//! The error type of `cogumi-quant`.

use crate::types::GgmlType;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong turning bytes into values or back.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The element count does not fill whole blocks.
    #[error("{ty}: {n_values} values are not a whole number of {block_size}-element blocks")]
    PartialBlock {
        /// Block type.
        ty: GgmlType,
        /// Requested element count.
        n_values: usize,
        /// Elements per block of `ty`.
        block_size: usize,
    },
    /// The byte buffer does not hold exactly the blocks the element count needs.
    #[error("{ty}: {n_values} values need {expected_bytes} bytes, got {actual_bytes}")]
    LengthMismatch {
        /// Block type.
        ty: GgmlType,
        /// Element count.
        n_values: usize,
        /// Bytes `n_values` take in `ty`.
        expected_bytes: usize,
        /// Bytes given.
        actual_bytes: usize,
    },
    /// The byte count of `n_values` elements does not fit in `usize`.
    #[error("{ty}: byte size of {n_values} values overflows")]
    Overflow {
        /// Block type.
        ty: GgmlType,
        /// Element count.
        n_values: usize,
    },
    /// The type has no implementation of the operation in this crate.
    #[error("{op} is not supported for {ty}")]
    Unsupported {
        /// Block type.
        ty: GgmlType,
        /// `"dequantize"` or `"quantize"`.
        op: &'static str,
    },
}
