//! Plain float types: F32, F16 and BF16 as little-endian element arrays.
//!
//! F16 widening is exact (`half`); BF16 widening is `bits << 16`, as `ggml_compute_bf16_to_fp32`
//! in llama.cpp `ggml/src/ggml-impl.h` and gguf-py `quants.BF16.dequantize_blocks` do it.
//! Narrowing rounds to nearest even, as `ggml_compute_fp32_to_fp16` / `ggml_compute_fp32_to_bf16`
//! do (NaN stays NaN, quiet).

use half::{bf16, f16};

/// Little-endian F32 elements.
pub(crate) fn dequantize_f32(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

/// Little-endian IEEE half elements.
pub(crate) fn dequantize_f16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32();
    }
}

/// Little-endian bfloat16 elements.
pub(crate) fn dequantize_bf16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16);
    }
}

pub(crate) fn quantize_f32(values: &[f32], out: &mut [u8]) {
    for (v, o) in values.iter().zip(out.chunks_exact_mut(4)) {
        o.copy_from_slice(&v.to_le_bytes());
    }
}

pub(crate) fn quantize_f16(values: &[f32], out: &mut [u8]) {
    for (v, o) in values.iter().zip(out.chunks_exact_mut(2)) {
        o.copy_from_slice(&f16_bits_from_f32(*v).to_le_bytes());
    }
}

pub(crate) fn quantize_bf16(values: &[f32], out: &mut [u8]) {
    for (v, o) in values.iter().zip(out.chunks_exact_mut(2)) {
        o.copy_from_slice(&bf16_bits_from_f32(*v).to_le_bytes());
    }
}

/// `f32` -> IEEE half bits, round to nearest even.
pub fn f16_bits_from_f32(v: f32) -> u16 {
    f16::from_f32(v).to_bits()
}

/// `f32` -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN).
pub fn bf16_bits_from_f32(v: f32) -> u16 {
    bf16::from_f32(v).to_bits()
}

/// C's float → integer conversion as x86-64 compiles it (`cvttss2si`): truncation toward zero,
/// and `i32::MIN` for NaN or values outside the i32 range. Narrower C targets (`int8_t`,
/// `uint8_t`) then keep the low byte. Out-of-range conversions are undefined behaviour in C;
/// they happen in ggml's reference quantisers only for blocks of subnormals, whose inverse
/// scale overflows to infinity, and this reproduces the bytes llama.cpp writes for them.
pub(crate) fn c_cast_i32(v: f32) -> i32 {
    if v.is_nan() || !(-2_147_483_648.0..2_147_483_648.0).contains(&v) {
        i32::MIN
    } else {
        v as i32
    }
}

/// `(min, max)` of a block as the `_ref` quantisers scan it (`min` from `FLT_MAX`, `max` from
/// `-FLT_MAX`, strict comparisons).
pub(crate) fn min_max(x: &[f32]) -> (f32, f32) {
    let (mut min, mut max) = (f32::MAX, -f32::MAX);
    for &v in x {
        if v < min {
            min = v;
        }
        if v > max {
            max = v;
        }
    }
    (min, max)
}

/// The signed value of largest magnitude in a block; the first one wins ties (`max` of
/// `quantize_row_q4_0_ref` / `q5_0`).
pub(crate) fn signed_absmax(x: &[f32]) -> f32 {
    let (mut amax, mut max) = (0.0f32, 0.0f32);
    for &v in x {
        if amax < v.abs() {
            amax = v.abs();
            max = v;
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_conversions_round_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and the next f16 (1 + 2^-10): ties go to even (1.0).
        assert_eq!(f16_bits_from_f32(1.0 + 2f32.powi(-11)), 0x3c00);
        // 1 + 3*2^-11 is halfway between 1+2^-10 (odd) and 1+2^-9 (even).
        assert_eq!(f16_bits_from_f32(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        // bf16 keeps 7 mantissa bits: 1 + 2^-8 ties to 1.0; 1 + 3*2^-8 ties up to 1 + 2^-6.
        assert_eq!(bf16_bits_from_f32(1.0 + 2f32.powi(-8)), 0x3f80);
        assert_eq!(bf16_bits_from_f32(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
        assert!(f32::from_bits(u32::from(bf16_bits_from_f32(f32::NAN)) << 16).is_nan());
    }

    #[test]
    fn bf16_widening_is_a_shift() {
        let mut out = [0.0f32; 2];
        dequantize_bf16(&[0x80, 0x3f, 0x00, 0xc0], &mut out);
        assert_eq!(out, [1.0, -2.0]);
    }
}
