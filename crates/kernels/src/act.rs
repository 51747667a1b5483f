//! Elementwise kernels: a vectorisable `exp`, SwiGLU's `silu(gate) ⊙ up` and the residual add.
//!
//! `exp` follows Cephes `expf` (Moshier): `x = n·ln2 + r` with `|r| ≤ ln2/2` (ln2 split in two
//! for exactness; n rounded to nearest), `e^r` by its degree-7 polynomial, `2^n` by building the exponent bits. It is
//! written branch-free over arrays so LLVM vectorises it; libm's `expf` is a scalar call, and it
//! was 8–10 % of prefill time in burn flex's softmax and SiLU.

use rayon::prelude::*;

use crate::simd::{LANES, Madd, hsum, multiversion};

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 = C1 + C2, C1 exact in few bits (Cephes).
const C1: f32 = 0.693_359_4;
const C2: f32 = -2.121_944_4e-4;
/// Cephes expf polynomial coefficients, highest degree first.
const P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];
/// Inputs are clamped to `[LO, HI]` so `2^n` stays a normal float; below `LO` the result is 0.
const HI: f32 = 88.0;
const LO: f32 = -87.336_55;

/// 1.5·2²³: adding it rounds an f32 of magnitude < 2²² to an integer held in the low mantissa
/// bits (round to nearest), which vectorises where `floor` and `as i32` do not.
const ROUND: f32 = 12_582_912.0;

/// `e^x` for one value (the same arithmetic as the vectorised loops).
#[inline(always)]
pub(crate) fn exp1<M: Madd>(x: f32) -> f32 {
    let under = x < LO;
    // Not `clamp`: max/min vectorise to one instruction each (and map NaN to a bound).
    #[allow(clippy::manual_clamp)]
    let x = x.max(LO).min(HI);
    let t = M::madd(x, LOG2E, ROUND);
    let n = t - ROUND;
    let r = M::madd(n, -C2, M::madd(n, -C1, x));
    let mut p = P[0];
    for c in &P[1..] {
        p = M::madd(p, r, *c);
    }
    let y = M::madd(p, r * r, r) + 1.0;
    // The integer n sits in t's low mantissa bits; 2^n is (n + 127) << 23.
    let bits = t.to_bits().wrapping_sub(ROUND.to_bits()).wrapping_add(127) << 23;
    let scaled = y * f32::from_bits(bits);
    if under { 0.0 } else { scaled }
}

#[inline(always)]
fn exp_inplace_body<M: Madd>(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for v in c.iter_mut() {
            *v = exp1::<M>(*v);
        }
    }
    for v in chunks.into_remainder() {
        *v = exp1::<M>(*v);
    }
}

multiversion!(
    /// `x[i] ← e^{x[i]}` (max relative error ~2 ulp; `-inf` and values below −87.34 give 0).
    pub fn exp_inplace(x: &mut [f32]) => exp_inplace_body
);

#[inline(always)]
fn silu_mul_body<M: Madd>(gate: &mut [f32], up: &[f32]) {
    assert_eq!(
        gate.len(),
        up.len(),
        "silu_mul: gate and up differ in length"
    );
    for (g, u) in gate.iter_mut().zip(up) {
        let e = exp1::<M>(-*g);
        *g = *g / (1.0 + e) * *u;
    }
}

multiversion!(fn silu_mul_chunk(gate: &mut [f32], up: &[f32]) => silu_mul_body);

/// SwiGLU: `gate[i] ← silu(gate[i]) · up[i]`, `silu(g) = g / (1 + e^{−g})` (HF's `SiLU`).
///
/// # Panics
/// If the lengths differ.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(
        gate.len(),
        up.len(),
        "silu_mul: gate and up differ in length"
    );
    const CHUNK: usize = 1 << 15;
    if gate.len() <= CHUNK {
        silu_mul_chunk(gate, up);
    } else {
        gate.par_chunks_mut(CHUNK)
            .zip(up.par_chunks(CHUNK))
            .for_each(|(g, u)| silu_mul_chunk(g, u));
    }
}

#[inline(always)]
fn silu_mul_backward_body<M: Madd>(gate: &[f32], up: &[f32], da: &mut [f32], du: &mut [f32]) {
    for (((g, u), d), du) in gate.iter().zip(up).zip(da.iter_mut()).zip(du.iter_mut()) {
        let sig = 1.0 / (1.0 + exp1::<M>(-*g));
        let silu = *g * sig;
        *du = *d * silu;
        *d = *d * *u * sig * M::madd(*g, 1.0 - sig, 1.0);
    }
}

multiversion!(fn silu_mul_backward_chunk(gate: &[f32], up: &[f32], da: &mut [f32], du: &mut [f32]) => silu_mul_backward_body);

