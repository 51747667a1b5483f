//! Dense f32 products `y = x · W` for a linear layer, in whichever layout the weight is stored.
//!
//! Few rows (decode, speculative verification) are bound by streaming the weight from memory;
//! the `gemm` crate runs them through its matrix-matrix machinery at 5–12 GFLOP/s, so they
//! take our own kernels here, which stream each weight byte once at the machine's bandwidth
//! (measured ~19 GB/s over SmolLM2's 425 MB of layer weights on 2 cores, the same as
//! PyTorch's MKL `F.linear` on that machine). Many rows (prefill, scoring, training) go to
//! `gemm`, which reaches 170–185 GFLOP/s at prefill shapes on the same machine.

use rayon::prelude::*;

use crate::simd::{LANES, Madd, hsum, multiversion};

/// How a weight matrix is stored, row-major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightLayout {
    /// `[k, n]`: `y = x · W` (burn's `Linear` layout).
    KN,
    /// `[n, k]`: `y = x · Wᵀ` (PyTorch `nn.Linear` and embedding matrices, e.g. a tied LM head).
    NK,
}

/// Rows at or below which the streaming kernels beat `gemm` (measured, see the crate README).
pub const SMALL_M: usize = 4;

/// A read-only strided matrix view over a slice.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// Backing storage.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Stride between rows, in elements.
    pub row_stride: usize,
    /// Stride between columns, in elements.
    pub col_stride: usize,
}

/// A writable strided matrix view over a slice.
#[derive(Debug)]
pub struct MatMut<'a> {
    /// Backing storage.
    pub data: &'a mut [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Stride between rows, in elements.
    pub row_stride: usize,
    /// Stride between columns, in elements.
    pub col_stride: usize,
}

fn last_index(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    (rows.max(1) - 1) * rs + (cols.max(1) - 1) * cs
}

/// `dst = scale·lhs·rhs` (or `dst += scale·lhs·rhs` with `accumulate`) through the `gemm`
/// crate, on all rayon threads when `parallel`.
///
/// # Panics
/// If the shapes disagree or a view reaches past its slice.
pub fn gemm(
    dst: MatMut<'_>,
    lhs: MatRef<'_>,
    rhs: MatRef<'_>,
    scale: f32,
    accumulate: bool,
    parallel: bool,
) {
    assert_eq!(lhs.cols, rhs.rows, "gemm: inner dimensions differ");
    assert!(
        dst.rows == lhs.rows && dst.cols == rhs.cols,
        "gemm: output shape"
    );
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        last_index(m, n, dst.row_stride, dst.col_stride) < dst.data.len(),
        "gemm: dst bounds"
    );
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst.data[r * dst.row_stride + c * dst.col_stride] = 0.0;
                }
            }
        }
        return;
    }
    assert!(
        last_index(m, k, lhs.row_stride, lhs.col_stride) < lhs.data.len(),
        "gemm: lhs bounds"
    );
    assert!(
        last_index(k, n, rhs.row_stride, rhs.col_stride) < rhs.data.len(),
        "gemm: rhs bounds"
    );
    let threads = rayon::current_num_threads();
    let par = if parallel && threads > 1 {
        ::gemm::Parallelism::Rayon(threads)
    } else {
        ::gemm::Parallelism::None
    };
    // SAFETY: every index the product touches, `(rows-1)·rs + (cols-1)·cs`, was checked to lie
    // inside its slice above; `dst` is borrowed mutably and does not alias `lhs` or `rhs`.
    #[allow(unsafe_code)]
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.col_stride as isize,
            dst.row_stride as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            scale,
            false,
            false,
            false,
            par,
        );
    }
}

