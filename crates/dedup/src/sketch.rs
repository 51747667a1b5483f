//! Fast Similarity Sketching (Dahlgaard, Knudsen, Thorup, FOCS 2017, "Fast Similarity
//! Sketching", arXiv:1704.04370): a `k`-slot Jaccard sketch in expected `O(n + k log k)`
//! hash evaluations instead of the `n·k` of classic k-permutation MinHash ([`crate::minhash`]).
//!
//! Every element `x` throws one ball per round `i = 0, 1, …`: in rounds `i < k` the ball lands
//! in a random slot with value `i + u` (`u` uniform in `[0, 1)`); in round `k + j` it lands in
//! slot `j`. A slot keeps the smallest value it receives. Because round `i` values lie in
//! `[i, i + 1)`, once every slot is filled later rounds cannot change anything and the loop
//! stops — typically after `k·ln k / n` rounds, with the second phase only for slots still
//! empty after `k` rounds (tiny sets).
//!
//! For two sets `A`, `B` and a slot `j`, the smallest ball in `j` over `A ∪ B` comes from an
//! element that is uniform over `A ∪ B`; the slot agrees iff that element is in `A ∩ B`, so
//! `Pr[S_j(A) = S_j(B)] = J(A, B)` exactly, as for MinHash; the paper shows the estimate
//! concentrates as well as with `k` independent permutations. The LSH S-curve is checked
//! empirically in the tests below.
//!
//! Hashing: each round `i` has a 64-bit seed from SplitMix64(user seed); a ball is
//! `fmix64(x ^ seed_i)` (MurmurHash3's finaliser) of the element's XXH3-64 hash `x`; its low 32
//! bits pick the slot (Lemire's multiply-shift range reduction), its high 32 bits are `u`. A slot
//! value is `(round << 32) | u`. All of this is fixed arithmetic, so sketches do not change
//! across crate versions.

use crate::minhash::SplitMix64;

/// MurmurHash3's 64-bit finaliser (Appleby): a bijective avalanche mix.
#[inline]
pub fn fmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

/// A seeded Fast Similarity Sketch with `k` slots.
#[derive(Clone, Debug)]
pub struct FastSketcher {
    k: usize,
    /// One seed per round, `2k` rounds.
    seeds: Vec<u64>,
}