/// Backward of [`silu_mul`] (`a = silu(g)·u`): given `da`, writes `du = da·silu(g)` and
/// replaces `da` with `dg = da·u·σ(g)·(1 + g·(1 − σ(g)))`.
///
/// # Panics
/// If the lengths differ.
pub fn silu_mul_backward(gate: &[f32], up: &[f32], da: &mut [f32], du: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == da.len() && da.len() == du.len(),
        "silu_mul_backward: lengths differ"
    );
    const CHUNK: usize = 1 << 15;
    da.par_chunks_mut(CHUNK)
        .zip(du.par_chunks_mut(CHUNK))
        .zip(gate.par_chunks(CHUNK).zip(up.par_chunks(CHUNK)))
        .for_each(|((d, du), (g, u))| silu_mul_backward_chunk(g, u, d, du));
}

#[inline(always)]
fn cross_entropy_row_body<M: Madd>(logits: &mut [f32], target: usize, weight: f32) -> f32 {
    let len = logits.len();
    let max = {
        let mut lanes = [f32::NEG_INFINITY; LANES];
        let mut chunks = logits.chunks_exact(LANES);
        for c in &mut chunks {
            for l in 0..LANES {
                lanes[l] = lanes[l].max(c[l]);
            }
        }
        lanes
            .iter()
            .chain(chunks.remainder())
            .fold(f32::NEG_INFINITY, |m, v| m.max(*v))
    };
    let picked = logits[target];
    let sum = softmax_prefix::<M>(logits, len);
    let inv = 1.0 / sum;
    let scale = weight * inv;
    for v in logits.iter_mut() {
        *v *= scale;
    }
    logits[target] -= weight;
    // −log p(target) = log Σ e^{z − max} − (z_target − max)
    (sum.ln() - (picked - max)) * weight
}

multiversion!(fn cross_entropy_row(logits: &mut [f32], target: usize, weight: f32) -> f32 => cross_entropy_row_body);

/// Weighted cross-entropy of rows of logits against target ids, and its gradient: each row of
/// `logits` (`[rows, vocab]`) is replaced by `weight·(softmax − onehot(target))`. Returns
/// `Σ weight·(−log softmax[target])` (the caller divides by the count, as `ForCausalLMLoss`).
///
/// # Panics
/// If the lengths disagree or a target is outside the vocabulary.
pub fn cross_entropy_grad(
    logits: &mut [f32],
    vocab: usize,
    targets: &[u32],
    weights: &[f32],
) -> f64 {
    assert!(
        logits.len() == targets.len() * vocab && targets.len() == weights.len(),
        "cross_entropy_grad: shapes"
    );
    logits
        .par_chunks_mut(vocab)
        .zip(targets.par_iter().zip(weights.par_iter()))
        .map(|(row, (t, w))| {
            assert!(
                (*t as usize) < vocab,
                "cross_entropy_grad: target {t} outside vocabulary {vocab}"
            );
            cross_entropy_row(row, *t as usize, *w) as f64
        })
        .sum()
}

#[inline(always)]
fn add_inplace_body<M: Madd>(x: &mut [f32], y: &[f32]) {
    assert_eq!(x.len(), y.len(), "add_inplace: lengths differ");
    for (a, b) in x.iter_mut().zip(y) {
        *a += *b;
    }
}

multiversion!(
    /// `x[i] += y[i]` (the residual connection).
    pub fn add_inplace(x: &mut [f32], y: &[f32]) => add_inplace_body
);

