//! Q8_0: blocks of 32 values as one f16 scale `d` and 32 signed bytes, `x = d * q`.
//!
//! Layout: `block_q8_0` in llama.cpp `ggml/src/ggml-common.h`. Dequantiser:
//! `dequantize_row_q8_0`; quantiser: `quantize_row_q8_0_ref` (`ggml/src/ggml-quants.c`), whose
//! `roundf` rounds ties away from zero, as [`f32::round`] does.

use half::f16;

/// Elements per block.
pub(crate) const QK8_0: usize = 32;
/// Bytes per block.
const BLOCK_BYTES: usize = 2 + QK8_0;

pub(crate) fn dequantize(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(BLOCK_BYTES)
        .zip(out.chunks_exact_mut(QK8_0))
    {
        let d = f16::from_bits(u16::from_le_bytes([block[0], block[1]])).to_f32();
        for (y, &q) in y.iter_mut().zip(&block[2..]) {
            *y = f32::from(q as i8) * d;
        }
    }
}

pub(crate) fn quantize(values: &[f32], out: &mut [u8]) {
    for (x, block) in values
        .chunks_exact(QK8_0)
        .zip(out.chunks_exact_mut(BLOCK_BYTES))
    {
        let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block[..2].copy_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
        for (q, &v) in block[2..].iter_mut().zip(x) {
            // `y.qs[j] = roundf(x * id)` into an int8_t (see `c_cast_i32`).
            *q = crate::float::c_cast_i32((v * id).round()) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_a_hand_made_block() {
        // amax = 127 gives d = 1 exactly, so every integer value survives unchanged, and the
        // halves 2.5 / -2.5 show the ties-away-from-zero rounding of roundf.
        let mut x = [0.0f32; 32];
        x[0] = 127.0;
        x[1] = -3.0;
        x[2] = 2.5;
        x[3] = -2.5;
        let mut b = [0u8; 34];
        quantize(&x, &mut b);
        assert_eq!(&b[..2], &0x3c00u16.to_le_bytes());
        assert_eq!(b[2..6], [127, (-3i8) as u8, 3, (-3i8) as u8]);
        let mut y = [0.0f32; 32];
        dequantize(&b, &mut y);
        assert_eq!(&y[..4], &[127.0, -3.0, 3.0, -3.0]);
    }
}
