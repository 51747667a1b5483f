//! Unstructured and N:M pruning masks from magnitude and Wanda scores, calibration statistics,
//! and MLP-channel importance for structured pruning.
//!
//! Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models",
//! and its reference code `lib/prune.py`): score `|W_ij| · ‖X_j‖₂`, where `‖X_j‖₂` is the norm of
//! input feature `j` over the calibration tokens, compared **per output row** (each row loses the
//! same fraction). Magnitude (the same code's baseline): `|W_ij|` with one threshold **per
//! layer**. N:M (2:4): in every group of M consecutive inputs of a row, the N lowest scores are
//! pruned. Structured MLP channels: channel `c` of an MLP (gate row `c`, up row `c`, down
//! column `c`) scores `‖a_c‖₂ · ‖down[:, c]‖₂`, with `a` the input of `down_proj` — Wanda's
//! metric summed over the weights a channel feeds, as in Wanda's structured variant and FLAP's
//! fluctuation-free special case.

use crate::error::{Error, Result};

/// Which weights to remove.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// This fraction of each row (Wanda) or layer (magnitude).
    Unstructured(f64),
    /// `n` of every `m` consecutive inputs of a row (2:4 for sparse tensor cores).
    NM {
        /// Pruned per group.
        n: usize,
        /// Group size.
        m: usize,
    },
}

impl Pattern {
    /// The fraction of weights the pattern removes.
    pub fn sparsity(&self) -> f64 {
        match *self {
            Pattern::Unstructured(s) => s,
            Pattern::NM { n, m } => n as f64 / m as f64,
        }
    }
}

/// Σ x² per input feature over calibration tokens (Wanda's `scaler_row`, times the count).
#[derive(Debug, Clone)]
pub struct FeatureNorms {
    sum_sq: Vec<f64>,
    /// Tokens seen.
    pub tokens: usize,
}

impl FeatureNorms {
    /// Empty statistics for `width` features.
    pub fn new(width: usize) -> Self {
        FeatureNorms {
            sum_sq: vec![0.0; width],
            tokens: 0,
        }
    }

    /// Adds `x`, `[tokens, width]` row-major.
    pub fn add(&mut self, x: &[f32]) {
        let w = self.sum_sq.len();
        for row in x.chunks_exact(w) {
            for (s, &v) in self.sum_sq.iter_mut().zip(row) {
                *s += f64::from(v) * f64::from(v);
            }
        }
        self.tokens += x.len() / w;
    }

    /// `‖X_j‖₂` per feature.
    pub fn norms(&self) -> Vec<f64> {
        self.sum_sq.iter().map(|s| s.sqrt()).collect()
    }
}

fn check(w: &[f32], rows: usize, cols: usize) -> Result<()> {
    if rows * cols != w.len() || rows == 0 || cols == 0 {
        return Err(Error::Shape(format!(
            "{} values for a [{rows}, {cols}] weight",
            w.len()
        )));
    }
    Ok(())
}

/// Marks for removal, in each row's slice of `scores`, per `pattern`; `true` = pruned.
fn row_masks(scores: &[f64], rows: usize, cols: usize, pattern: Pattern) -> Result<Vec<bool>> {
    let mut mask = vec![false; scores.len()];
    for r in 0..rows {
        let s = &scores[r * cols..(r + 1) * cols];
        let m = &mut mask[r * cols..(r + 1) * cols];
        match pattern {
            Pattern::Unstructured(frac) => {
                let k = (cols as f64 * frac) as usize;
                let mut idx: Vec<usize> = (0..cols).collect();
                idx.sort_by(|&a, &b| s[a].total_cmp(&s[b]).then(a.cmp(&b)));
                for &i in &idx[..k] {
                    m[i] = true;
                }
            }
            Pattern::NM { n, m: g } => {
                if g == 0 || n > g || !cols.is_multiple_of(g) {
                    return Err(Error::Shape(format!("{n}:{g} on rows of {cols}")));
                }
                for start in (0..cols).step_by(g) {
                    let mut idx: Vec<usize> = (start..start + g).collect();
                    idx.sort_by(|&a, &b| s[a].total_cmp(&s[b]).then(a.cmp(&b)));
                    for &i in &idx[..n] {
                        m[i] = true;
                    }
                }
            }
        }
    }
    Ok(mask)
}

