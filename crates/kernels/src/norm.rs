//! RMSNorm over rows (Zhang & Sennrich 2019), as transformers' `LlamaRMSNorm` computes it in
//! f32: `x / sqrt(mean(x²) + eps) · weight`.

use rayon::prelude::*;

use crate::simd::{LANES, Madd, hsum, multiversion};

#[inline(always)]
fn rms_norm_rows_body<M: Madd>(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let mut acc = [0f32; LANES];
        let chunks = xr.chunks_exact(LANES);
        let mut tail = 0f32;
        for v in chunks.remainder() {
            tail = M::madd(*v, *v, tail);
        }
        for c in chunks {
            for l in 0..LANES {
                acc[l] = M::madd(c[l], c[l], acc[l]);
            }
        }
        let inv = 1.0 / ((hsum(&acc) + tail) / d as f32 + eps).sqrt();
        for ((o, v), w) in or.iter_mut().zip(xr).zip(weight) {
            *o = *w * (*v * inv);
        }
    }
}

multiversion!(fn rms_norm_rows(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) => rms_norm_rows_body);

/// RMSNorm of every row of `x` (`[rows, d]`, `d = weight.len()`) into `out` (same shape).
///
/// # Panics
/// If `x` and `out` differ in length or are not a whole number of rows.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let d = weight.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rms_norm: {} values are not rows of {d}",
        x.len()
    );
    assert_eq!(
        x.len(),
        out.len(),
        "rms_norm: input and output differ in length"
    );
    let rows = x.len() / d;
    if rows < 64 {
        rms_norm_rows(x, weight, eps, out);
    } else {
        let per = rows.div_ceil(rayon::current_num_threads() * 4).max(16) * d;
        out.par_chunks_mut(per)
            .zip(x.par_chunks(per))
            .for_each(|(o, xs)| rms_norm_rows(xs, weight, eps, o));
    }
}

#[inline(always)]
fn rms_norm_backward_rows_body<M: Madd>(
    x: &[f32],
    weight: &[f32],
    eps: f32,
    dy: &[f32],
    dx: &mut [f32],
) {
    let d = weight.len();
    let rows = x
        .chunks_exact(d)
        .zip(dy.chunks_exact(d))
        .zip(dx.chunks_exact_mut(d));
    for ((xr, dyr), dxr) in rows {
        let mut ss = [0f32; LANES];
        let mut gx = [0f32; LANES];
        let mut tail = (0f32, 0f32);
        let chunks = xr
            .chunks_exact(LANES)
            .zip(dyr.chunks_exact(LANES))
            .zip(weight.chunks_exact(LANES));
        for ((xc, dc), wc) in chunks {
            for l in 0..LANES {
                ss[l] = M::madd(xc[l], xc[l], ss[l]);
                gx[l] = M::madd(dc[l] * wc[l], xc[l], gx[l]);
            }
        }
        let full = d / LANES * LANES;
        for i in full..d {
            tail.0 = M::madd(xr[i], xr[i], tail.0);
            tail.1 = M::madd(dyr[i] * weight[i], xr[i], tail.1);
        }
        let r = 1.0 / ((hsum(&ss) + tail.0) / d as f32 + eps).sqrt();
        let c = r * r * r * (hsum(&gx) + tail.1) / d as f32;
        for (((o, xv), dv), wv) in dxr.iter_mut().zip(xr).zip(dyr).zip(weight) {
            *o += r * (*dv * *wv) - c * *xv;
        }
    }
}

multiversion!(fn rms_norm_backward_rows(x: &[f32], weight: &[f32], eps: f32, dy: &[f32], dx: &mut [f32]) => rms_norm_backward_rows_body);

/// Backward of [`rms_norm`] with a frozen weight: `dx += r·(dy⊙w) − r³·x·mean(dy⊙w⊙x)` per row,
/// `r = 1/sqrt(mean(x²) + eps)` (accumulates into `dx`, the residual stream's gradient).
///
/// # Panics
/// If the lengths disagree.
pub fn rms_norm_backward(x: &[f32], weight: &[f32], eps: f32, dy: &[f32], dx: &mut [f32]) {
    let d = weight.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rms_norm_backward: rows of {d}"
    );
    assert!(
        x.len() == dy.len() && x.len() == dx.len(),
        "rms_norm_backward: lengths differ"
    );
    let per = (x.len() / d)
        .div_ceil(rayon::current_num_threads() * 4)
        .max(16)
        * d;
    dx.par_chunks_mut(per)
        .zip(x.par_chunks(per))
        .zip(dy.par_chunks(per))
        .for_each(|((o, xs), ds)| rms_norm_backward_rows(xs, weight, eps, ds, o));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_definition_in_f64() {
        let d = 37;
        let x: Vec<f32> = (0..d * 70)
            .map(|i| ((i * 31 % 97) as f32 - 48.0) * 0.05)
            .collect();
        let w: Vec<f32> = (0..d).map(|i| 0.5 + i as f32 * 0.01).collect();
        let mut out = vec![0f32; x.len()];
        rms_norm(&x, &w, 1e-5, &mut out);
        for r in 0..70 {
            let row = &x[r * d..(r + 1) * d];
            let ms: f64 = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / d as f64;
            let inv = 1.0 / (ms + 1e-5).sqrt();
            for i in 0..d {
                let want = w[i] as f64 * row[i] as f64 * inv;
                assert!(
                    (out[r * d + i] as f64 - want).abs() < 1e-5,
                    "row {r} col {i}"
                );
            }
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let d = 21;
        let x: Vec<f32> = (0..d * 3)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3)
            .collect();
        let w: Vec<f32> = (0..d).map(|i| 0.7 + i as f32 * 0.05).collect();
        let dy: Vec<f32> = (0..d * 3)
            .map(|i| ((i * 5 % 13) as f32 - 6.0) * 0.1)
            .collect();
        let mut dx = vec![0.5f32; d * 3];
        rms_norm_backward(&x, &w, 1e-5, &dy, &mut dx);
        // L(x) = Σ dy·rms_norm(x): its gradient by central differences in f64.
        let loss = |x: &[f64]| -> f64 {
            let mut total = 0.0;
            for r in 0..3 {
                let row = &x[r * d..(r + 1) * d];
                let inv = 1.0 / (row.iter().map(|v| v * v).sum::<f64>() / d as f64 + 1e-5).sqrt();
                for i in 0..d {
                    total += dy[r * d + i] as f64 * w[i] as f64 * row[i] * inv;
                }
            }
            total
        };
        let x64: Vec<f64> = x.iter().map(|v| *v as f64).collect();
        for i in 0..x.len() {
            let (mut a, mut b) = (x64.clone(), x64.clone());
            a[i] += 1e-6;
            b[i] -= 1e-6;
            let want = 0.5 + (loss(&a) - loss(&b)) / 2e-6;
            assert!(
                (dx[i] as f64 - want).abs() < 1e-4,
                "{i}: {} vs {want}",
                dx[i]
            );
        }
    }
}
