//! Q4_0 and Q4_1: blocks of 32 values stored as 4-bit codes.
//!
//! Layouts: `block_q4_0` (`d` f16, `qs[16]`) and `block_q4_1` (`d` f16, `m` f16, `qs[16]`) in
//! llama.cpp `ggml/src/ggml-common.h`. Byte `j` holds element `j` in its low nibble and element
//! `j + 16` in its high nibble. Q4_0 decodes `x = (q - 8) * d`, Q4_1 decodes `x = q * d + m`
//! (`dequantize_row_q4_0` / `dequantize_row_q4_1`); the quantisers follow `quantize_row_q4_0_ref`
//! and `quantize_row_q4_1_ref` in `ggml/src/ggml-quants.c`.

use half::f16;

/// Elements per block.
const QK4: usize = 32;
const Q4_0_BYTES: usize = 2 + QK4 / 2;
const Q4_1_BYTES: usize = 4 + QK4 / 2;

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

pub(crate) fn dequantize_q4_0(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q4_0_BYTES)
        .zip(out.chunks_exact_mut(QK4))
    {
        let d = f16_at(block, 0);
        let (lo, hi) = y.split_at_mut(QK4 / 2);
        for ((&q, a), b) in block[2..].iter().zip(lo).zip(hi) {
            *a = ((q & 0x0f) as i32 - 8) as f32 * d;
            *b = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}

pub(crate) fn dequantize_q4_1(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q4_1_BYTES)
        .zip(out.chunks_exact_mut(QK4))
    {
        let d = f16_at(block, 0);
        let m = f16_at(block, 2);
        let (lo, hi) = y.split_at_mut(QK4 / 2);
        for ((&q, a), b) in block[4..].iter().zip(lo).zip(hi) {
            *a = f32::from(q & 0x0f) * d + m;
            *b = f32::from(q >> 4) * d + m;
        }
    }
}

/// `MIN(15, (int8_t)v)` stored into a uint8_t, as C on x86-64 computes it (`c_cast_i32`).
fn code(v: f32) -> u8 {
    (crate::float::c_cast_i32(v) as i8).min(15) as u8
}

pub(crate) fn quantize_q4_0(values: &[f32], out: &mut [u8]) {
    for (x, block) in values
        .chunks_exact(QK4)
        .zip(out.chunks_exact_mut(Q4_0_BYTES))
    {
        // The signed value of largest magnitude; the first one wins ties.
        let max = crate::float::signed_absmax(x);
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block[..2].copy_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
        for j in 0..QK4 / 2 {
            let lo = code(x[j] * id + 8.5);
            let hi = code(x[j + QK4 / 2] * id + 8.5);
            block[2 + j] = lo | (hi << 4);
        }
    }
}

pub(crate) fn quantize_q4_1(values: &[f32], out: &mut [u8]) {
    for (x, block) in values
        .chunks_exact(QK4)
        .zip(out.chunks_exact_mut(Q4_1_BYTES))
    {
        let (min, max) = crate::float::min_max(x);
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block[..2].copy_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
        block[2..4].copy_from_slice(&f16::from_f32(min).to_bits().to_le_bytes());
        for j in 0..QK4 / 2 {
            let lo = code((x[j] - min) * id + 0.5);
            let hi = code((x[j + QK4 / 2] - min) * id + 0.5);
            block[4 + j] = lo | (hi << 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_0_nibble_order_and_offset() {
        // d = 1.0; byte 0 = 0x9f: element 0 gets 0xf - 8 = 7, element 16 gets 0x9 - 8 = 1.
        let mut b = [0x88u8; 18];
        b[..2].copy_from_slice(&0x3c00u16.to_le_bytes());
        b[2] = 0x9f;
        let mut y = [0.0f32; 32];
        dequantize_q4_0(&b, &mut y);
        assert_eq!((y[0], y[16], y[1]), (7.0, 1.0, 0.0));
    }

    #[test]
    fn q4_1_hand_made_block() {
        // Values 0..15 then 15..0 with min 0, max 15: d = 1, m = 0, codes are the values.
        let x: Vec<f32> = (0..16).chain((0..16).rev()).map(|v| v as f32).collect();
        let mut b = [0u8; 20];
        quantize_q4_1(&x, &mut b);
        assert_eq!(&b[..4], &[0x00, 0x3c, 0x00, 0x00]);
        assert_eq!(b[4], 0xf0);
        let mut y = [0.0f32; 32];
        dequantize_q4_1(&b, &mut y);
        assert_eq!(y.to_vec(), x);
    }
}