/// `y = x · W`.
///
/// # Shapes
/// - `x`: `[m, k]`; `w`: `[k, n]` (`KN`) or `[n, k]` (`NK`); `y`: `[m, n]`, overwritten
///
/// # Panics
/// If a slice length disagrees with the dimensions.
pub fn matmul(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    layout: WeightLayout,
    n: usize,
    y: &mut [f32],
) {
    assert_eq!(x.len(), m * k, "matmul: x is not [{m}, {k}]");
    assert_eq!(w.len(), k * n, "matmul: weight is not {k}×{n}");
    assert_eq!(y.len(), m * n, "matmul: y is not [{m}, {n}]");
    if m == 0 || n == 0 {
        return;
    }
    if m > SMALL_M {
        let rhs = match layout {
            WeightLayout::KN => MatRef {
                data: w,
                rows: k,
                cols: n,
                row_stride: n,
                col_stride: 1,
            },
            WeightLayout::NK => MatRef {
                data: w,
                rows: k,
                cols: n,
                row_stride: 1,
                col_stride: k,
            },
        };
        let lhs = MatRef {
            data: x,
            rows: m,
            cols: k,
            row_stride: k,
            col_stride: 1,
        };
        let dst = MatMut {
            data: y,
            rows: m,
            cols: n,
            row_stride: n,
            col_stride: 1,
        };
        gemm(dst, lhs, rhs, 1.0, false, true);
        return;
    }
    if layout == WeightLayout::KN && n <= ROW_SPLIT_MAX_N {
        kn_row_split(x, m, k, w, n, y);
        return;
    }
    let blocks = column_blocks(n);
    let run = |c0: usize, c1: usize, out: &mut [f32]| match layout {
        WeightLayout::KN => kn_block(x, m, k, w, n, c0, out),
        WeightLayout::NK => nk_block(x, m, k, &w[c0 * k..c1 * k], out),
    };
    if m == 1 {
        let width = blocks[0].1 - blocks[0].0;
        y.par_chunks_mut(width).enumerate().for_each(|(b, out)| {
            let c0 = b * width;
            run(c0, c0 + out.len(), out);
        });
    } else {
        let parts: Vec<Vec<f32>> = blocks
            .par_iter()
            .map(|&(c0, c1)| {
                let mut out = vec![0f32; m * (c1 - c0)];
                run(c0, c1, &mut out);
                out
            })
            .collect();
        for (&(c0, c1), part) in blocks.iter().zip(&parts) {
            let nb = c1 - c0;
            for r in 0..m {
                y[r * n + c0..r * n + c1].copy_from_slice(&part[r * nb..(r + 1) * nb]);
            }
        }
    }
}

/// Output widths up to which a `[k, n]` weight is split by rows between threads (each streams
/// one contiguous region, four rows from its four quarters at a time, into a private `[m, n]`
/// partial sum) rather than by columns (strided segments).
const ROW_SPLIT_MAX_N: usize = 8192;

fn kn_row_split(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, y: &mut [f32]) {
    let threads = rayon::current_num_threads().max(1);
    let per = k.div_ceil(threads).div_ceil(4) * 4;
    let ranges: Vec<(usize, usize)> = (0..k)
        .step_by(per.max(4))
        .map(|i0| (i0, (i0 + per).min(k)))
        .collect();
    let mut parts: Vec<Vec<f32>> = ranges
        .par_iter()
        .map(|&(i0, i1)| {
            let mut part = vec![0f32; m * n];
            kn_rows(x, m, k, w, n, i0, i1, &mut part);
            part
        })
        .collect();
    let first = parts.swap_remove(0);
    y.copy_from_slice(&first);
    for part in &parts {
        add_into(y, part);
    }
}

#[inline(always)]
fn add_into_body<M: Madd>(y: &mut [f32], part: &[f32]) {
    for (a, b) in y.iter_mut().zip(part) {
        *a += *b;
    }
}

multiversion!(fn add_into(y: &mut [f32], part: &[f32]) => add_into_body);

