//! K-quants: 256-value super-blocks with 6-bit (Q4_K, Q5_K) or 8-bit (Q6_K) sub-block scales.
//!
//! Layouts: `block_q4_K`, `block_q5_K` and `block_q6_K` in llama.cpp `ggml/src/ggml-common.h`
//! (gguf.md §2). Decoding follows `dequantize_row_q4_K`, `dequantize_row_q5_K`,
//! `dequantize_row_q6_K` and `get_scale_min_k4` in `ggml/src/ggml-quants.c`, keeping the C
//! operation order (`(d * sc) * q - dmin * m`) so the results are bit-identical.

use half::f16;

/// Elements per super-block.
pub const QK_K: usize = 256;
const K_SCALE_SIZE: usize = 12;
const Q4_K_BYTES: usize = 4 + K_SCALE_SIZE + QK_K / 2;
const Q5_K_BYTES: usize = 4 + K_SCALE_SIZE + QK_K / 8 + QK_K / 2;
const Q6_K_BYTES: usize = QK_K / 2 + QK_K / 4 + QK_K / 16 + 2;

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

/// Unpacks the 6-bit scale and min of sub-block `j` (0..8) from the 12 packed scale bytes.
///
/// Sub-blocks 0..4 keep their low six bits in bytes `j` (scale) and `j + 4` (min); sub-blocks
/// 4..8 keep the low four bits in byte `j + 4` and the top two in the spare bits 6..7 of bytes
/// `j - 4` (scale) and `j` (min).
pub fn get_scale_min_k4(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn scales_of(block: &[u8]) -> [u8; K_SCALE_SIZE] {
    let mut s = [0u8; K_SCALE_SIZE];
    s.copy_from_slice(&block[4..4 + K_SCALE_SIZE]);
    s
}

pub(crate) fn dequantize_q4_k(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q4_K_BYTES)
        .zip(out.chunks_exact_mut(QK_K))
    {
        let d = f16_at(block, 0);
        let min = f16_at(block, 2);
        let scales = scales_of(block);
        let qs = &block[4 + K_SCALE_SIZE..];
        // Each 64-value chunk uses 32 bytes: low nibbles first, then high nibbles.
        for (c, (q, y)) in qs.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
            let (sc1, m1) = get_scale_min_k4(2 * c, &scales);
            let (sc2, m2) = get_scale_min_k4(2 * c + 1, &scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let (lo, hi) = y.split_at_mut(32);
            for ((&q, a), b) in q.iter().zip(lo).zip(hi) {
                *a = d1 * f32::from(q & 0x0f) - m1;
                *b = d2 * f32::from(q >> 4) - m2;
            }
        }
    }
}

pub(crate) fn dequantize_q5_k(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q5_K_BYTES)
        .zip(out.chunks_exact_mut(QK_K))
    {
        let d = f16_at(block, 0);
        let min = f16_at(block, 2);
        let scales = scales_of(block);
        let qh = &block[4 + K_SCALE_SIZE..4 + K_SCALE_SIZE + QK_K / 8];
        let ql = &block[4 + K_SCALE_SIZE + QK_K / 8..];
        for (c, (q, y)) in ql.chunks_exact(32).zip(y.chunks_exact_mut(64)).enumerate() {
            let (sc1, m1) = get_scale_min_k4(2 * c, &scales);
            let (sc2, m2) = get_scale_min_k4(2 * c + 1, &scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            // Bit 2c of qh[l] is the fifth bit of the low-nibble value, bit 2c+1 of the high one.
            let (u1, u2) = (1u8 << (2 * c), 2u8 << (2 * c));
            let (lo, hi) = y.split_at_mut(32);
            for (l, ((&q, a), b)) in q.iter().zip(lo).zip(hi).enumerate() {
                let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
                *a = d1 * f32::from((q & 0x0f) + h1) - m1;
                *b = d2 * f32::from((q >> 4) + h2) - m2;
            }
        }
    }
}