impl FastSketcher {
    /// `k` slots (at least 1), round seeds derived from `seed`.
    pub fn new(k: usize, seed: u64) -> Self {
        let k = k.max(1);
        let mut rng = SplitMix64::new(seed ^ 0x5eed_f55f_5eed_f55f);
        Self {
            k,
            seeds: (0..2 * k).map(|_| rng.next_u64()).collect(),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.k
    }

    /// Whether the sketch has no slots (never: `k >= 1`).
    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// Writes the sketch of a set of (distinct) 64-bit element hashes into `out`
    /// (length [`FastSketcher::len`]). An empty set gives all `u64::MAX`.
    pub fn sketch_into(&self, set: &[u64], out: &mut [u64]) {
        debug_assert_eq!(out.len(), self.k);
        out.fill(u64::MAX);
        if set.is_empty() {
            return;
        }
        let k = self.k as u64;
        for (round, &seed) in self.seeds[..self.k].iter().enumerate() {
            let base = (round as u64) << 32;
            for &x in set {
                let h = fmix64(x ^ seed);
                let slot = &mut out[(((h & 0xffff_ffff) * k) >> 32) as usize];
                *slot = (*slot).min(base | (h >> 32));
            }
            // Branch-free updates above; one vectorised scan per round decides the stop.
            if !out.contains(&u64::MAX) {
                return;
            }
        }
        // Phase two: round k + j throws every ball into slot j.
        for (j, slot) in out.iter_mut().enumerate() {
            if *slot == u64::MAX {
                let seed = self.seeds[self.k + j];
                let u = set.iter().map(|&x| fmix64(x ^ seed) >> 32).min();
                *slot = (((self.k + j) as u64) << 32) | u.unwrap_or(0);
            }
        }
    }

    /// The sketch of a set.
    pub fn sketch(&self, set: &[u64]) -> Vec<u64> {
        let mut out = vec![0; self.k];
        self.sketch_into(set, &mut out);
        out
    }
}

/// Estimated Jaccard similarity: the fraction of equal slots.
pub fn estimate(a: &[u64], b: &[u64]) -> f64 {
    crate::minhash::estimate_jaccard(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lsh::LshParams;
    use crate::shingle::jaccard;

    /// Random sets sharing `common` elements, with `own` elements each.
    fn pair(rng: &mut SplitMix64, common: usize, own: usize) -> (Vec<u64>, Vec<u64>) {
        let shared: Vec<u64> = (0..common).map(|_| rng.next_u64()).collect();
        let mut a = shared.clone();
        let mut b = shared;
        a.extend((0..own).map(|_| rng.next_u64()));
        b.extend((0..own).map(|_| rng.next_u64()));
        (a, b)
    }

    #[test]
    fn fmix64_reference_values() {
        // MurmurHash3 fmix64 is a bijection with fmix64(0) = 0; value for 1 from the
        // reference C implementation.
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
    }

    #[test]
    fn every_slot_filled_and_order_independent() {
        let s = FastSketcher::new(126, 7);
        let mut rng = SplitMix64::new(1);
        for n in [1usize, 2, 5, 90, 1000] {
            let set: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
            let sk = s.sketch(&set);
            assert!(sk.iter().all(|&v| v != u64::MAX), "n={n}");
            let mut rev = set.clone();
            rev.reverse();
            assert_eq!(s.sketch(&rev), sk);
        }
        // One element: every slot holds a value of that element.
        let one = s.sketch(&[42]);
        assert!(one.iter().all(|&v| v >> 32 < 2 * 126));
        assert_eq!(s.sketch(&[]), vec![u64::MAX; 126]);
    }

    #[test]
    fn slot_by_hand_for_a_single_element() {
        // With one element and k = 1, round 0 fills the only slot.
        let s = FastSketcher::new(1, 3);
        let h = fmix64(99 ^ s.seeds[0]);
        assert_eq!(s.sketch(&[99]), vec![h >> 32]);
    }

    #[test]
    fn estimate_is_unbiased_and_concentrated() {
        let s = FastSketcher::new(128, 3);
        let mut rng = SplitMix64::new(9);
        for (common, own, want) in [(80, 10, 0.8), (50, 25, 0.5), (90, 5, 0.9)] {
            let mut sum = 0.0;
            let mut worst: f64 = 0.0;
            for _ in 0..300 {
                let (a, b) = pair(&mut rng, common, own);
                assert!((jaccard(&sorted(&a), &sorted(&b)) - want).abs() < 1e-12);
                let e = estimate(&s.sketch(&a), &s.sketch(&b));
                sum += e;
                worst = worst.max((e - want).abs());
            }
            // Mean of 300 estimates: sd <= 0.5/sqrt(128*300) = 0.0026.
            let mean = sum / 300.0;
            assert!((mean - want).abs() < 0.012, "J={want}: mean {mean}");
            // Single estimates: sd <= 0.045, 300 draws stay within ~4.5 sd.
            assert!(worst < 0.2, "J={want}: worst error {worst}");
        }
    }

    fn sorted(v: &[u64]) -> Vec<u64> {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    }

    /// Candidate rate of 21 x 6 banding on 2000 pairs at a given Jaccard.
    fn candidate_rate(common: usize, own: usize) -> f64 {
        let lsh = LshParams { bands: 21, rows: 6 };
        let s = FastSketcher::new(126, 11);
        let mut rng = SplitMix64::new(common as u64 * 1000 + own as u64);
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        let mut hits = 0;
        for _ in 0..2000 {
            let (a, b) = pair(&mut rng, common, own);
            lsh.band_keys(&s.sketch(&a), &mut ka);
            lsh.band_keys(&s.sketch(&b), &mut kb);
            hits += usize::from(ka.iter().zip(&kb).any(|(x, y)| x == y));
        }
        hits as f64 / 2000.0
    }

    #[test]
    fn lsh_s_curve_holds_for_fast_sketches() {
        // The S-curve assumes independent slots; check it empirically on 90-element sets.
        // J = 0.8: P = 0.99831, expected misses 3.4 of 2000.
        let p = candidate_rate(80, 10);
        assert!(p >= 0.995, "J=0.8 candidate rate {p}");
        // J = 0.5: P = 1 - (1 - 0.5^6)^21 = 0.2819, sd of the rate 0.010.
        let p = candidate_rate(50, 25);
        assert!((p - 0.2819).abs() < 0.04, "J=0.5 candidate rate {p}");
        // J = 0.2: P = 1 - (1 - 0.2^6)^21 = 0.00134.
        let p = candidate_rate(15, 30);
        assert!(p < 0.01, "J=0.2 candidate rate {p}");
    }
}
