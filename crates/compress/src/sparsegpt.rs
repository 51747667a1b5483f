//! SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately
//! Pruned in One-Shot"): prune a linear layer column block by column block, compensating every
//! removed weight by the optimal-brain-surgeon update of the row's remaining weights, with the
//! Hessian `H = 2XᵀX / n` of the layer's calibration inputs.
//!
//! Follows the reference `SparseGPT.fasterprune` (IST-DASLab/sparsegpt `sparsegpt.py`): dead
//! inputs (`H_jj = 0`) get `H_jj = 1` and zero weights; dampening `λ = percdamp · mean(diag H)`;
//! `H⁻¹` by Cholesky, then the upper Cholesky factor `U` of `H⁻¹` (so `H⁻¹ = UᵀU`); blocks of
//! `blocksize` columns; inside a block, the unstructured mask keeps the block's largest
//! `w² / U_jj²` (one threshold over the block's rows and columns), an N:M mask is chosen every M
//! columns per row; each pruned column's error `(w − q) / U_jj` updates the block's later
//! columns by `U[j, j:]`, and after the block the rest of the matrix by `Err · U[block, rest]`.
//! Computed in f64.

use cogumi_kernels::{MatMut, MatRef};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::prune::Pattern;

/// `XᵀX` accumulated over calibration tokens, as the reference's `add_batch` keeps it: a running
/// mean times 2 (`H = 2/n · Σ x xᵀ`).
#[derive(Debug, Clone)]
pub struct Hessian {
    /// Inputs.
    pub n: usize,
    h: Vec<f64>,
    tokens: usize,
}

impl Hessian {
    /// Zero statistics for `n` input features.
    pub fn new(n: usize) -> Self {
        Hessian {
            n,
            h: vec![0.0; n * n],
            tokens: 0,
        }
    }

    /// Adds `x`, `[tokens, n]` row-major: `XᵀX` of the batch by one f32 `gemm` (the reference
    /// accumulates `H` in float32 too), summed into f64 across batches.
    pub fn add(&mut self, x: &[f32]) {
        let n = self.n;
        let t = x.len() / n;
        if t == 0 {
            return;
        }
        let mut g = vec![0f32; n * n];
        cogumi_kernels::gemm(
            MatMut {
                data: &mut g,
                rows: n,
                cols: n,
                row_stride: n,
                col_stride: 1,
            },
            // Xᵀ: the same storage read column-major.
            MatRef {
                data: &x[..t * n],
                rows: n,
                cols: t,
                row_stride: 1,
                col_stride: n,
            },
            MatRef {
                data: &x[..t * n],
                rows: t,
                cols: n,
                row_stride: n,
                col_stride: 1,
            },
            1.0,
            false,
            true,
        );
        for (h, &v) in self.h.iter_mut().zip(&g) {
            *h += f64::from(v);
        }
        self.tokens += t;
    }

    /// `H = 2/n · XᵀX`, symmetric.
    pub fn matrix(&self) -> Vec<f64> {
        let n = self.n;
        let s = 2.0 / self.tokens.max(1) as f64;
        let mut h = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                h[i * n + j] = 0.5 * (self.h[i * n + j] + self.h[j * n + i]) * s;
            }
        }
        h
    }
}

/// Cholesky factor `L` (lower, `A = L·Lᵀ`) in place; `Err` when `A` is not positive definite.
fn cholesky(a: &mut [f64], n: usize) -> Result<()> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return Err(Error::NotPositiveDefinite(j));
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        let (head, tail) = a.split_at_mut((j + 1) * n);
        let rj = &head[j * n..j * n + j];
        tail.par_chunks_mut(n).for_each(|ri| {
            let mut s = ri[j];
            for k in 0..j {
                s -= ri[k] * rj[k];
            }
            ri[j] = s / d;
        });
        for k in j + 1..n {
            a[j * n + k] = 0.0;
        }
    }
    Ok(())
}

/// `A⁻¹` from its Cholesky factor `L`: `(L·Lᵀ)⁻¹ = L⁻ᵀ·L⁻¹`.
fn inverse_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    // L⁻¹ by forward substitution, column by column (in parallel).
    let cols: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|c| {
            let mut x = vec![0.0; n];
            for i in c..n {
                let mut s = if i == c { 1.0 } else { 0.0 };
                for k in c..i {
                    s -= l[i * n + k] * x[k];
                }
                x[i] = s / l[i * n + i];
            }
            x
        })
        .collect();
    // inv[i][j] = Σ_k Linv[k][i] · Linv[k][j], k ≥ max(i, j).
    let mut inv = vec![0.0; n * n];
    inv.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (j, v) in row.iter_mut().enumerate() {
            let k0 = i.max(j);
            let (ci, cj) = (&cols[i], &cols[j]);
            *v = (k0..n).map(|k| ci[k] * cj[k]).sum();
        }
    });
    inv
}