/// `out[m, n] += Σ_{i ∈ i0..i1} x[:, i]·W[i, :]`, four rows from the range's four quarters at a
/// time (four independent memory streams).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn kn_rows_body<M: Madd>(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    i0: usize,
    i1: usize,
    out: &mut [f32],
) {
    let quarter = (i1 - i0) / 4;
    for j in 0..quarter {
        let at = [
            i0 + j,
            i0 + j + quarter,
            i0 + j + 2 * quarter,
            i0 + j + 3 * quarter,
        ];
        let (w0, w1, w2, w3) = (
            &w[at[0] * n..(at[0] + 1) * n],
            &w[at[1] * n..(at[1] + 1) * n],
            &w[at[2] * n..(at[2] + 1) * n],
            &w[at[3] * n..(at[3] + 1) * n],
        );
        for r in 0..m {
            let (a0, a1, a2, a3) = (
                x[r * k + at[0]],
                x[r * k + at[1]],
                x[r * k + at[2]],
                x[r * k + at[3]],
            );
            let yr = &mut out[r * n..(r + 1) * n];
            for ((((yv, p0), p1), p2), p3) in yr.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                *yv = M::madd(
                    *p3,
                    a3,
                    M::madd(*p2, a2, M::madd(*p1, a1, M::madd(*p0, a0, *yv))),
                );
            }
        }
    }
    for i in i0 + 4 * quarter..i1 {
        let wi = &w[i * n..(i + 1) * n];
        for r in 0..m {
            let a = x[r * k + i];
            for (yv, p) in out[r * n..(r + 1) * n].iter_mut().zip(wi) {
                *yv = M::madd(*p, a, *yv);
            }
        }
    }
}

multiversion!(fn kn_rows(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, i0: usize, i1: usize, out: &mut [f32]) => kn_rows_body);

/// Equal column blocks (a multiple of 16 wide except the last), enough to keep every thread
/// busy and each block's output rows in L1.
fn column_blocks(n: usize) -> Vec<(usize, usize)> {
    let threads = rayon::current_num_threads().max(1);
    let want = if n >= 4096 { threads * 8 } else { threads };
    let width = n.div_ceil(want).div_ceil(LANES).max(1) * LANES;
    let width = width.min(4096);
    (0..n)
        .step_by(width)
        .map(|c0| (c0, (c0 + width).min(n)))
        .collect()
}

#[inline(always)]
fn kn_block_body<M: Madd>(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    c0: usize,
    out: &mut [f32],
) {
    let nb = out.len() / m;
    out.fill(0.0);
    let mut i = 0;
    while i + 4 <= k {
        let row = |q: usize| &w[(i + q) * n + c0..(i + q) * n + c0 + nb];
        let (w0, w1, w2, w3) = (row(0), row(1), row(2), row(3));
        for r in 0..m {
            let xr = &x[r * k + i..r * k + i + 4];
            let (a0, a1, a2, a3) = (xr[0], xr[1], xr[2], xr[3]);
            let yr = &mut out[r * nb..(r + 1) * nb];
            for ((((yv, p0), p1), p2), p3) in yr.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                *yv = M::madd(
                    *p3,
                    a3,
                    M::madd(*p2, a2, M::madd(*p1, a1, M::madd(*p0, a0, *yv))),
                );
            }
        }
        i += 4;
    }
    while i < k {
        let w0 = &w[i * n + c0..i * n + c0 + nb];
        for r in 0..m {
            let a = x[r * k + i];
            for (yv, p) in out[r * nb..(r + 1) * nb].iter_mut().zip(w0) {
                *yv = M::madd(*p, a, *yv);
            }
        }
        i += 1;
    }
}

multiversion!(fn kn_block(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, c0: usize, out: &mut [f32]) => kn_block_body);

