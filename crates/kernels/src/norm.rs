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
}
