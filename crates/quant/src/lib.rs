//! ggml block formats: bytes <-> `f32` for the tensor types stored in GGUF files.
//!
//! Layouts follow llama.cpp `ggml/src/ggml-common.h`; the dequantisers follow the scalar
//! `dequantize_row_*` functions of `ggml/src/ggml-quants.c` (same operation order, so results are
//! bit-identical to ggml's `to_float` and to gguf-py 0.19.0 `gguf.quants.dequantize`). The
//! quantisers cover the formats whose reference code is a few lines (Q8_0, Q4_0, Q4_1); they follow
//! `quantize_row_*_ref`. This crate knows nothing about tensors or burn: it maps byte slices to
//! `f32` slices, row by row.
//!
//! [`nf4`] adds QLoRA's 4-bit NormalFloat (Dettmers et al. 2023) with bitsandbytes' layout:
//! [`Nf4Tensor`] quantises a flat `f32` slice in absmax blocks, optionally double-quantising the
//! absmax values, bit-exact with bitsandbytes 0.50.2's CPU backend (`quantize_4bit` /
//! `dequantize_4bit`, `quant_type="nf4"`).

#![warn(missing_docs)]

mod error;
mod float;
mod k_quantize;
mod k_quants;
pub mod nf4;
mod nf4_double;
mod q4;
mod q5;
mod q8_0;
mod types;

use rayon::prelude::*;

pub use error::{Error, Result};
pub use float::{bf16_bits_from_f32, f16_bits_from_f32};
pub use k_quants::{QK_K, get_scale_min_k4};
pub use nf4::{
    NF4_BLOCKSIZE, NF4_CODE, NF4_DQ_BLOCKSIZE, Nf4Absmax, Nf4Tensor, dynamic_map_signed,
};
pub use types::GgmlType;

/// Element count above which [`dequantize`] splits the work over rayon's thread pool.
const PAR_THRESHOLD: usize = 1 << 16;

/// Blocks handed to one rayon task.
const BLOCKS_PER_TASK: usize = 1024;

/// Returns the types [`dequantize`] accepts.
pub fn dequantize_supported() -> &'static [GgmlType] {
    &[
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q4_K,
        GgmlType::Q5_K,
        GgmlType::Q6_K,
    ]
}

/// Block decoder: `bytes` holds whole blocks, `out` exactly `block_size` values per block.
type BlockFn = fn(&[u8], &mut [f32]);

fn block_fn(ty: GgmlType) -> Result<BlockFn> {
    Ok(match ty {
        GgmlType::F32 => float::dequantize_f32,
        GgmlType::F16 => float::dequantize_f16,
        GgmlType::BF16 => float::dequantize_bf16,
        GgmlType::Q8_0 => q8_0::dequantize,
        GgmlType::Q4_0 => q4::dequantize_q4_0,
        GgmlType::Q4_1 => q4::dequantize_q4_1,
        GgmlType::Q5_0 => q5::dequantize_q5_0,
        GgmlType::Q5_1 => q5::dequantize_q5_1,
        GgmlType::Q4_K => k_quants::dequantize_q4_k,
        GgmlType::Q5_K => k_quants::dequantize_q5_k,
        GgmlType::Q6_K => k_quants::dequantize_q6_k,
        other => {
            return Err(Error::Unsupported {
                ty: other,
                op: "dequantize",
            });
        }
    })
}

/// Checks that `n_bytes` is exactly the encoding of `n_values` elements of type `ty`.
fn check_lengths(ty: GgmlType, n_bytes: usize, n_values: usize) -> Result<()> {
    let expected = ty.row_bytes(n_values)?;
    if n_bytes != expected {
        return Err(Error::LengthMismatch {
            ty,
            n_values,
            expected_bytes: expected,
            actual_bytes: n_bytes,
        });
    }
    Ok(())
}

/// Decodes `bytes` (whole blocks of type `ty`) into `out`, whose length sets the element count.
///
/// Large inputs are split by blocks over rayon; the result does not depend on the split because
/// every block is decoded independently.
///
/// # Errors
/// [`Error::PartialBlock`] when `out.len()` is not a multiple of the block size,
/// [`Error::LengthMismatch`] when `bytes` is not exactly `row_bytes(out.len())` long and
/// [`Error::Unsupported`] for types without a dequantiser here.
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<()> {
    let f = block_fn(ty)?;
    check_lengths(ty, bytes.len(), out.len())?;
    let (block, size) = (ty.block_size(), ty.type_size());
    if out.len() < PAR_THRESHOLD {
        f(bytes, out);
        return Ok(());
    }
    out.par_chunks_mut(block * BLOCKS_PER_TASK)
        .zip(bytes.par_chunks(size * BLOCKS_PER_TASK))
        .for_each(|(o, b)| f(b, o));
    Ok(())
}