/// Wanda's mask of `w` (`[rows, cols]`, HF layout) given the input feature norms.
pub fn wanda_mask(
    w: &[f32],
    rows: usize,
    cols: usize,
    norms: &[f64],
    pattern: Pattern,
) -> Result<Vec<bool>> {
    check(w, rows, cols)?;
    if norms.len() != cols {
        return Err(Error::Shape(format!(
            "{} feature norms for {cols} inputs",
            norms.len()
        )));
    }
    let scores: Vec<f64> = w
        .iter()
        .enumerate()
        .map(|(i, &v)| f64::from(v.abs()) * norms[i % cols])
        .collect();
    row_masks(&scores, rows, cols, pattern)
}

/// The magnitude baseline's mask: one threshold over the whole layer (N:M per row group).
pub fn magnitude_mask(w: &[f32], rows: usize, cols: usize, pattern: Pattern) -> Result<Vec<bool>> {
    check(w, rows, cols)?;
    let scores: Vec<f64> = w.iter().map(|v| f64::from(v.abs())).collect();
    match pattern {
        Pattern::NM { .. } => row_masks(&scores, rows, cols, pattern),
        Pattern::Unstructured(frac) => {
            let k = (w.len() as f64 * frac) as usize;
            let mut idx: Vec<usize> = (0..w.len()).collect();
            idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
            let mut mask = vec![false; w.len()];
            for &i in &idx[..k] {
                mask[i] = true;
            }
            Ok(mask)
        }
    }
}

/// Zeroes the masked weights; returns how many were zeroed.
pub fn apply_mask(w: &mut [f32], mask: &[bool]) -> usize {
    let mut n = 0;
    for (v, &m) in w.iter_mut().zip(mask) {
        if m {
            *v = 0.0;
            n += 1;
        }
    }
    n
}

/// Fraction of exact zeros.
pub fn sparsity(w: &[f32]) -> f64 {
    w.iter().filter(|&&v| v == 0.0).count() as f64 / w.len().max(1) as f64
}

/// MLP channel importance `‖a_c‖₂ · ‖down[:, c]‖₂` (`down` is `[hidden, inter]`).
pub fn channel_scores(
    down: &[f32],
    hidden: usize,
    inter: usize,
    act_norms: &[f64],
) -> Result<Vec<f64>> {
    check(down, hidden, inter)?;
    let mut col = vec![0f64; inter];
    for row in down.chunks_exact(inter) {
        for (c, &v) in col.iter_mut().zip(row) {
            *c += f64::from(v) * f64::from(v);
        }
    }
    Ok(col
        .iter()
        .zip(act_norms)
        .map(|(c, a)| c.sqrt() * a)
        .collect())
}

/// The `keep` highest-scoring channels, in ascending index order.
pub fn keep_channels(scores: &[f64], keep: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx.truncate(keep);
    idx.sort_unstable();
    idx
}

/// Rows `keep` of a row-major `[rows, cols]` matrix.
pub fn take_rows(w: &[f32], cols: usize, keep: &[usize]) -> Vec<f32> {
    keep.iter()
        .flat_map(|&r| w[r * cols..(r + 1) * cols].iter().copied())
        .collect()
}

/// Columns `keep` of a row-major `[rows, cols]` matrix.
pub fn take_cols(w: &[f32], cols: usize, keep: &[usize]) -> Vec<f32> {
    w.chunks_exact(cols)
        .flat_map(|row| keep.iter().map(move |&c| row[c]))
        .collect()
}