/// SparseGPT settings.
#[derive(Debug, Clone, Copy)]
pub struct SparseGptConfig {
    /// What to remove.
    pub pattern: Pattern,
    /// Columns per block (128).
    pub blocksize: usize,
    /// Dampening as a fraction of the mean Hessian diagonal (0.01).
    pub percdamp: f64,
}

impl Default for SparseGptConfig {
    fn default() -> Self {
        SparseGptConfig {
            pattern: Pattern::Unstructured(0.5),
            blocksize: 128,
            percdamp: 0.01,
        }
    }
}

/// Prunes `w` (`[rows, cols]` HF layout, updated in place) with the Hessian of its inputs.
// The OBS updates index the row and `U` by the same column; iterator forms obscure that.
#[allow(clippy::needless_range_loop)]
pub fn sparsegpt(
    w: &mut [f32],
    rows: usize,
    cols: usize,
    hessian: &Hessian,
    cfg: &SparseGptConfig,
) -> Result<()> {
    if rows * cols != w.len() || hessian.n != cols {
        return Err(Error::Shape(format!(
            "[{rows}, {cols}] weight with a {}-input Hessian",
            hessian.n
        )));
    }
    let n = cols;
    let mut h = hessian.matrix();
    let mut wf: Vec<f64> = w.iter().map(|&v| f64::from(v)).collect();
    for j in 0..n {
        if h[j * n + j] == 0.0 {
            h[j * n + j] = 1.0;
            for r in 0..rows {
                wf[r * n + j] = 0.0;
            }
        }
    }
    let damp = cfg.percdamp * (0..n).map(|j| h[j * n + j]).sum::<f64>() / n as f64;
    for j in 0..n {
        h[j * n + j] += damp;
    }
    cholesky(&mut h, n)?;
    let mut hinv = inverse_from_cholesky(&h, n);
    // Upper factor U of H⁻¹: the transpose of its lower Cholesky factor.
    cholesky(&mut hinv, n)?;
    let u = |i: usize, j: usize| hinv[j * n + i];

    let bs = cfg.blocksize.max(1);
    let mut mask = vec![false; rows * n];
    for i1 in (0..n).step_by(bs) {
        let i2 = (i1 + bs).min(n);
        let count = i2 - i1;
        if let Pattern::Unstructured(frac) = cfg.pattern {
            let mut tmp: Vec<(f64, usize)> = (0..rows)
                .flat_map(|r| (i1..i2).map(move |j| (r, j)))
                .map(|(r, j)| {
                    let d = u(j, j);
                    (wf[r * n + j] * wf[r * n + j] / (d * d), r * n + j)
                })
                .collect();
            let k = (tmp.len() as f64 * frac) as usize;
            tmp.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for &(_, idx) in &tmp[..k] {
                mask[idx] = true;
            }
        }
        // Rows are independent given U: prune each row's block and collect its errors.
        let errs: Vec<Vec<f64>> = wf
            .par_chunks_mut(n)
            .zip(mask.par_chunks_mut(n))
            .map(|(wr, mr)| {
                let mut err = vec![0.0; count];
                for i in 0..count {
                    let j = i1 + i;
                    if let Pattern::NM { n: pn, m: pm } = cfg.pattern
                        && i % pm == 0
                    {
                        let end = (j + pm).min(i2);
                        let mut idx: Vec<usize> = (j..end).collect();
                        idx.sort_by(|&a, &b| {
                            let (da, db) = (u(a, a), u(b, b));
                            (wr[a] * wr[a] / (da * da))
                                .total_cmp(&(wr[b] * wr[b] / (db * db)))
                                .then(a.cmp(&b))
                        });
                        for &c in idx.iter().take(pn) {
                            mr[c] = true;
                        }
                    }
                    let q = if mr[j] { 0.0 } else { wr[j] };
                    let e = (wr[j] - q) / u(j, j);
                    wr[j] = q;
                    for k in j + 1..i2 {
                        wr[k] -= e * u(j, k);
                    }
                    err[i] = e;
                }
                err
            })
            .collect();
        if i2 < n {
            wf.par_chunks_mut(n).zip(&errs).for_each(|(wr, err)| {
                for (i, &e) in err.iter().enumerate() {
                    if e != 0.0 {
                        let j = i1 + i;
                        for k in i2..n {
                            wr[k] -= e * u(j, k);
                        }
                    }
                }
            });
        }
    }
    for (d, s) in w.iter_mut().zip(&wf) {
        *d = *s as f32;
    }
    Ok(())
}
