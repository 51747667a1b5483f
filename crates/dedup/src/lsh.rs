//! LSH banding of MinHash signatures (Leskovec, Rajaraman, Ullman, "Mining of
//! Massive Datasets", §3.4): `b` bands of `r` rows; two documents become a
//! candidate pair when all `r` rows of at least one band agree, which happens
//! with probability `P(s) = 1 − (1 − s^r)^b` at Jaccard `s`.
//!
//! `(b, r)` is chosen like datasketch's `_optimal_param` — minimise
//! `w_fp·∫₀ᵗ P(s) ds + w_fn·∫ₜ¹ (1 − P(s)) ds` over `b·r ≤ num_perm` — but with
//! weights that favour recall: every candidate is verified with the exact
//! Jaccard afterwards, so a false positive costs one set comparison while a false
//! negative is a duplicate that stays. With datasketch's equal weights, threshold
//! 0.8 and 128 permutations give 9 bands × 13 rows and `P(0.8) ≈ 0.40`.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Default weight of the false-negative area (the false-positive weight is `1 − w`).
pub const DEFAULT_FALSE_NEGATIVE_WEIGHT: f64 = 0.998;

/// Banding parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LshParams {
    /// Number of bands `b`.
    pub bands: usize,
    /// Rows per band `r`.
    pub rows: usize,
}

impl LshParams {
    /// Probability that a pair with Jaccard `s` shares at least one band.
    pub fn probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }

    /// `∫₀ᵗ P(s) ds`: the false-positive area below the threshold.
    pub fn false_positive_area(&self, threshold: f64) -> f64 {
        integrate(|s| self.probability(s), 0.0, threshold)
    }

    /// `∫ₜ¹ (1 − P(s)) ds`: the false-negative area above the threshold.
    pub fn false_negative_area(&self, threshold: f64) -> f64 {
        integrate(|s| 1.0 - self.probability(s), threshold, 1.0)
    }

    /// The `(b, r)` with `b·r ≤ num_perm` that minimises
    /// `(1 − w)·FP + w·FN` for `w = false_negative_weight`. Ties keep the smaller `b`
    /// then the smaller `r` (fewer band keys to store).
    pub fn optimal(threshold: f64, num_perm: usize, false_negative_weight: f64) -> Self {
        let w = false_negative_weight;
        let mut best = Self { bands: 1, rows: 1 };
        let mut best_err = f64::INFINITY;
        for bands in 1..=num_perm.max(1) {
            for rows in 1..=num_perm.max(1) / bands {
                let p = Self { bands, rows };
                let err = (1.0 - w) * p.false_positive_area(threshold)
                    + w * p.false_negative_area(threshold);
                if err < best_err {
                    best_err = err;
                    best = p;
                }
            }
        }
        best
    }

    /// Number of signature positions used, `b·r`.
    pub fn used_perm(&self) -> usize {
        self.bands * self.rows
    }

    /// The key of every band of `sig`: XXH3-64 of the band's rows (little-endian
    /// `u64`s) seeded with the band index, so equal rows in different bands give
    /// different keys.
    pub fn band_keys(&self, sig: &[u64], out: &mut Vec<u64>) {
        out.clear();
        let mut buf = Vec::with_capacity(self.rows * 8);
        for (band, rows) in sig.chunks_exact(self.rows).take(self.bands).enumerate() {
            buf.clear();
            for v in rows {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            out.push(xxh3_64_with_seed(&buf, band as u64));
        }
    }
}

/// Composite Simpson's rule with 256 intervals; the integrands are smooth
/// polynomials of degree `b·r`, and the error is far below what changes `(b, r)`
/// (checked against scipy's adaptive quadrature in the tests).
fn integrate(f: impl Fn(f64) -> f64, lo: f64, hi: f64) -> f64 {
    const N: usize = 256;
    let h = (hi - lo) / N as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..N {
        let x = lo + h * i as f64;
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * f(x);
    }
    sum * h / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s_curve_by_hand() {
        // 0.8^6 = 0.262144; 1 - (1 - 0.262144)^21 = 0.998312...
        let p = LshParams { bands: 21, rows: 6 };
        assert!((p.probability(0.8) - 0.998_312).abs() < 1e-6);
        // 0.8^13 = 0.0549756; 1 - (1 - 0.0549756)^9 = 0.398844...
        let p = LshParams { bands: 9, rows: 13 };
        assert!((p.probability(0.8) - 0.398_844).abs() < 1e-6);
        assert_eq!(p.probability(0.0), 0.0);
        assert_eq!(p.probability(1.0), 1.0);
    }

    #[test]
    fn areas_by_hand() {
        // b = r = 1: P(s) = s, FP = t^2/2, FN = (1-t)^2/2.
        let p = LshParams { bands: 1, rows: 1 };
        assert!((p.false_positive_area(0.8) - 0.32).abs() < 1e-12);
        assert!((p.false_negative_area(0.8) - 0.02).abs() < 1e-12);
        // b = 2, r = 1: P(s) = 2s - s^2, FP over [0, 0.5] = 0.25 - 0.125/3.
        let p = LshParams { bands: 2, rows: 1 };
        assert!((p.false_positive_area(0.5) - (0.25 - 0.125 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn optimal_matches_scipy_reference() {
        // Reference: the same objective minimised with scipy.integrate.quad
        // (scipy 1.17.1) over all b*r <= 128.
        let cases = [
            (0.8, 0.5, (9, 13)),
            (0.8, 0.95, (16, 8)),
            (0.8, 0.998, (21, 6)),
            (0.9, 0.995, (12, 10)),
            (0.7, 0.995, (25, 5)),
        ];
        for (t, w, (bands, rows)) in cases {
            assert_eq!(
                LshParams::optimal(t, 128, w),
                LshParams { bands, rows },
                "threshold {t} weight {w}"
            );
        }
    }

    #[test]
    fn band_keys_agree_exactly_on_equal_bands() {
        let p = LshParams { bands: 3, rows: 2 };
        let mut ka = Vec::new();
        let mut kb = Vec::new();
        p.band_keys(&[1, 2, 3, 4, 5, 6, 7], &mut ka);
        p.band_keys(&[1, 2, 9, 4, 5, 6, 0], &mut kb);
        assert_eq!(ka.len(), 3);
        assert_eq!(ka[0], kb[0]);
        assert_ne!(ka[1], kb[1]);
        assert_eq!(ka[2], kb[2]);
        // Same rows in different bands give different keys.
        let mut kc = Vec::new();
        p.band_keys(&[1, 2, 1, 2, 1, 2], &mut kc);
        assert_ne!(kc[0], kc[1]);
    }
}
