//! Rotary position embedding in transformers' rotate-half layout (`apply_rotary_pos_emb`):
//! `out = v·cos + rotate_half(v)·sin`, `rotate_half([a, b]) = [−b, a]`, on each head's vector.

use crate::simd::{Madd, multiversion};

#[inline(always)]
fn rope_body<M: Madd>(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    let half = head_dim / 2;
    for v in x.chunks_exact_mut(head_dim) {
        let (a, b) = v.split_at_mut(half);
        for i in 0..half {
            let (x1, x2) = (a[i], b[i]);
            a[i] = M::madd(x1, cos[i], -(x2 * sin[i]));
            b[i] = M::madd(x2, cos[half + i], x1 * sin[half + i]);
        }
    }
}

multiversion!(fn rope_heads(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) => rope_body);

/// Rotates every head of one token in place.
///
/// # Shapes
/// - `x`: `[heads · head_dim]` (one token's q or k row)
/// - `cos`, `sin`: `[head_dim]`, the table rows of this token's position (HF repeats each half)
///
/// # Panics
/// If the lengths disagree or `head_dim` is odd.
pub fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    assert!(
        head_dim.is_multiple_of(2) && x.len().is_multiple_of(head_dim),
        "rope: bad head_dim {head_dim}"
    );
    assert!(
        cos.len() == head_dim && sin.len() == head_dim,
        "rope: table rows must be head_dim"
    );
    rope_heads(x, head_dim, cos, sin);
}

#[inline(always)]
fn rope_back_body<M: Madd>(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    let half = head_dim / 2;
    for v in x.chunks_exact_mut(head_dim) {
        let (a, b) = v.split_at_mut(half);
        for i in 0..half {
            let (g1, g2) = (a[i], b[i]);
            a[i] = M::madd(g1, cos[i], g2 * sin[half + i]);
            b[i] = M::madd(g2, cos[half + i], -(g1 * sin[i]));
        }
    }
}

multiversion!(fn rope_back_heads(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) => rope_back_body);

/// Backward of [`rope`]: maps the gradient of the rotated vectors back to the unrotated ones
/// (the transpose of the rotation, i.e. the rotation by the opposite angle), in place.
///
/// # Panics
/// As [`rope`].
pub fn rope_backward(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32]) {
    assert!(
        head_dim.is_multiple_of(2) && x.len().is_multiple_of(head_dim),
        "rope_backward: bad head_dim {head_dim}"
    );
    assert!(
        cos.len() == head_dim && sin.len() == head_dim,
        "rope_backward: table rows must be head_dim"
    );
    rope_back_heads(x, head_dim, cos, sin);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_pairs_by_the_angle() {
        // One head of dim 4 at angles (θ0, θ1): pairs (x0, x2) and (x1, x3) rotate.
        let (t0, t1) = (0.3f32, 1.1f32);
        let cos = [t0.cos(), t1.cos(), t0.cos(), t1.cos()];
        let sin = [t0.sin(), t1.sin(), t0.sin(), t1.sin()];
        let mut x = [1.0f32, 2.0, 3.0, 4.0];
        rope(&mut x, 4, &cos, &sin);
        let want = [
            1.0 * t0.cos() - 3.0 * t0.sin(),
            2.0 * t1.cos() - 4.0 * t1.sin(),
            3.0 * t0.cos() + 1.0 * t0.sin(),
            4.0 * t1.cos() + 2.0 * t1.sin(),
        ];
        for i in 0..4 {
            assert!(
                (x[i] - want[i]).abs() < 1e-6,
                "{i}: {} vs {}",
                x[i],
                want[i]
            );
        }
    }
}
