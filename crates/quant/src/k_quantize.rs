//! K-quant encoders: Q4_K, Q5_K and Q6_K super-blocks of 256 values, byte-identical to
//! llama.cpp's reference quantisers on x86-64.
//!
//! Follows `quantize_row_q4_K_ref`, `quantize_row_q5_K_ref` and `quantize_row_q6_K_ref` with
//! their helpers `make_qkx2_quants` (asymmetric: a scale and a min per 32-value sub-block,
//! searched over candidate inverse scales with a weighted least-squares refit) and
//! `make_qx_quants` (symmetric: one scale per 16-value sub-block, `rmse_type = 1`, weights
//! `x²`) in llama.cpp `ggml/src/ggml-quants.c` (gguf.md §2). Without an imatrix llama-quantize
//! runs exactly these (`quantize_q{4,5,6}_K` → `_ref`). Every float operation is done in f32 in
//! C's order — `(w·x)·l`, integer codes converted before multiplying, `sqrtf` — because x86-64
//! builds of ggml-base do not contract to FMA and neither does Rust, so the bytes match.

use half::f16;

use crate::k_quants::{QK_K, get_scale_min_k4};

/// `GROUP_MAX_EPS` of ggml-quants.c: a sub-block maximum below this counts as all zero.
const GROUP_MAX_EPS: f32 = 1e-15;

/// `nearest_int`: round half to even by adding 1.5·2²³ and reading the mantissa bits (valid for
/// |v| ≤ 4194303, as ggml asserts).
#[inline]
fn nearest_int(v: f32) -> i32 {
    let bits = (v + 12_582_912.0f32).to_bits() as i32;
    (bits & 0x007f_ffff) - 0x0040_0000
}

/// f32 → f16 → f32, as storing then loading a ggml half does.
#[inline]
fn f16_round(v: f32) -> (u16, f32) {
    let h = f16::from_f32(v);
    (h.to_bits(), h.to_f32())
}

