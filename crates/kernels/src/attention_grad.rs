//! Gradients of [`crate::attention`] with respect to queries, keys and values, as autograd
//! differentiates transformers' `eager_attention_forward`: with `P = softmax(s·Q·Kᵀ + mask)` and
//! `O = P·V`, `dV = Pᵀ·dO`, `dP = dO·Vᵀ`, `dS = P ⊙ (dP − rowsum(dO ⊙ O))`, `dQ = s·dS·K`,
//! `dK = s·dSᵀ·Q` (the FlashAttention-2 backward identities, Dao 2023, without the tiling).
//! `P` is recomputed from `Q` and `K`, so the forward keeps nothing but its output.
//!
//! Work is split as in the forward: one item per (key/value head, block of 64 queries), the
//! query heads sharing that key/value head stacked; key/value gradients of the items of one
//! head are summed afterwards.

use rayon::prelude::*;

use crate::act::softmax_prefix;
use crate::attention::{AttentionDims, KeyMask, QUERY_BLOCK};
use crate::matmul::{MatMut, MatRef, gemm};
use crate::simd::{Madd, multiversion};

/// Gradients of one batch row's attention.
#[derive(Debug, Clone)]
pub struct AttentionGrads {
    /// `[queries, n_heads·head_dim]`
    pub dq: Vec<f32>,
    /// `[n_kv, capacity, head_dim]`, positions `0..past + queries`
    pub dk: Vec<f32>,
    /// `[n_kv, capacity, head_dim]`
    pub dv: Vec<f32>,
}

/// Backward of [`crate::attention`] for one batch row.
///
/// # Shapes
/// - `q`, `out`, `dout`: `[queries, n_heads·head_dim]` (`out` is the forward's result)
/// - `k`, `v`: `[n_kv, capacity, head_dim]`
///
/// # Panics
/// If a slice is shorter than the dimensions say.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    dout: &[f32],
    dims: AttentionDims,
    mask: KeyMask<'_>,
) -> AttentionGrads {
    let AttentionDims {
        n_heads,
        n_kv,
        head_dim: hd,
        past,
        queries,
        capacity,
    } = dims;
    let total = past + queries;
    let width = n_heads * hd;
    assert!(
        q.len() == queries * width && out.len() == q.len() && dout.len() == q.len(),
        "attention_backward: q/out/dout shape"
    );
    assert!(
        k.len() >= n_kv * capacity * hd && v.len() >= n_kv * capacity * hd,
        "attention_backward: cache shape"
    );
    assert!(
        capacity >= total && mask.valid.len() == total,
        "attention_backward: cache/mask length"
    );
    let rep = n_heads / n_kv;
    let blocks = queries.div_ceil(QUERY_BLOCK);
    let plain = mask.segments.is_none() && mask.valid.iter().all(|x| *x);
    let items: Vec<Item> = (0..n_kv * blocks)
        .into_par_iter()
        .map(|task| {
            let (g, blk) = (task / blocks, task % blocks);
            let (i0, i1) = (blk * QUERY_BLOCK, ((blk + 1) * QUERY_BLOCK).min(queries));
            let kh = &k[g * capacity * hd..(g * capacity + total) * hd];
            let vh = &v[g * capacity * hd..(g * capacity + total) * hd];
            item(
                q, kh, vh, out, dout, g, rep, i0, i1, width, plain, dims, mask,
            )
        })
        .collect();
    let mut grads = AttentionGrads {
        dq: vec![0f32; queries * width],
        dk: vec![0f32; n_kv * capacity * hd],
        dv: vec![0f32; n_kv * capacity * hd],
    };
    for it in items {
        let qb = it.i1 - it.i0;
        for (r, row) in it.dq.chunks_exact(hd).enumerate() {
            let (h, i) = (it.g * rep + r / qb, it.i0 + r % qb);
            grads.dq[i * width + h * hd..i * width + (h + 1) * hd].copy_from_slice(row);
        }
        let at = it.g * capacity * hd;
        for (dst, src) in [(&mut grads.dk, &it.dk), (&mut grads.dv, &it.dv)] {
            for (a, b) in dst[at..at + src.len()].iter_mut().zip(src) {
                *a += *b;
            }
        }
    }
    grads
}

struct Item {
    g: usize,
    i0: usize,
    i1: usize,
    /// `[rep·qb, hd]`, head-major.
    dq: Vec<f32>,
    /// `[past + i1, hd]`
    dk: Vec<f32>,
    /// `[past + i1, hd]`
    dv: Vec<f32>,
}

