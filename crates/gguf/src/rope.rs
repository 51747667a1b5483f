//! Recovers HF `rope_scaling` from GGUF metadata: the `{arch}.rope.scaling.*` keys, or the
//! Llama-3.1 `rope_freqs.weight` factors that llama.cpp writes instead of any key.
//!
//! llama.cpp `convert_hf_to_gguf.py` (`LlamaModel.generate_extra_tensors`, gguf.md §1.1) turns
//! `rope_scaling {rope_type: llama3, factor, low_freq_factor, high_freq_factor,
//! original_max_position_embeddings}` into one factor per frequency: 1 for wavelengths below
//! `L / high`, `factor` above `L / low`, and `1 / ((1 - s) / factor + s)` with
//! `s = (L / w - low) / (high - low)` in between (transformers `modeling_rope_utils.py`,
//! `_compute_llama3_parameters`, computes the same). Only the ratios `L / low` and `L / high`
//! matter, so the inverse fixes `low_freq_factor = 1` and fits `L` and `high` to the smoothly
//! scaled factors, then checks that the fitted parameters reproduce every factor.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::metadata::Metadata;

/// Relative tolerance for "this factor is exactly 1 / exactly `factor`".
const EXACT: f64 = 1e-6;
/// Relative tolerance when checking the fitted parameters against every factor.
const CHECK: f64 = 1e-4;

/// `rope_scaling` from `{arch}.rope.scaling.*` (or the older `{arch}.rope.scale_linear`); `None`
/// when the keys are absent or say `none`.
pub fn scaling_from_keys(md: &Metadata, arch: &str) -> Result<Option<Value>> {
    let key = |k: &str| format!("{arch}.rope.{k}");
    let factor = md.opt_f64(&key("scaling.factor"))?;
    let ty = md.opt_str(&key("scaling.type"))?;
    let linear = md.opt_f64(&key("scale_linear"))?;
    match (ty, factor, linear) {
        (None | Some("none"), _, Some(f)) if f != 1.0 => {
            Ok(Some(json!({"factor": f, "rope_type": "linear"})))
        }
        (None | Some("none"), _, _) => Ok(None),
        (Some("linear"), Some(f), _) => Ok(Some(json!({"factor": f, "rope_type": "linear"}))),
        (Some("yarn"), Some(f), _) => {
            let orig = md.u64(&key("scaling.original_context_length"))?;
            Ok(Some(
                json!({"factor": f, "original_max_position_embeddings": orig, "rope_type": "yarn"}),
            ))
        }
        (Some(t), None, _) => Err(Error::MissingKey(format!(
            "{} (for rope scaling type {t})",
            key("scaling.factor")
        ))),
        (Some(t), Some(_), _) => Err(Error::Unsupported(format!("rope scaling type {t}"))),
    }
}

/// Llama-3 scaling parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Llama3Scaling {
    /// Scale of the lowest frequencies.
    pub factor: f64,
    /// `L / low_freq_factor` is the wavelength above which frequencies are fully scaled.
    pub low_freq_factor: f64,
    /// `L / high_freq_factor` is the wavelength below which frequencies are untouched.
    pub high_freq_factor: f64,
    /// `L`, the pre-training context length.
    pub original_max_position_embeddings: u64,
}

impl Llama3Scaling {
    /// The per-frequency factors llama.cpp stores in `rope_freqs.weight` (f64 arithmetic).
    pub fn factors(&self, theta: f64, head_dim: usize) -> Vec<f64> {
        let l = self.original_max_position_embeddings as f64;
        let (lo_w, hi_w) = (l / self.low_freq_factor, l / self.high_freq_factor);
        (0..head_dim / 2)
            .map(|i| {
                let w = 2.0 * std::f64::consts::PI * theta.powf(2.0 * i as f64 / head_dim as f64);
                if w < hi_w {
                    1.0
                } else if w > lo_w {
                    self.factor
                } else {
                    let s = (l / w - self.low_freq_factor)
                        / (self.high_freq_factor - self.low_freq_factor);
                    1.0 / ((1.0 - s) / self.factor + s)
                }
            })
            .collect()
    }

