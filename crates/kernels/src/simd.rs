//! Run-time CPU dispatch: each kernel body is compiled twice, once for AVX2+FMA (x86-64-v3)
//! and once for the baseline target, and the fast copy is chosen when the CPU has it.
//!
//! Bodies are plain Rust over 16-lane arrays, written so LLVM vectorises them; the only thing
//! that differs between copies is how a multiply-add is spelled ([`Madd`]). Measured on this
//! project's 2-core Xeon, the AVX2 copy of the matrix-vector kernel streams weights as fast as
//! hand-written AVX-512 intrinsics (both ~25 GB/s per core from L2), so no intrinsics are used.

use std::sync::OnceLock;

/// Lanes per accumulator array; 16 f32 = one AVX-512 or two AVX2 registers.
pub(crate) const LANES: usize = 16;

/// How a kernel body spells `a·b + c`.
pub(crate) trait Madd {
    /// `a·b + c`.
    fn madd(a: f32, b: f32, c: f32) -> f32;
}

/// A fused multiply-add (one rounding): used where the CPU has FMA.
pub(crate) struct Fused;

impl Madd for Fused {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Separate multiply and add: on x86 without FMA, `mul_add` would be a libm call per element.
pub(crate) struct Plain;

impl Madd for Plain {
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        if cfg!(target_arch = "aarch64") {
            a.mul_add(b, c)
        } else {
            a * b + c
        }
    }
}

/// Whether the AVX2+FMA copies can run on this CPU (checked once).
pub(crate) fn fast() -> bool {
    static FAST: OnceLock<bool> = OnceLock::new();
    *FAST.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Defines `pub fn $name(args)` that runs `$body::<Fused>` compiled for AVX2+FMA when the CPU
/// has them and `$body::<Plain>` otherwise. `$body` must be `#[inline(always)]`.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $body:ident) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn v3($($arg: $ty),*) $(-> $ret)? {
                    $body::<$crate::simd::Fused>($($arg),*)
                }
                if $crate::simd::fast() {
                    // SAFETY: `fast()` checked at run time that the CPU has AVX2 and FMA.
                    #[allow(unsafe_code)]
                    return unsafe { v3($($arg),*) };
                }
            }
            $body::<$crate::simd::Plain>($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// `Σ a[i]·b[i]` with 16 independent accumulators.
#[inline(always)]
pub(crate) fn dot<M: Madd>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            acc[l] = M::madd(x[l], y[l], acc[l]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in ar.iter().zip(br) {
        tail = M::madd(*x, *y, tail);
    }
    hsum(&acc) + tail
}

/// Pairwise sum of one accumulator array.
#[inline(always)]
pub(crate) fn hsum(acc: &[f32; LANES]) -> f32 {
    let mut v = *acc;
    let mut w = LANES / 2;
    while w > 0 {
        for l in 0..w {
            v[l] += v[l + w];
        }
        w /= 2;
    }
    v[0]
}

/// `y[i] += a·x[i]`.
#[inline(always)]
pub(crate) fn axpy<M: Madd>(a: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    for (yv, xv) in y[..n].iter_mut().zip(&x[..n]) {
        *yv = M::madd(a, *xv, *yv);
    }
}