/// Decodes `bytes` into a new vector of `n_values` elements; see [`dequantize`].
pub fn dequantize_to_vec(ty: GgmlType, bytes: &[u8], n_values: usize) -> Result<Vec<f32>> {
    // Validate before allocating, so a hostile `n_values` cannot trigger a huge allocation.
    block_fn(ty)?;
    check_lengths(ty, bytes.len(), n_values)?;
    let mut out = vec![0.0f32; n_values];
    dequantize(ty, bytes, &mut out)?;
    Ok(out)
}

/// Encodes `values` as whole blocks of type `ty` into `out` (`ty.row_bytes(values.len())` bytes).
///
/// Supported: F32, F16, BF16 (round to nearest even), Q8_0 (`roundf`, ties away from zero),
/// Q4_0, Q4_1, Q5_0 and Q5_1 (truncation after `+ 8.5` / `+ 16.5` / `+ 0.5`), and the k-quants
/// Q4_K, Q5_K and Q6_K, each as llama.cpp's `_ref` code does it (byte-identical on x86-64).
///
/// # Errors
/// As [`dequantize`], with the lengths checked the other way round.
pub fn quantize(ty: GgmlType, values: &[f32], out: &mut [u8]) -> Result<()> {
    let f: fn(&[f32], &mut [u8]) = match ty {
        GgmlType::F32 => float::quantize_f32,
        GgmlType::F16 => float::quantize_f16,
        GgmlType::BF16 => float::quantize_bf16,
        GgmlType::Q8_0 => q8_0::quantize,
        GgmlType::Q4_0 => q4::quantize_q4_0,
        GgmlType::Q4_1 => q4::quantize_q4_1,
        GgmlType::Q5_0 => q5::quantize_q5_0,
        GgmlType::Q5_1 => q5::quantize_q5_1,
        GgmlType::Q4_K => k_quantize::quantize_q4_k,
        GgmlType::Q5_K => k_quantize::quantize_q5_k,
        GgmlType::Q6_K => k_quantize::quantize_q6_k,
        other => {
            return Err(Error::Unsupported {
                ty: other,
                op: "quantize",
            });
        }
    };
    check_lengths(ty, out.len(), values.len())?;
    let (block, size) = (ty.block_size(), ty.type_size());
    if values.len() < PAR_THRESHOLD {
        f(values, out);
        return Ok(());
    }
    out.par_chunks_mut(size * BLOCKS_PER_TASK)
        .zip(values.par_chunks(block * BLOCKS_PER_TASK))
        .for_each(|(o, v)| f(v, o));
    Ok(())
}

/// Encodes `values` into a new byte vector; see [`quantize`].
pub fn quantize_to_vec(ty: GgmlType, values: &[f32]) -> Result<Vec<u8>> {
    let n_bytes = ty.row_bytes(values.len())?;
    let mut out = vec![0u8; n_bytes];
    quantize(ty, values, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_lengths_are_errors() {
        let mut out = vec![0.0; 32];
        let err = dequantize(GgmlType::Q8_0, &[0u8; 33], &mut out).unwrap_err();
        assert!(matches!(
            err,
            Error::LengthMismatch {
                expected_bytes: 34,
                actual_bytes: 33,
                ..
            }
        ));
        let mut out = vec![0.0; 31];
        let err = dequantize(GgmlType::Q8_0, &[0u8; 34], &mut out).unwrap_err();
        assert!(matches!(
            err,
            Error::PartialBlock {
                n_values: 31,
                block_size: 32,
                ..
            }
        ));
        let err = dequantize(GgmlType::IQ2_XXS, &[0u8; 66], &mut vec![0.0; 256]).unwrap_err();
        assert_eq!(err.to_string(), "dequantize is not supported for IQ2_XXS");
    }

    #[test]
    fn parallel_split_matches_scalar_path() {
        // 3000 blocks: larger than PAR_THRESHOLD and not a multiple of BLOCKS_PER_TASK.
        let n_blocks = 3000;
        let mut bytes = vec![0u8; n_blocks * 34];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for (i, b) in bytes.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Keep the f16 scale finite: clear bit 6 of the high byte of d (exponent < 31).
            *b = if i % 34 == 1 {
                (state as u8) & 0xbf
            } else {
                state as u8
            };
        }
        let par = dequantize_to_vec(GgmlType::Q8_0, &bytes, n_blocks * 32).unwrap();
        let mut scalar = vec![0.0f32; n_blocks * 32];
        q8_0::dequantize(&bytes, &mut scalar);
        assert_eq!(
            par.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            scalar.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
