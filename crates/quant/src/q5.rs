//! Q5_0 and Q5_1: blocks of 32 values stored as 5-bit codes (four low bits in `qs`, the fifth in
//! a 32-bit `qh` mask).
//!
//! Layouts: `block_q5_0` (`d` f16, `qh[4]`, `qs[16]`) and `block_q5_1` (`d` f16, `m` f16, `qh[4]`,
//! `qs[16]`) in llama.cpp `ggml/src/ggml-common.h`. Byte `j` of `qs` holds element `j` in its low
//! nibble and element `j + 16` in its high nibble; bit `j` of `qh` is bit 4 of element `j`.
//! Q5_0 decodes `x = (q - 16) * d`, Q5_1 `x = q * d + m` (`dequantize_row_q5_0` / `_q5_1`); the
//! quantisers follow `quantize_row_q5_0_ref` / `quantize_row_q5_1_ref` in `ggml/src/ggml-quants.c`.
//! They matter because llama-quantize falls back to them when a row length is not a multiple
//! of 256 (Q4_K → Q5_0, Q5_K → Q5_1; gguf.md §3), as in SmolLM2-135M's 576-wide matrices.

use half::f16;

/// Elements per block.
const QK5: usize = 32;
const Q5_0_BYTES: usize = 2 + 4 + QK5 / 2;
const Q5_1_BYTES: usize = 2 + 2 + 4 + QK5 / 2;

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

/// Decodes the 32 five-bit codes of a block from `qh` (4 bytes) and `qs` (16 bytes).
fn codes(qh: &[u8], qs: &[u8]) -> [u8; QK5] {
    let h = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let mut q = [0u8; QK5];
    for j in 0..QK5 / 2 {
        q[j] = (qs[j] & 0x0f) | ((((h >> j) & 1) as u8) << 4);
        q[j + QK5 / 2] = (qs[j] >> 4) | ((((h >> (j + QK5 / 2)) & 1) as u8) << 4);
    }
    q
}

/// Packs 32 five-bit codes into `qh` (4 bytes) and `qs` (16 bytes).
fn pack(q: &[u8; QK5], qh: &mut [u8], qs: &mut [u8]) {
    let mut h = 0u32;
    for j in 0..QK5 / 2 {
        let (a, b) = (q[j], q[j + QK5 / 2]);
        qs[j] = (a & 0x0f) | ((b & 0x0f) << 4);
        h |= u32::from((a & 0x10) >> 4) << j;
        h |= u32::from((b & 0x10) >> 4) << (j + QK5 / 2);
    }
    qh.copy_from_slice(&h.to_le_bytes());
}

pub(crate) fn dequantize_q5_0(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q5_0_BYTES)
        .zip(out.chunks_exact_mut(QK5))
    {
        let d = f16_at(block, 0);
        let q = codes(&block[2..6], &block[6..]);
        for (y, &q) in y.iter_mut().zip(&q) {
            *y = (i32::from(q) - 16) as f32 * d;
        }
    }
}

pub(crate) fn dequantize_q5_1(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q5_1_BYTES)
        .zip(out.chunks_exact_mut(QK5))
    {
        let d = f16_at(block, 0);
        let m = f16_at(block, 2);
        let q = codes(&block[4..8], &block[8..]);
        for (y, &q) in y.iter_mut().zip(&q) {
            *y = f32::from(q) * d + m;
        }
    }
}

pub(crate) fn quantize_q5_0(values: &[f32], out: &mut [u8]) {
    for (x, block) in values
        .chunks_exact(QK5)
        .zip(out.chunks_exact_mut(Q5_0_BYTES))
    {
        // The signed value of largest magnitude; the first one wins ties.
        let max = crate::float::signed_absmax(x);
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block[..2].copy_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
        let mut q = [0u8; QK5];
        for (q, &v) in q.iter_mut().zip(x) {
            // C: `MIN(31, (int8_t)(x*id + 16.5f))` stored in a uint8_t (wraps if negative).
            *q = (crate::float::c_cast_i32(v * id + 16.5) as i8).min(31) as u8;
        }
        let (qh, qs) = block[2..].split_at_mut(4);
        pack(&q, qh, qs);
    }
}

pub(crate) fn quantize_q5_1(values: &[f32], out: &mut [u8]) {
    for (x, block) in values
        .chunks_exact(QK5)
        .zip(out.chunks_exact_mut(Q5_1_BYTES))
    {
        let (min, max) = crate::float::min_max(x);
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block[..2].copy_from_slice(&f16::from_f32(d).to_bits().to_le_bytes());
        block[2..4].copy_from_slice(&f16::from_f32(min).to_bits().to_le_bytes());
        let mut q = [0u8; QK5];
        for (q, &v) in q.iter_mut().zip(x) {
            // C: `(uint8_t)((x - min)*id + 0.5f)`, truncation toward zero.
            *q = crate::float::c_cast_i32((v - min) * id + 0.5) as u8;
        }
        let (qh, qs) = block[4..].split_at_mut(4);
        pack(&q, qh, qs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q5_0_hand_made_block() {
        // max = -16 (largest magnitude) gives d = 1: codes are x + 16, so 15 -> 31 and -16 -> 0.
        let mut x = [0.0f32; 32];
        x[0] = -16.0;
        x[1] = 15.0;
        x[17] = 3.0;
        let mut b = [0u8; Q5_0_BYTES];
        quantize_q5_0(&x, &mut b);
        assert_eq!(&b[..2], &0x3c00u16.to_le_bytes());
        // Element 1 has code 31 (bit 4 set -> qh bit 1), element 17 code 19 (qh bit 17).
        let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
        assert_eq!(qh & 0b11, 0b10);
        assert_eq!((qh >> 17) & 1, 1);
        assert_eq!(b[6 + 1], 0x0f | (0x3 << 4));
        let mut y = [0.0f32; 32];
        dequantize_q5_0(&b, &mut y);
        assert_eq!(y, x);
    }

    #[test]
    fn q5_1_hand_made_block() {
        // Values 0..31 with min 0, max 31: d = 1, m = 0, codes are the values themselves.
        let x: Vec<f32> = (0..32).map(|v| v as f32).collect();
        let mut b = [0u8; Q5_1_BYTES];
        quantize_q5_1(&x, &mut b);
        assert_eq!(&b[..4], &[0x00, 0x3c, 0x00, 0x00]);
        // Elements 16..31 have bit 4 set; so do none of 0..15.
        assert_eq!(u32::from_le_bytes([b[4], b[5], b[6], b[7]]), 0xffff_0000);
        let mut y = [0.0f32; 32];
        dequantize_q5_1(&b, &mut y);
        assert_eq!(y.to_vec(), x);
    }
}