pub(crate) fn dequantize_q6_k(bytes: &[u8], out: &mut [f32]) {
    for (block, y) in bytes
        .chunks_exact(Q6_K_BYTES)
        .zip(out.chunks_exact_mut(QK_K))
    {
        let ql = &block[..QK_K / 2];
        let qh = &block[QK_K / 2..QK_K / 2 + QK_K / 4];
        let sc = &block[QK_K / 2 + QK_K / 4..QK_K / 2 + QK_K / 4 + QK_K / 16];
        let d = f16_at(block, Q6_K_BYTES - 2);
        // Two 128-value halves, each with 64 bytes of ql, 32 of qh and 8 scales.
        for (n, y) in y.chunks_exact_mut(128).enumerate() {
            let (ql, qh, sc) = (
                &ql[64 * n..64 * n + 64],
                &qh[32 * n..32 * n + 32],
                &sc[8 * n..8 * n + 8],
            );
            for l in 0..32 {
                let is = l / 16;
                let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i8 - 32;
                let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i8 - 32;
                let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i8 - 32;
                let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i8 - 32;
                let s = |k: usize| f32::from(sc[is + k] as i8);
                y[l] = d * s(0) * f32::from(q1);
                y[l + 32] = d * s(2) * f32::from(q2);
                y[l + 64] = d * s(4) * f32::from(q3);
                y[l + 96] = d * s(6) * f32::from(q4);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packs scales/mins as `quantize_row_q4_K_ref` does (gguf.md §2, step 3).
    fn pack(ls: [u8; 8], lm: [u8; 8]) -> [u8; 12] {
        let mut s = [0u8; 12];
        for j in 0..8 {
            if j < 4 {
                s[j] = ls[j];
                s[j + 4] = lm[j];
            } else {
                s[j + 4] = (ls[j] & 15) | ((lm[j] & 15) << 4);
                s[j - 4] |= (ls[j] >> 4) << 6;
                s[j] |= (lm[j] >> 4) << 6;
            }
        }
        s
    }

    #[test]
    fn scale_min_unpacking_inverts_the_packing() {
        let ls = [0, 63, 17, 42, 63, 1, 32, 47];
        let lm = [63, 0, 5, 60, 16, 63, 31, 2];
        let s = pack(ls, lm);
        for j in 0..8 {
            assert_eq!(get_scale_min_k4(j, &s), (ls[j], lm[j]), "sub-block {j}");
        }
    }

    #[test]
    fn q4_k_hand_made_block() {
        // d = 1, dmin = 0.5, sub-block 1 has scale 2 and min 3: value = 2 * q - 1.5.
        let mut b = [0u8; Q4_K_BYTES];
        b[..2].copy_from_slice(&0x3c00u16.to_le_bytes());
        b[2..4].copy_from_slice(&0x3800u16.to_le_bytes());
        let mut ls = [0u8; 8];
        let mut lm = [0u8; 8];
        ls[1] = 2;
        lm[1] = 3;
        b[4..16].copy_from_slice(&pack(ls, lm));
        b[16] = 0x70; // high nibble 7 belongs to element 32 (sub-block 1).
        let mut y = [0.0f32; QK_K];
        dequantize_q4_k(&b, &mut y);
        assert_eq!((y[0], y[32], y[33]), (0.0, 12.5, -1.5));
    }

    #[test]
    fn q6_k_hand_made_block() {
        // d = 1 (last two bytes), scale 3 for sub-block 0: element 0 has ql nibble 1 and qh bits 2
        // -> q = 1 | 2 << 4 = 33, minus 32 = 1, value 3.
        let mut b = [0u8; Q6_K_BYTES];
        b[0] = 0x01;
        b[128] = 0x02;
        b[192] = 3;
        b[Q6_K_BYTES - 2..].copy_from_slice(&0x3c00u16.to_le_bytes());
        let mut y = [0.0f32; QK_K];
        dequantize_q6_k(&b, &mut y);
        assert_eq!(y[0], 3.0);
        // Element 1: q = 0 - 32, scale 3 -> -96.
        assert_eq!(y[1], -96.0);
    }
}
