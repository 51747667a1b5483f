//! Causal scaled-dot-product attention with grouped key/value heads over a KV cache, as
//! transformers' `eager_attention_forward` defines it (`softmax(q·kᵀ/√d + mask)·v`), with
//! the causal, padding and packed-segment masks applied on the fly instead of materialised.
//!
//! Work is split over (head, block of 64 queries); a block's scores `Q·Kᵀ` and output `P·V`
//! are two `gemm` calls, and only keys up to the block's last query are computed (causal).

use rayon::prelude::*;

use crate::act::softmax_prefix;
use crate::matmul::{MatMut, MatRef, gemm};
use crate::simd::{Madd, axpy, dot, multiversion};

/// Queries per work item.
pub(crate) const QUERY_BLOCK: usize = 64;
/// Below this many queries per block, scores are plain dot products instead of `gemm`.
const GEMM_MIN_QUERIES: usize = 8;

/// Dimensions of one attention call (one batch row).
#[derive(Debug, Clone, Copy)]
pub struct AttentionDims {
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`).
    pub n_kv: usize,
    /// Per-head dimension.
    pub head_dim: usize,
    /// Positions already in the cache before this call's queries.
    pub past: usize,
    /// New query positions.
    pub queries: usize,
    /// Positions the cache rows have room for (their stride).
    pub capacity: usize,
}

/// Which keys a query may see, besides causality (`key ≤ past + query`).
#[derive(Debug, Clone, Copy)]
pub struct KeyMask<'a> {
    /// `[past + queries]`: whether each key position is a real token (left padding is not).
    /// A query always sees its own key, so a padded query's row is never empty.
    pub valid: &'a [bool],
    /// `[queries]`: packed-document ids of the new positions (each document one contiguous run);
    /// a query sees only the new keys of its own document, plus every (valid) past key: several
    /// continuations of one cached prefix can be scored in one pass.
    pub segments: Option<&'a [u32]>,
}

/// Attention of one batch row.
///
/// # Shapes
/// - `q`: `[queries, n_heads·head_dim]` (after RoPE)
/// - `k`, `v`: `[n_kv, capacity, head_dim]`, positions `0..past + queries` filled
/// - returns `[queries, n_heads·head_dim]`
///
/// # Panics
/// If a slice is shorter than the dimensions say.
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dims: AttentionDims,
    mask: KeyMask<'_>,
) -> Vec<f32> {
    let AttentionDims {
        n_heads,
        n_kv,
        head_dim: hd,
        past,
        queries,
        capacity,
    } = dims;
    let total = past + queries;
    assert!(
        n_kv > 0 && n_heads.is_multiple_of(n_kv),
        "attention: {n_heads} heads over {n_kv} kv heads"
    );
    assert_eq!(q.len(), queries * n_heads * hd, "attention: q shape");
    assert!(
        k.len() >= n_kv * capacity * hd && v.len() >= n_kv * capacity * hd,
        "attention: cache shape"
    );
    assert!(
        capacity >= total && mask.valid.len() == total,
        "attention: cache/mask length"
    );
    assert!(
        mask.segments.is_none_or(|s| s.len() == queries),
        "attention: segments"
    );
    let width = n_heads * hd;
    let rep = n_heads / n_kv;
    let blocks = queries.div_ceil(QUERY_BLOCK);
    let plain = mask.segments.is_none() && mask.valid.iter().all(|v| *v);
    // One task per (key/value head, query block): the `rep` query heads sharing that key/value
    // head are stacked into one `[rep·block, head_dim]` matrix, so each product is larger.
    let results: Vec<(usize, usize, Vec<f32>)> = (0..n_kv * blocks)
        .into_par_iter()
        .map(|task| {
            let (g, blk) = (task / blocks, task % blocks);
            let (i0, i1) = (blk * QUERY_BLOCK, ((blk + 1) * QUERY_BLOCK).min(queries));
            let kh = &k[g * capacity * hd..(g * capacity + total) * hd];
            let vh = &v[g * capacity * hd..(g * capacity + total) * hd];
            let group = Group {
                g,
                rep,
                i0,
                i1,
                width,
                plain,
            };
            (g, i0, group_block(q, kh, vh, group, dims, mask))
        })
        .collect();
    let mut out = vec![0f32; queries * width];
    for (g, i0, block) in results {
        let qb = block.len() / (rep * hd);
        for (r, row) in block.chunks_exact(hd).enumerate() {
            let (h, i) = (g * rep + r / qb, i0 + r % qb);
            out[i * width + h * hd..i * width + (h + 1) * hd].copy_from_slice(row);
        }
    }
    out
}

/// One work item: query heads `g·rep..(g+1)·rep`, queries `i0..i1`.
#[derive(Debug, Clone, Copy)]
struct Group {
    g: usize,
    rep: usize,
    i0: usize,
    i1: usize,
    width: usize,
    /// No padding and no segments: causality is the only mask.
    plain: bool,
}

/// Output `[rep·(i1 − i0), head_dim]`, head-major (row `r` is head `g·rep + r / qb`, query
/// `i0 + r % qb`).
fn group_block(
    q: &[f32],
    kh: &[f32],
    vh: &[f32],
    grp: Group,
    dims: AttentionDims,
    mask: KeyMask<'_>,
) -> Vec<f32> {
    let hd = dims.head_dim;
    let qb = grp.i1 - grp.i0;
    let (rows, keys) = (grp.rep * qb, dims.past + grp.i1);
    let mut stacked = Vec::with_capacity(rows * hd);
    for h in grp.g * grp.rep..(grp.g + 1) * grp.rep {
        for i in grp.i0..grp.i1 {
            stacked.extend_from_slice(&q[i * grp.width + h * hd..i * grp.width + (h + 1) * hd]);
        }
    }
    // With packed documents, the block's queries see the past and their own documents only:
    // keys between the past and the start of the first query's document are skipped (gathered
    // out), so continuations packed after a long prefix cost what they would alone.
    let lo = match mask.segments {
        Some(seg) => {
            let mut start = grp.i0;
            while start > 0 && seg[start - 1] == seg[grp.i0] {
                start -= 1;
            }
            dims.past + start
        }
        None => dims.past,
    };
    let gathered;
    let (kh, vh, keys) = if lo > dims.past {
        let cols = keys - (lo - dims.past);
        let pick = |src: &[f32]| [&src[..dims.past * hd], &src[lo * hd..keys * hd]].concat();
        gathered = (pick(kh), pick(vh));
        (&gathered.0[..], &gathered.1[..], cols)
    } else {
        (kh, vh, keys)
    };
    let scale = 1.0 / (hd as f32).sqrt();
    let mut scores = vec![0f32; rows * keys];
    let big = rows >= GEMM_MIN_QUERIES;
    if big {
        gemm(
            MatMut {
                data: &mut scores,
                rows,
                cols: keys,
                row_stride: keys,
                col_stride: 1,
            },
            MatRef {
                data: &stacked,
                rows,
                cols: hd,
                row_stride: hd,
                col_stride: 1,
            },
            MatRef {
                data: kh,
                rows: hd,
                cols: keys,
                row_stride: 1,
                col_stride: hd,
            },
            scale,
            false,
            false,
        );
    } else {
        scores_direct(&stacked, kh, hd, keys, scale, &mut scores);
    }
    let mut sums = vec![0f32; rows];
    softmax_rows(&mut scores, &mut sums, keys, qb, lo, grp, dims, mask);
    let mut out = vec![0f32; rows * hd];
    if big {
        gemm(
            MatMut {
                data: &mut out,
                rows,
                cols: hd,
                row_stride: hd,
                col_stride: 1,
            },
            MatRef {
                data: &scores,
                rows,
                cols: keys,
                row_stride: keys,
                col_stride: 1,
            },
            MatRef {
                data: vh,
                rows: keys,
                cols: hd,
                row_stride: hd,
                col_stride: 1,
            },
            1.0,
            false,
            false,
        );
    } else {
        weighted_values(&scores, vh, hd, keys, &mut out);
    }
    for (row, sum) in out.chunks_exact_mut(hd).zip(&sums) {
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|v| *v *= inv);
    }
    out
}

#[inline(always)]
fn scores_direct_body<M: Madd>(
    q: &[f32],
    kh: &[f32],
    hd: usize,
    keys: usize,
    scale: f32,
    scores: &mut [f32],
) {
    for (qv, row) in q.chunks_exact(hd).zip(scores.chunks_exact_mut(keys)) {
        for (j, s) in row.iter_mut().enumerate() {
            *s = scale * dot::<M>(qv, &kh[j * hd..(j + 1) * hd]);
        }
    }
}

multiversion!(fn scores_direct(q: &[f32], kh: &[f32], hd: usize, keys: usize, scale: f32, scores: &mut [f32]) => scores_direct_body);

#[inline(always)]
fn weighted_values_body<M: Madd>(p: &[f32], vh: &[f32], hd: usize, keys: usize, out: &mut [f32]) {
    for (row, o) in p.chunks_exact(keys).zip(out.chunks_exact_mut(hd)) {
        for (j, w) in row.iter().enumerate() {
            if *w != 0.0 {
                axpy::<M>(*w, &vh[j * hd..(j + 1) * hd], o);
            }
        }
    }
}

multiversion!(fn weighted_values(p: &[f32], vh: &[f32], hd: usize, keys: usize, out: &mut [f32]) => weighted_values_body);

/// Scores row `r` is query `i0 + r % qb`; column `c` is key `c` below the past and key
/// `lo + (c − past)` from there (keys `past..lo` were skipped as other documents').
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn softmax_rows_body<M: Madd>(
    scores: &mut [f32],
    sums: &mut [f32],
    keys: usize,
    qb: usize,
    lo: usize,
    grp: Group,
    dims: AttentionDims,
    mask: KeyMask<'_>,
) {
    let past = dims.past;
    let qb_len = grp.i1 - grp.i0;
    // Each query's document start (documents are contiguous runs), found once per block.
    let mut starts = vec![0usize; qb_len];
    if let Some(seg) = mask.segments {
        for q in 0..qb_len {
            let i = grp.i0 + q;
            starts[q] = if q > 0 && seg[i] == seg[i - 1] {
                starts[q - 1]
            } else {
                let mut st = i;
                while st > 0 && seg[st - 1] == seg[i] {
                    st -= 1;
                }
                st
            };
        }
    }
    let past_valid = mask.valid[..past].iter().all(|v| *v);
    let new_valid = mask.valid[past..].iter().all(|v| *v);
    let col = |j: usize| if j < past { j } else { j - (lo - past) };
    for (r, (row, sum)) in scores
        .chunks_exact_mut(keys)
        .zip(sums.iter_mut())
        .enumerate()
    {
        let i = grp.i0 + r % qb;
        let own = past + i;
        let own_col = col(own);
        if !grp.plain {
            if !past_valid {
                for (c, s) in row[..past.min(own_col)].iter_mut().enumerate() {
                    if !mask.valid[c] {
                        *s = f32::NEG_INFINITY;
                    }
                }
            }
            // New keys before the query's own document are another document's.
            let first = if mask.segments.is_some() {
                past + starts[r % qb]
            } else {
                lo
            };
            let first = first.max(lo);
            row[col(lo)..col(first)].fill(f32::NEG_INFINITY);
            if !new_valid {
                for j in first..own {
                    if !mask.valid[j] {
                        row[col(j)] = f32::NEG_INFINITY;
                    }
                }
            }
        }
        *sum = softmax_prefix::<M>(row, own_col + 1);
    }
}

multiversion!(fn softmax_rows(scores: &mut [f32], sums: &mut [f32], keys: usize, qb: usize, lo: usize, grp: Group, dims: AttentionDims, mask: KeyMask<'_>) => softmax_rows_body);

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct evaluation of the definition in f64.
    fn reference(q: &[f32], k: &[f32], v: &[f32], d: AttentionDims, mask: KeyMask<'_>) -> Vec<f64> {
        let (hd, width, rep) = (d.head_dim, d.n_heads * d.head_dim, d.n_heads / d.n_kv);
        let mut out = vec![0f64; d.queries * width];
        for i in 0..d.queries {
            let own = d.past + i;
            for h in 0..d.n_heads {
                let g = h / rep;
                let seen: Vec<usize> = (0..=own)
                    .filter(|&j| {
                        j == own
                            || (mask.valid[j]
                                && (j < d.past
                                    || mask.segments.is_none_or(|s| s[j - d.past] == s[i])))
                    })
                    .collect();
                let s: Vec<f64> = seen
                    .iter()
                    .map(|&j| {
                        (0..hd)
                            .map(|c| {
                                q[i * width + h * hd + c] as f64
                                    * k[(g * d.capacity + j) * hd + c] as f64
                            })
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let max = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|x| (x - max).exp()).sum();
                for (&j, x) in seen.iter().zip(&s) {
                    let p = (x - max).exp() / z;
                    for c in 0..hd {
                        out[i * width + h * hd + c] += p * v[(g * d.capacity + j) * hd + c] as f64;
                    }
                }
            }
        }
        out
    }

    fn check(past: usize, queries: usize, valid: Vec<bool>, segments: Option<Vec<u32>>) {
        let dims = AttentionDims {
            n_heads: 6,
            n_kv: 2,
            head_dim: 20,
            past,
            queries,
            capacity: past + queries + 3,
        };
        let width = dims.n_heads * dims.head_dim;
        let q: Vec<f32> = (0..queries * width)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.03)
            .collect();
        let cache = dims.n_kv * dims.capacity * dims.head_dim;
        let k: Vec<f32> = (0..cache)
            .map(|i| ((i * 53 % 89) as f32 - 44.0) * 0.04)
            .collect();
        let v: Vec<f32> = (0..cache)
            .map(|i| ((i * 17 % 83) as f32 - 41.0) * 0.05)
            .collect();
        let mask = KeyMask {
            valid: &valid,
            segments: segments.as_deref(),
        };
        let got = attention(&q, &k, &v, dims, mask);
        let want = reference(&q, &k, &v, dims, mask);
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                (*a as f64 - b).abs() < 2e-5,
                "past {past} queries {queries} [{i}]: {a} vs {b}"
            );
        }
    }

    #[test]
    fn prefill_decode_padding_and_segments_match_the_definition() {
        // Prefill over two query blocks (gemm path), a short chunk (direct path), one-token decode.
        check(0, 70, vec![true; 70], None);
        check(0, 5, vec![true; 5], None);
        check(9, 1, vec![true; 10], None);
        check(9, 12, vec![true; 21], None);
        // Left padding: the first three keys are not tokens; padded queries see only themselves.
        let mut valid = vec![true; 15];
        valid[..3].fill(false);
        check(0, 15, valid.clone(), None);
        check(12, 3, valid, None);
        // Continuations of a cached prefix packed as segments: each sees the past and itself.
        let seg: Vec<u32> = (0..10).map(|i| if i < 4 { 1 } else { 2 }).collect();
        let mut valid = vec![true; 16];
        valid[0] = false;
        check(6, 10, valid, Some(seg));
        // Blocks that start inside a later document skip the keys of earlier ones: gemm path
        // (a 64-query block from query 64) and direct path (a last block of two queries).
        let seg: Vec<u32> = (0..90)
            .map(|i| {
                if i < 30 {
                    1
                } else if i < 70 {
                    2
                } else {
                    3
                }
            })
            .collect();
        check(6, 90, vec![true; 96], Some(seg));
        let seg: Vec<u32> = (0..66)
            .map(|i| {
                if i < 20 {
                    1
                } else if i < 65 {
                    2
                } else {
                    3
                }
            })
            .collect();
        check(5, 66, vec![true; 71], Some(seg));
        // Packed documents: three segments, the last one padding-free.
        let seg: Vec<u32> = (0..20)
            .map(|i| {
                if i < 7 {
                    1
                } else if i < 16 {
                    2
                } else {
                    3
                }
            })
            .collect();
        check(0, 20, vec![true; 20], Some(seg));
    }
}