    /// The HF `rope_scaling` object.
    pub fn to_json(&self) -> Value {
        json!({
            "factor": self.factor,
            "high_freq_factor": self.high_freq_factor,
            "low_freq_factor": self.low_freq_factor,
            "original_max_position_embeddings": self.original_max_position_embeddings,
            "rope_type": "llama3",
        })
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

/// Rounds to 4 decimals when that stays within `tol` (undoing f32 noise on values like 4.0).
fn snap(v: f64, tol: f64) -> f64 {
    let r = (v * 1e4).round() / 1e4;
    if close(r, v, tol) { r } else { v }
}

/// Infers Llama-3 scaling from `rope_freqs` factors; `Ok(None)` when every factor is 1.
///
/// # Errors
/// When fewer than two factors lie strictly between 1 and the largest factor (the parameters
/// are then not determined), or when no Llama-3 parameters reproduce the factors.
pub fn llama3_from_factors(
    factors: &[f32],
    theta: f64,
    head_dim: usize,
) -> Result<Option<Llama3Scaling>> {
    let bad = |why: String| Error::tensor("rope_freqs.weight", why);
    if factors.len() != head_dim / 2 {
        return Err(bad(format!(
            "{} factors for head_dim {head_dim} (expected {})",
            factors.len(),
            head_dim / 2
        )));
    }
    let f: Vec<f64> = factors.iter().map(|&x| f64::from(x)).collect();
    if f.iter().any(|x| !x.is_finite() || *x < 1.0 - EXACT) {
        return Err(bad("factors must be finite and >= 1".into()));
    }
    let big = f.iter().copied().fold(1.0, f64::max);
    if close(big, 1.0, EXACT) {
        return Ok(None);
    }
    // Smoothly scaled frequencies: s = (1/f - 1/F) / (1 - 1/F) in (0, 1), y = 1/w = lo/L(1-s) + hi/L s.
    let mut pts = Vec::new();
    for (i, &x) in f.iter().enumerate() {
        if close(x, 1.0, EXACT) || close(x, big, EXACT) {
            continue;
        }
        let s = (1.0 / x - 1.0 / big) / (1.0 - 1.0 / big);
        let w = 2.0 * std::f64::consts::PI * theta.powf(2.0 * i as f64 / head_dim as f64);
        pts.push((s, 1.0 / w));
    }
    if pts.len() < 2 {
        return Err(bad(format!(
            "only {} smoothly scaled frequencies; cannot infer llama3 rope_scaling",
            pts.len()
        )));
    }
    // Least squares for (a, b) in y = a (1 - s) + b s.
    let (mut s11, mut s12, mut s22, mut r1, mut r2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(s, y) in &pts {
        let (u, v) = (1.0 - s, s);
        s11 += u * u;
        s12 += u * v;
        s22 += v * v;
        r1 += u * y;
        r2 += v * y;
    }
    let det = s11 * s22 - s12 * s12;
    if det.abs() < f64::MIN_POSITIVE {
        return Err(bad(
            "degenerate factors; cannot infer llama3 rope_scaling".into()
        ));
    }
    let a = (r1 * s22 - r2 * s12) / det;
    let b = (s11 * r2 - s12 * r1) / det;
    if a <= 0.0 || b <= a {
        return Err(bad("factors do not follow the llama3 schedule".into()));
    }
    let l = (1.0 / a).round();
    let fitted = Llama3Scaling {
        factor: snap(big, 1e-6),
        low_freq_factor: 1.0,
        high_freq_factor: snap(b * l, CHECK / 10.0),
        original_max_position_embeddings: l as u64,
    };
    let again = fitted.factors(theta, head_dim);
    if let Some((i, (want, got))) = f
        .iter()
        .zip(&again)
        .enumerate()
        .find(|(_, (w, g))| !close(**w, **g, CHECK))
    {
        return Err(bad(format!(
            "fitted llama3 scaling {fitted:?} gives factor {got} at {i}, the file has {want}"
        )));
    }
    Ok(Some(fitted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_f32(v: Vec<f64>) -> Vec<f32> {
        v.into_iter().map(|x| x as f32).collect()
    }

    #[test]
    fn recovers_llama_3_1_and_3_2_parameters() {
        // Llama-3.1-8B: theta 500000, head_dim 128, factor 8, low 1, high 4, L 8192.
        // Llama-3.2-1B: the same with factor 32.
        for factor in [8.0, 32.0] {
            let p = Llama3Scaling {
                factor,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 8192,
            };
            let f = as_f32(p.factors(500_000.0, 128));
            assert!(f.iter().filter(|&&x| x > 1.0 && x < factor as f32).count() >= 2);
            assert_eq!(llama3_from_factors(&f, 500_000.0, 128).unwrap(), Some(p));
        }
    }

    #[test]
    fn equivalent_parameters_are_normalised_to_low_freq_factor_one() {
        // (L, low, high) = (16384, 2, 8) has the same wavelength bounds as (8192, 1, 4).
        let p = Llama3Scaling {
            factor: 8.0,
            low_freq_factor: 2.0,
            high_freq_factor: 8.0,
            original_max_position_embeddings: 16384,
        };
        let got = llama3_from_factors(&as_f32(p.factors(500_000.0, 128)), 500_000.0, 128)
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                got.original_max_position_embeddings,
                got.low_freq_factor,
                got.high_freq_factor
            ),
            (8192, 1.0, 4.0)
        );
    }

    #[test]
    fn rejects_factors_off_schedule_and_accepts_all_ones() {
        let p = Llama3Scaling {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        };
        let mut f = as_f32(p.factors(500_000.0, 128));
        let i = f.iter().position(|&x| x > 1.0 && x < 8.0).unwrap();
        f[i] *= 1.01;
        assert!(llama3_from_factors(&f, 500_000.0, 128).is_err());
        assert_eq!(llama3_from_factors(&[1.0; 32], 10_000.0, 64).unwrap(), None);
        assert!(llama3_from_factors(&[1.0; 31], 10_000.0, 64).is_err());
    }
}
