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
    /// NF4: a block size the format does not take.
    #[error("nf4: {what} {blocksize} is not supported; bitsandbytes accepts {accepted}")]
    Nf4Blocksize {
        /// Which block size (`"blocksize"` or `"double-quantisation blocksize"`).
        what: &'static str,
        /// The size given.
        blocksize: usize,
        /// The sizes accepted.
        accepted: &'static str,
    },
    /// NF4: nothing to quantise.
    #[error("nf4: cannot quantise an empty tensor")]
    Nf4Empty,
    /// NF4: a buffer does not have the length the element count implies.
    #[error(
        "nf4 tensor of {numel} values (blocksize {blocksize}): {what} has {actual} entries, \
         expected {expected}"
    )]
    Nf4Length {
        /// Which buffer (`"packed codes"`, `"absmax"`, `"absmax codes"`, `"absmax scales"`,
        /// `"output buffer"`).
        what: &'static str,
        /// Element count of the tensor.
        numel: usize,
        /// Elements per absmax block.
        blocksize: usize,
        /// Entries the buffer needs.
        expected: usize,
        /// Entries it has.
        actual: usize,
    },
}