/// `make_qkx2_quants`: codes `l` in `0..=nmax` with `x ≈ scale·l − min`; returns `(scale, min)`
/// (the min as the positive offset ggml stores).
#[allow(clippy::too_many_arguments)]
fn make_qkx2_quants(
    nmax: i32,
    x: &[f32; 32],
    w: &[f32; 32],
    l: &mut [u8],
    laux: &mut [u8; 32],
    rmin: f32,
    rdelta: f32,
    nstep: i32,
) -> (f32, f32) {
    let (mut min, mut max) = (x[0], x[0]);
    let mut sum_w = w[0];
    let mut sum_x = sum_w * x[0];
    for i in 1..32 {
        if x[i] < min {
            min = x[i];
        }
        if x[i] > max {
            max = x[i];
        }
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if min > 0.0 {
        min = 0.0;
    }
    if max == min {
        l[..32].fill(0);
        return (0.0, -min);
    }
    let mut iscale = nmax as f32 / (max - min);
    let mut scale = 1.0 / iscale;
    let mut best_error = 0.0f32;
    for i in 0..32 {
        let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
        l[i] = q as u8;
        let diff = scale * f32::from(l[i]) + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for is in 0..=nstep {
        iscale = (rmin + rdelta * is as f32 + nmax as f32) / (max - min);
        let (mut sum_l, mut sum_l2, mut sum_xl) = (0.0f32, 0.0f32, 0.0f32);
        for i in 0..32 {
            let q = nearest_int(iscale * (x[i] - min)).clamp(0, nmax);
            laux[i] = q as u8;
            let lf = q as f32;
            sum_l += w[i] * lf;
            sum_l2 += w[i] * lf * lf;
            sum_xl += w[i] * lf * x[i];
        }
        let d = sum_w * sum_l2 - sum_l * sum_l;
        if d > 0.0 {
            let mut this_scale = (sum_w * sum_xl - sum_x * sum_l) / d;
            let mut this_min = (sum_l2 * sum_x - sum_l * sum_xl) / d;
            if this_min > 0.0 {
                this_min = 0.0;
                this_scale = sum_xl / sum_l2;
            }
            let mut cur_error = 0.0f32;
            for i in 0..32 {
                let diff = this_scale * f32::from(laux[i]) + this_min - x[i];
                cur_error += w[i] * (diff * diff);
            }
            if cur_error < best_error {
                l[..32].copy_from_slice(laux);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    (scale, -min)
}

/// The shared first half of Q4_K and Q5_K: per sub-block scale/min search, the 12 packed
/// scale bytes, `d`/`dmin`, and the codes requantised with the rounded scales.
fn scales_and_codes(
    x: &[f32],
    nmax: i32,
    rmin: f32,
    nstep: i32,
    codes: &mut [u8; QK_K],
) -> ([u8; 12], u16, u16) {
    let mut scales = [0f32; 8];
    let mut mins = [0f32; 8];
    let (mut max_scale, mut max_min) = (0f32, 0f32);
    let mut laux = [0u8; 32];
    for j in 0..8 {
        let sub: &[f32; 32] = x[32 * j..32 * j + 32].try_into().expect("32 values");
        let mut sum_x2 = 0f32;
        for &v in sub {
            sum_x2 += v * v;
        }
        let av_x = (sum_x2 / 32.0).sqrt();
        let mut w = [0f32; 32];
        for (w, &v) in w.iter_mut().zip(sub) {
            *w = av_x + v.abs();
        }
        let (s, m) = make_qkx2_quants(
            nmax,
            sub,
            &w,
            &mut codes[32 * j..32 * j + 32],
            &mut laux,
            rmin,
            0.1,
            nstep,
        );
        scales[j] = s;
        mins[j] = m;
        if s > max_scale {
            max_scale = s;
        }
        if m > max_min {
            max_min = m;
        }
    }
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let mut packed = [0u8; 12];
    for j in 0..8 {
        // C stores nearest_int into a uint8_t (wrapping) before MIN(63, ·).
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
            packed[j - 4] |= (ls >> 4) << 6;
            packed[j] |= (lm >> 4) << 6;
        }
    }
    let (d_bits, d) = f16_round(max_scale / 63.0);
    let (dmin_bits, dmin) = f16_round(max_min / 63.0);
    for j in 0..8 {
        let (sc, m) = get_scale_min_k4(j, &packed);
        let dj = d * f32::from(sc);
        if dj == 0.0 {
            continue;
        }
        let dm = dmin * f32::from(m);
        for ii in 0..32 {
            let q = nearest_int((x[32 * j + ii] + dm) / dj).clamp(0, nmax);
            codes[32 * j + ii] = q as u8;
        }
    }
    (packed, d_bits, dmin_bits)
}

/// Q4_K: `d`, `dmin`, 12 scale bytes, 128 bytes of nibbles.
pub(crate) fn quantize_q4_k(values: &[f32], out: &mut [u8]) {
    for (x, b) in values.chunks_exact(QK_K).zip(out.chunks_exact_mut(144)) {
        let mut codes = [0u8; QK_K];
        let (scales, d, dmin) = scales_and_codes(x, 15, -1.0, 20, &mut codes);
        b[0..2].copy_from_slice(&d.to_le_bytes());
        b[2..4].copy_from_slice(&dmin.to_le_bytes());
        b[4..16].copy_from_slice(&scales);
        let qs = &mut b[16..];
        for (c, chunk) in codes.chunks_exact(64).enumerate() {
            for l in 0..32 {
                qs[32 * c + l] = chunk[l] | (chunk[l + 32] << 4);
            }
        }
    }
}

/// Q5_K: `d`, `dmin`, 12 scale bytes, 32 bytes of fifth bits, 128 bytes of nibbles.
pub(crate) fn quantize_q5_k(values: &[f32], out: &mut [u8]) {
    for (x, b) in values.chunks_exact(QK_K).zip(out.chunks_exact_mut(176)) {
        let mut codes = [0u8; QK_K];
        let (scales, d, dmin) = scales_and_codes(x, 31, -0.5, 15, &mut codes);
        b[0..2].copy_from_slice(&d.to_le_bytes());
        b[2..4].copy_from_slice(&dmin.to_le_bytes());
        b[4..16].copy_from_slice(&scales);
        let (qh, qs) = b[16..].split_at_mut(32);
        qh.fill(0);
        for (c, chunk) in codes.chunks_exact(64).enumerate() {
            let (m1, m2) = (1u8 << (2 * c), 2u8 << (2 * c));
            for j in 0..32 {
                let (mut l1, mut l2) = (chunk[j], chunk[j + 32]);
                if l1 > 15 {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if l2 > 15 {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                qs[32 * c + j] = l1 | (l2 << 4);
            }
        }
    }
}

/// `make_qx_quants(16, 32, x, L, rmse_type = 1, NULL)`: symmetric codes `nmax + l`,
/// `l` in `-32..=31`; returns the scale.
fn make_qx_quants_16(x: &[f32], l: &mut [i8]) -> f32 {
    const NMAX: i32 = 32;
    let (mut max, mut amax) = (0f32, 0f32);
    for &v in x {
        let ax = v.abs();
        if ax > amax {
            amax = ax;
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        l[..16].fill(0);
        return 0.0;
    }
    let sums = |iscale: f32| -> (f32, f32) {
        let (mut sumlx, mut suml2) = (0f32, 0f32);
        for &v in x {
            let q = nearest_int(iscale * v).clamp(-NMAX, NMAX - 1) as f32;
            let w = v * v;
            sumlx += w * v * q;
            suml2 += w * q * q;
        }
        (sumlx, suml2)
    };
    let fill = |iscale: f32, l: &mut [i8]| {
        for (l, &v) in l.iter_mut().zip(x) {
            *l = (NMAX + nearest_int(iscale * v).clamp(-NMAX, NMAX - 1)) as i8;
        }
    };
    let iscale = -(NMAX as f32) / max;
    fill(iscale, l);
    let (sumlx, suml2) = sums(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in -9..=9 {
        if is == 0 {
            continue;
        }
        let iscale = -(NMAX as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            fill(iscale, l);
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// Q6_K: 128 bytes of low nibbles, 64 of high bit pairs, 16 signed scales, `d` last.
pub(crate) fn quantize_q6_k(values: &[f32], out: &mut [u8]) {
    for (x, b) in values.chunks_exact(QK_K).zip(out.chunks_exact_mut(210)) {
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; 16];
        let (mut max_scale, mut max_abs_scale) = (0f32, 0f32);
        for ib in 0..16 {
            let s = make_qx_quants_16(&x[16 * ib..16 * ib + 16], &mut l[16 * ib..16 * ib + 16]);
            scales[ib] = s;
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = s;
            }
        }
        if max_abs_scale < GROUP_MAX_EPS {
            b.fill(0);
            continue;
        }
        let iscale = -128.0 / max_scale;
        let (d_bits, d) = f16_round(1.0 / iscale);
        let mut sc = [0i8; 16];
        for ib in 0..16 {
            // C: MIN(127, nearest_int(·)) stored into an int8_t.
            sc[ib] = nearest_int(iscale * scales[ib]).min(127) as i8;
        }
        for j in 0..16 {
            let dj = d * f32::from(sc[j]);
            if dj == 0.0 {
                continue;
            }
            for ii in 0..16 {
                let q = nearest_int(x[16 * j + ii] / dj).clamp(-32, 31);
                l[16 * j + ii] = (q + 32) as i8;
            }
        }
        let (ql, rest) = b.split_at_mut(128);
        let (qh, tail) = rest.split_at_mut(64);
        for (c, chunk) in l.chunks_exact(128).enumerate() {
            let (ql, qh) = (&mut ql[64 * c..64 * c + 64], &mut qh[32 * c..32 * c + 32]);
            for i in 0..32 {
                let q = |k: usize| chunk[i + 32 * k] as u8;
                ql[i] = (q(0) & 0xf) | ((q(2) & 0xf) << 4);
                ql[i + 32] = (q(1) & 0xf) | ((q(3) & 0xf) << 4);
                qh[i] = (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
            }
        }
        for (dst, &s) in tail[..16].iter_mut().zip(&sc) {
            *dst = s as u8;
        }
        tail[16..18].copy_from_slice(&d_bits.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_int_rounds_half_to_even() {
        for (v, want) in [
            (0.5f32, 0),
            (1.5, 2),
            (2.5, 2),
            (-0.5, 0),
            (-1.5, -2),
            (3.49, 3),
            (-7.6, -8),
        ] {
            assert_eq!(nearest_int(v), want, "{v}");
            assert_eq!(nearest_int(v), v.round_ties_even() as i32);
        }
    }

    #[test]
    fn round_trips_stay_within_half_a_step() {
        // Dequantised values lie within the block's quantisation step of the input.
        let x: Vec<f32> = (0..QK_K * 4)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
            .collect();
        for (ty, quant, size, steps) in [
            (
                crate::GgmlType::Q4_K,
                quantize_q4_k as fn(&[f32], &mut [u8]),
                144,
                15.0,
            ),
            (crate::GgmlType::Q5_K, quantize_q5_k, 176, 31.0),
            (crate::GgmlType::Q6_K, quantize_q6_k, 210, 63.0),
        ] {
            let mut b = vec![0u8; size * 4];
            quant(&x, &mut b);
            let y = crate::dequantize_to_vec(ty, &b, x.len()).unwrap();
            let range = 100.0 / 17.0;
            let worst = x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= range / steps, "{ty}: worst error {worst}");
        }
    }

    #[test]
    fn zero_blocks_encode_as_zeros() {
        let x = vec![0f32; QK_K];
        let mut b = vec![0xffu8; 210];
        quantize_q6_k(&x, &mut b);
        assert!(b.iter().all(|&v| v == 0));
        let mut b = vec![0xffu8; 144];
        quantize_q4_k(&x, &mut b);
        assert_eq!(
            crate::dequantize_to_vec(crate::GgmlType::Q4_K, &b, QK_K).unwrap(),
            x
        );
    }
}