/// Stacks rows `i0..i1` of heads `g·rep..(g+1)·rep` of a `[queries, width]` matrix.
fn stack(
    x: &[f32],
    g: usize,
    rep: usize,
    i0: usize,
    i1: usize,
    width: usize,
    hd: usize,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(rep * (i1 - i0) * hd);
    for h in g * rep..(g + 1) * rep {
        for i in i0..i1 {
            out.extend_from_slice(&x[i * width + h * hd..i * width + (h + 1) * hd]);
        }
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn item(
    q: &[f32],
    kh: &[f32],
    vh: &[f32],
    out: &[f32],
    dout: &[f32],
    g: usize,
    rep: usize,
    i0: usize,
    i1: usize,
    width: usize,
    plain: bool,
    dims: AttentionDims,
    mask: KeyMask<'_>,
) -> Item {
    let hd = dims.head_dim;
    let qb = i1 - i0;
    let (rows, keys) = (rep * qb, dims.past + i1);
    let scale = 1.0 / (hd as f32).sqrt();
    let qs = stack(q, g, rep, i0, i1, width, hd);
    let os = stack(out, g, rep, i0, i1, width, hd);
    let dos = stack(dout, g, rep, i0, i1, width, hd);
    let mat = |data, rows, cols| MatRef {
        data,
        rows,
        cols,
        row_stride: cols,
        col_stride: 1,
    };
    let tr = |data, rows, cols| MatRef {
        data,
        rows: cols,
        cols: rows,
        row_stride: 1,
        col_stride: cols,
    };
    // P: scores, masked softmax, normalised.
    let mut p = vec![0f32; rows * keys];
    gemm(
        MatMut {
            data: &mut p,
            rows,
            cols: keys,
            row_stride: keys,
            col_stride: 1,
        },
        mat(&qs, rows, hd),
        tr(kh, keys, hd),
        scale,
        false,
        false,
    );
    probabilities(&mut p, keys, qb, i0, plain, dims, mask);
    // dP = dO·Vᵀ
    let mut dp = vec![0f32; rows * keys];
    gemm(
        MatMut {
            data: &mut dp,
            rows,
            cols: keys,
            row_stride: keys,
            col_stride: 1,
        },
        mat(&dos, rows, hd),
        tr(vh, keys, hd),
        1.0,
        false,
        false,
    );
    // dS = P ⊙ (dP − rowsum(dO ⊙ O)), in place in dp.
    score_grad(&p, &mut dp, &dos, &os, keys, hd);
    let mut dq = vec![0f32; rows * hd];
    gemm(
        MatMut {
            data: &mut dq,
            rows,
            cols: hd,
            row_stride: hd,
            col_stride: 1,
        },
        mat(&dp, rows, keys),
        mat(kh, keys, hd),
        scale,
        false,
        false,
    );
    let mut dk = vec![0f32; keys * hd];
    gemm(
        MatMut {
            data: &mut dk,
            rows: keys,
            cols: hd,
            row_stride: hd,
            col_stride: 1,
        },
        tr(&dp, rows, keys),
        mat(&qs, rows, hd),
        scale,
        false,
        false,
    );
    let mut dv = vec![0f32; keys * hd];
    gemm(
        MatMut {
            data: &mut dv,
            rows: keys,
            cols: hd,
            row_stride: hd,
            col_stride: 1,
        },
        tr(&p, rows, keys),
        mat(&dos, rows, hd),
        1.0,
        false,
        false,
    );
    Item {
        g,
        i0,
        i1,
        dq,
        dk,
        dv,
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn probabilities_body<M: Madd>(
    p: &mut [f32],
    keys: usize,
    qb: usize,
    i0: usize,
    plain: bool,
    dims: AttentionDims,
    mask: KeyMask<'_>,
) {
    for (r, row) in p.chunks_exact_mut(keys).enumerate() {
        let i = i0 + r % qb;
        let own = dims.past + i;
        if !plain {
            for (j, s) in row[..own].iter_mut().enumerate() {
                let seen = mask.valid[j]
                    && (j < dims.past
                        || mask.segments.is_none_or(|seg| seg[j - dims.past] == seg[i]));
                if !seen {
                    *s = f32::NEG_INFINITY;
                }
            }
        }
        let inv = 1.0 / softmax_prefix::<M>(row, own + 1);
        row.iter_mut().for_each(|x| *x *= inv);
    }
}

multiversion!(fn probabilities(p: &mut [f32], keys: usize, qb: usize, i0: usize, plain: bool, dims: AttentionDims, mask: KeyMask<'_>) => probabilities_body);

#[inline(always)]
fn score_grad_body<M: Madd>(
    p: &[f32],
    dp: &mut [f32],
    dos: &[f32],
    os: &[f32],
    keys: usize,
    hd: usize,
) {
    for (r, (prow, dprow)) in p
        .chunks_exact(keys)
        .zip(dp.chunks_exact_mut(keys))
        .enumerate()
    {
        let d = crate::simd::dot::<M>(&dos[r * hd..(r + 1) * hd], &os[r * hd..(r + 1) * hd]);
        for (g, pv) in dprow.iter_mut().zip(prow) {
            *g = *pv * (*g - d);
        }
    }
}

multiversion!(fn score_grad(p: &[f32], dp: &mut [f32], dos: &[f32], os: &[f32], keys: usize, hd: usize) => score_grad_body);

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ dout ⊙ attention(q, k, v)` in f64, the definition written out.
    fn objective(
        q: &[f64],
        k: &[f64],
        v: &[f64],
        dout: &[f32],
        d: AttentionDims,
        mask: KeyMask<'_>,
    ) -> f64 {
        let (hd, width, rep) = (d.head_dim, d.n_heads * d.head_dim, d.n_heads / d.n_kv);
        let mut total = 0.0;
        for i in 0..d.queries {
            for h in 0..d.n_heads {
                let g = h / rep;
                let seen: Vec<usize> = (0..=i)
                    .filter(|&j| {
                        j == i || (mask.valid[j] && mask.segments.is_none_or(|s| s[j] == s[i]))
                    })
                    .collect();
                let s: Vec<f64> = seen
                    .iter()
                    .map(|&j| {
                        (0..hd)
                            .map(|c| q[i * width + h * hd + c] * k[(g * d.capacity + j) * hd + c])
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|x| (x - max).exp()).sum();
                for (&j, x) in seen.iter().zip(&s) {
                    let p = (x - max).exp() / z;
                    for c in 0..hd {
                        total += dout[i * width + h * hd + c] as f64
                            * p
                            * v[(g * d.capacity + j) * hd + c];
                    }
                }
            }
        }
        total
    }

    #[test]
    fn gradients_match_finite_differences_with_gqa_padding_and_segments() {
        // 70 queries: two query blocks (the gemm path) and the block sums of dK/dV.
        let t = 70;
        let dims = AttentionDims {
            n_heads: 4,
            n_kv: 2,
            head_dim: 8,
            past: 0,
            queries: t,
            capacity: t + 2,
        };
        let width = dims.n_heads * dims.head_dim;
        let cache = dims.n_kv * dims.capacity * dims.head_dim;
        let q: Vec<f32> = (0..t * width)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.02)
            .collect();
        let k: Vec<f32> = (0..cache)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) * 0.03)
            .collect();
        let v: Vec<f32> = (0..cache)
            .map(|i| ((i * 17 % 83) as f32 - 41.0) * 0.05)
            .collect();
        let dout: Vec<f32> = (0..t * width)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) * 0.1)
            .collect();
        let mut valid = vec![true; t];
        valid[..2].fill(false);
        let seg: Vec<u32> = (0..t).map(|i| if i < 30 { 1 } else { 2 }).collect();
        for segments in [None, Some(&seg[..])] {
            let mask = KeyMask {
                valid: &valid,
                segments,
            };
            let out = crate::attention(&q, &k, &v, dims, mask);
            let grads = attention_backward(&q, &k, &v, &out, &dout, dims, mask);
            let (q64, k64, v64): (Vec<f64>, Vec<f64>, Vec<f64>) = (
                q.iter().map(|x| *x as f64).collect(),
                k.iter().map(|x| *x as f64).collect(),
                v.iter().map(|x| *x as f64).collect(),
            );
            let h = 1e-5;
            let fd = |which: usize, idx: usize| {
                let (mut a, mut b) = (
                    [q64.clone(), k64.clone(), v64.clone()],
                    [q64.clone(), k64.clone(), v64.clone()],
                );
                a[which][idx] += h;
                b[which][idx] -= h;
                (objective(&a[0], &a[1], &a[2], &dout, dims, mask)
                    - objective(&b[0], &b[1], &b[2], &dout, dims, mask))
                    / (2.0 * h)
            };
            for idx in (0..t * width).step_by(97) {
                assert!(
                    (grads.dq[idx] as f64 - fd(0, idx)).abs() < 2e-3,
                    "dq[{idx}] {} vs {}",
                    grads.dq[idx],
                    fd(0, idx)
                );
            }
            for idx in (0..cache).step_by(41) {
                let pos = (idx / dims.head_dim) % dims.capacity;
                if pos >= t {
                    continue;
                }
                assert!(
                    (grads.dk[idx] as f64 - fd(1, idx)).abs() < 2e-3,
                    "dk[{idx}] {} vs {}",
                    grads.dk[idx],
                    fd(1, idx)
                );
                assert!(
                    (grads.dv[idx] as f64 - fd(2, idx)).abs() < 2e-3,
                    "dv[{idx}] {} vs {}",
                    grads.dv[idx],
                    fd(2, idx)
                );
            }
        }
    }
}
