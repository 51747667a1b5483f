//! MinHash signatures (Broder 1997) with a seeded family of multiply-add-shift
//! hash functions (Dietzfelbinger 1996, "Universal hashing and k-wise independent
//! random variables via integer arithmetic without primes").
//!
//! Permutation `i` maps a 32-bit key `x` to `((a_i·x + b_i) mod 2^64) >> 32`
//! with 64-bit `a_i`, `b_i` drawn from SplitMix64 seeded with the user seed. This
//! family is strongly universal from 32-bit keys to 32-bit values, needs no prime
//! modulus, and wrapping `u64` arithmetic is exactly what it is defined with, so
//! the overflow bug of `(a·x + b) mod (2^61 − 1)` computed in wrapping `u64`
//! cannot happen. The key is the low 32 bits of the shingle's XXH3-64 hash; XXH3's
//! output is fixed by its specification, so signatures stay valid across crate
//! versions. The exact Jaccard check in the pipeline uses the full 64-bit hashes.

/// SplitMix64 (Steele, Lea, Flood 2014): the fixed stream that turns a seed into
/// hash-function coefficients.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A stream starting at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// A seeded family of `num_perm` hash functions producing MinHash signatures.
#[derive(Clone, Debug)]
pub struct MinHasher {
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// `num_perm` functions derived from `seed`.
    pub fn new(num_perm: usize, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut a = Vec::with_capacity(num_perm);
        let mut b = Vec::with_capacity(num_perm);
        for _ in 0..num_perm {
            a.push(rng.next_u64());
            b.push(rng.next_u64());
        }
        Self { a, b }
    }

    /// Number of hash functions (signature length).
    pub fn num_perm(&self) -> usize {
        self.a.len()
    }

    /// Writes the signature of a shingle-hash set into `out` (length
    /// [`MinHasher::num_perm`]). An empty set gives all `u32::MAX`.
    pub fn signature_into(&self, set: &[u64], out: &mut [u32]) {
        debug_assert_eq!(out.len(), self.a.len());
        out.fill(u32::MAX);
        // Shingles in the outer loop keep `a`, `b` and `out` streaming through
        // the inner loop, which the compiler vectorises.
        for &h in set {
            let x = u64::from(h as u32);
            for ((o, &a), &b) in out.iter_mut().zip(&self.a).zip(&self.b) {
                let v = (a.wrapping_mul(x).wrapping_add(b) >> 32) as u32;
                *o = (*o).min(v);
            }
        }
    }

    /// The signature of a shingle-hash set.
    pub fn signature(&self, set: &[u64]) -> Vec<u32> {
        let mut out = vec![0; self.a.len()];
        self.signature_into(set, &mut out);
        out
    }
}

/// MinHash estimate of the Jaccard similarity: the fraction of equal positions (also the
/// estimator of the fast similarity sketch in `sketch.rs`).
pub fn estimate_jaccard<T: PartialEq>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shingle::jaccard;

    /// Two sets of random 64-bit hashes sharing `common` elements, each with
    /// `own` elements of its own; their Jaccard is `common / (common + 2·own)`.
    fn pair(rng: &mut SplitMix64, common: usize, own: usize) -> (Vec<u64>, Vec<u64>) {
        let shared: Vec<u64> = (0..common).map(|_| rng.next_u64()).collect();
        let mut a = shared.clone();
        let mut b = shared;
        a.extend((0..own).map(|_| rng.next_u64()));
        b.extend((0..own).map(|_| rng.next_u64()));
        a.sort_unstable();
        b.sort_unstable();
        (a, b)
    }

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 0 from the reference C implementation
        // (Vigna, splitmix64.c), as listed in many test suites.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(r.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn hash_function_by_hand() {
        let m = MinHasher::new(2, 7);
        let (a0, b0) = (m.a[0], m.b[0]);
        let sig = m.signature(&[0x1234_5678_9abc_def0, 5]);
        let h = |x: u64| ((u128::from(a0) * u128::from(x) + u128::from(b0)) % (1u128 << 64)) >> 32;
        let want = h(0x9abc_def0).min(h(5)) as u32;
        assert_eq!(sig[0], want);
        assert_eq!(m.signature(&[]), vec![u32::MAX; 2]);
    }

    #[test]
    fn estimate_is_close_to_true_jaccard() {
        // With 256 functions the estimate's standard deviation is at most
        // sqrt(J(1-J)/256) <= 0.031; 4 sigma is 0.125. Fixed seeds make this exact.
        let m = MinHasher::new(256, 42);
        let mut rng = SplitMix64::new(1);
        let mut total_err = 0.0;
        let cases = [(90, 5), (80, 10), (60, 20), (40, 30), (10, 45), (0, 50)];
        for &(common, own) in &cases {
            let (a, b) = pair(&mut rng, common, own);
            let j = jaccard(&a, &b);
            let est = estimate_jaccard(&m.signature(&a), &m.signature(&b));
            assert!((est - j).abs() < 0.125, "J={j} estimate={est}");
            total_err += est - j;
        }
        // No systematic bias: the mean signed error over the cases is small.
        assert!((total_err / cases.len() as f64).abs() < 0.04, "{total_err}");
    }

    #[test]
    fn estimate_is_unbiased_over_many_pairs() {
        // 400 independent pairs at J = 0.8 (80 shared, 10 own each): the mean of
        // the estimates has standard deviation 0.4/sqrt(128*400) < 0.002.
        let m = MinHasher::new(128, 3);
        let mut rng = SplitMix64::new(9);
        let mut sum = 0.0;
        for _ in 0..400 {
            let (a, b) = pair(&mut rng, 80, 10);
            sum += estimate_jaccard(&m.signature(&a), &m.signature(&b));
        }
        let mean = sum / 400.0;
        assert!((mean - 0.8).abs() < 0.01, "mean estimate {mean}");
    }

    #[test]
    fn seed_changes_functions_deterministically() {
        let set = [1u64, 2, 3, 99, 1 << 40];
        assert_eq!(
            MinHasher::new(16, 5).signature(&set),
            MinHasher::new(16, 5).signature(&set)
        );
        assert_ne!(
            MinHasher::new(16, 5).signature(&set),
            MinHasher::new(16, 6).signature(&set)
        );
    }
}