/// Unnormalised softmax of `x[..len]` in place, `e^{x − max}`, returning the sum to divide by;
/// entries from `len` on become 0, entries equal to `-inf` (masked keys) exactly 0.
/// `x[..len]` must hold at least one finite value.
#[inline(always)]
pub(crate) fn softmax_prefix<M: Madd>(x: &mut [f32], len: usize) -> f32 {
    let (head, rest) = x.split_at_mut(len);
    rest.fill(0.0);
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = head.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            lanes[l] = lanes[l].max(c[l]);
        }
    }
    let mut max = chunks
        .remainder()
        .iter()
        .fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    for v in lanes {
        max = max.max(v);
    }
    let mut sums = [0f32; LANES];
    let mut chunks = head.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            c[l] = exp1::<M>(c[l] - max);
            sums[l] += c[l];
        }
    }
    let mut sum = hsum(&sums);
    for v in chunks.into_remainder() {
        *v = exp1::<M>(*v - max);
        sum += *v;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_within_a_few_ulp() {
        let xs: Vec<f32> = (-8700..=8790).map(|i| i as f32 * 0.01 + 0.003).collect();
        let mut ys = xs.clone();
        exp_inplace(&mut ys);
        for (x, y) in xs.iter().zip(&ys) {
            let want = (*x as f64).exp();
            let rel = ((*y as f64 - want) / want).abs();
            assert!(rel < 3e-7, "exp({x}) = {y}, libm {want}, rel {rel}");
        }
        let mut edge = vec![f32::NEG_INFINITY, -1000.0, -87.4, 0.0];
        exp_inplace(&mut edge);
        assert_eq!(edge, vec![0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn silu_mul_backward_matches_finite_differences() {
        let g: Vec<f32> = (-20..20).map(|i| i as f32 * 0.31).collect();
        let u: Vec<f32> = (0..40).map(|i| 0.5 - i as f32 * 0.02).collect();
        let mut da: Vec<f32> = (0..40).map(|i| ((i * 7 % 9) as f32 - 4.0) * 0.2).collect();
        let d0 = da.clone();
        let mut du = vec![0f32; 40];
        silu_mul_backward(&g, &u, &mut da, &mut du);
        let f = |g: f64, u: f64| g / (1.0 + (-g).exp()) * u;
        for i in 0..40 {
            let (gi, ui, h) = (g[i] as f64, u[i] as f64, 1e-6);
            let dg = d0[i] as f64 * (f(gi + h, ui) - f(gi - h, ui)) / (2.0 * h);
            let dun = d0[i] as f64 * (f(gi, ui + h) - f(gi, ui - h)) / (2.0 * h);
            assert!(
                (da[i] as f64 - dg).abs() < 1e-5 && (du[i] as f64 - dun).abs() < 1e-5,
                "{i}"
            );
        }
    }

    #[test]
    fn cross_entropy_grad_matches_the_definition() {
        let vocab = 37;
        let mut logits: Vec<f32> = (0..2 * vocab)
            .map(|i| ((i * 11 % 17) as f32 - 8.0) * 0.4)
            .collect();
        let orig = logits.clone();
        let loss = cross_entropy_grad(&mut logits, vocab, &[5, 30], &[1.0, 0.5]);
        let mut want_loss = 0.0;
        for (r, (t, w)) in [(5usize, 1.0f64), (30, 0.5)].iter().enumerate() {
            let row: Vec<f64> = orig[r * vocab..(r + 1) * vocab]
                .iter()
                .map(|v| *v as f64)
                .collect();
            let z: f64 = row.iter().map(|v| v.exp()).sum();
            want_loss += w * (z.ln() - row[*t]);
            for j in 0..vocab {
                let g = w * (row[j].exp() / z - if j == *t { 1.0 } else { 0.0 });
                assert!(
                    (logits[r * vocab + j] as f64 - g).abs() < 1e-6,
                    "row {r} col {j}"
                );
            }
        }
        assert!((loss - want_loss).abs() < 1e-5, "{loss} vs {want_loss}");
    }

    #[test]
    fn silu_mul_matches_definition() {
        let g: Vec<f32> = (-50..50).map(|i| i as f32 * 0.37).collect();
        let u: Vec<f32> = (0..100).map(|i| 1.0 - i as f32 * 0.013).collect();
        let mut out = g.clone();
        silu_mul(&mut out, &u);
        for i in 0..100 {
            let (gd, ud) = (g[i] as f64, u[i] as f64);
            let want = gd / (1.0 + (-gd).exp()) * ud;
            assert!(
                (out[i] as f64 - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{i}"
            );
        }
    }

    #[test]
    fn softmax_prefix_zeroes_masked_and_trailing_entries_and_sums_to_one() {
        let mut x = vec![1.0, f32::NEG_INFINITY, 2.0, 3.0, -1.0, 7.0, 9.0];
        let z0 = softmax_prefix::<crate::simd::Plain>(&mut x, 5);
        x.iter_mut().for_each(|v| *v /= z0);
        assert_eq!((x[1], x[5], x[6]), (0.0, 0.0, 0.0));
        let z: f64 = [1.0f64, 2.0, 3.0, -1.0].iter().map(|v| v.exp()).sum();
        for (j, v) in [(0, 1.0f64), (2, 2.0), (3, 3.0), (4, -1.0)] {
            assert!((x[j] as f64 - v.exp() / z).abs() < 1e-6);
        }
        // 40 entries: the vector body and the tail agree with the definition.
        let mut y: Vec<f32> = (0..40).map(|i| (i as f32 * 0.7).sin() * 5.0).collect();
        let want: Vec<f64> = {
            let z: f64 = y[..37].iter().map(|v| (*v as f64).exp()).sum();
            y[..37].iter().map(|v| (*v as f64).exp() / z).collect()
        };
        let z1 = softmax_prefix::<crate::simd::Plain>(&mut y, 37);
        y.iter_mut().for_each(|v| *v /= z1);
        for j in 0..37 {
            assert!((y[j] as f64 - want[j]).abs() < 1e-6, "{j}");
        }
    }
}