#[inline(always)]
fn nk_block_body<M: Madd>(x: &[f32], m: usize, k: usize, w: &[f32], out: &mut [f32]) {
    let nb = out.len() / m;
    let full = k / LANES * LANES;
    // The four rows of a pass come from the four quarters of the block: four independent
    // memory streams keep more prefetches in flight than four adjacent rows (measured: the
    // 576×49152 LM head streams at 33–38 GB/s this way, 20 GB/s with adjacent rows).
    let quarter = nb / 4;
    for j in 0..quarter {
        let at = [j, j + quarter, j + 2 * quarter, j + 3 * quarter];
        let (r0, r1, r2, r3) = (
            &w[at[0] * k..(at[0] + 1) * k],
            &w[at[1] * k..(at[1] + 1) * k],
            &w[at[2] * k..(at[2] + 1) * k],
            &w[at[3] * k..(at[3] + 1) * k],
        );
        for r in 0..m {
            let xr = &x[r * k..(r + 1) * k];
            let (mut a0, mut a1, mut a2, mut a3) =
                ([0f32; LANES], [0f32; LANES], [0f32; LANES], [0f32; LANES]);
            let chunks = xr[..full]
                .chunks_exact(LANES)
                .zip(r0[..full].chunks_exact(LANES))
                .zip(r1[..full].chunks_exact(LANES))
                .zip(r2[..full].chunks_exact(LANES))
                .zip(r3[..full].chunks_exact(LANES));
            for ((((xv, w0), w1), w2), w3) in chunks {
                for l in 0..LANES {
                    a0[l] = M::madd(w0[l], xv[l], a0[l]);
                    a1[l] = M::madd(w1[l], xv[l], a1[l]);
                    a2[l] = M::madd(w2[l], xv[l], a2[l]);
                    a3[l] = M::madd(w3[l], xv[l], a3[l]);
                }
            }
            let mut sums = [hsum(&a0), hsum(&a1), hsum(&a2), hsum(&a3)];
            for c in full..k {
                for (q, row) in [r0, r1, r2, r3].iter().enumerate() {
                    sums[q] = M::madd(row[c], xr[c], sums[q]);
                }
            }
            for (q, s) in sums.iter().enumerate() {
                out[r * nb + at[q]] = *s;
            }
        }
    }
    let mut j = 4 * quarter;
    while j < nb {
        for r in 0..m {
            out[r * nb + j] = crate::simd::dot::<M>(&x[r * k..(r + 1) * k], &w[j * k..(j + 1) * k]);
        }
        j += 1;
    }
}

multiversion!(fn nk_block(x: &[f32], m: usize, k: usize, w: &[f32], out: &mut [f32]) => nk_block_body);

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(
        x: &[f32],
        m: usize,
        k: usize,
        w: &[f32],
        layout: WeightLayout,
        n: usize,
    ) -> Vec<f64> {
        let mut y = vec![0f64; m * n];
        for r in 0..m {
            for j in 0..n {
                for i in 0..k {
                    let wv = match layout {
                        WeightLayout::KN => w[i * n + j],
                        WeightLayout::NK => w[j * k + i],
                    };
                    y[r * n + j] += x[r * k + i] as f64 * wv as f64;
                }
            }
        }
        y
    }

    #[test]
    fn every_path_matches_a_f64_reference() {
        // Odd sizes exercise the tails of every kernel; m spans the streaming and gemm paths,
        // n both sides of ROW_SPLIT_MAX_N.
        for &(m, k, n) in &[
            (1, 7, 5),
            (1, 67, 131),
            (2, 64, 4100),
            (3, 130, 33),
            (4, 5, 17),
            (5, 70, 90),
            (33, 64, 48),
        ] {
            for layout in [WeightLayout::KN, WeightLayout::NK] {
                let x: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.1)
                    .collect();
                let w: Vec<f32> = (0..k * n)
                    .map(|i| ((i * 7 % 31) as f32 - 15.0) * 0.05)
                    .collect();
                let mut y = vec![f32::NAN; m * n];
                matmul(&x, m, k, &w, layout, n, &mut y);
                let want = reference(&x, m, k, &w, layout, n);
                for (i, (a, b)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (*a as f64 - b).abs() < 1e-4 * (1.0 + b.abs()),
                        "{m}x{k}x{n} {layout:?} [{i}]: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn strided_gemm_accumulates() {
        // dst[2×2] += 2·lhs[2×3]·rhsᵀ where rhs is stored [2, 3] (col stride 3).
        let lhs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let rhs = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let mut dst = [10.0, 10.0, 10.0, 10.0];
        gemm(
            MatMut {
                data: &mut dst,
                rows: 2,
                cols: 2,
                row_stride: 2,
                col_stride: 1,
            },
            MatRef {
                data: &lhs,
                rows: 2,
                cols: 3,
                row_stride: 3,
                col_stride: 1,
            },
            MatRef {
                data: &rhs,
                rows: 3,
                cols: 2,
                row_stride: 1,
                col_stride: 3,
            },
            2.0,
            true,
            false,
        );
        assert_eq!(dst, [18.0, 14.0, 30.0, 20.0]);
    }
}
