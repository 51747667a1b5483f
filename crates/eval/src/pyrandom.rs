//! Python's `random.Random` for integer seeds, and lm-eval's few-shot samplers on top of it:
//! follows CPython 3.11 `Modules/_randommodule.c` (MT19937, `init_by_array` seeding,
//! `getrandbits`) and `Lib/random.py` (`_randbelow_with_getrandbits`, `sample`), and
//! lm-evaluation-harness 0.4.13 `lm_eval/api/samplers.py` (`ContextSampler`, `FirstNSampler`).
//!
//! lm-eval draws few-shot examples with one `random.Random(1234)` per task (the seed is
//! `simple_evaluate`'s `fewshot_random_seed`), created when the task is set up and advanced
//! document by document in evaluation order. Reproducing its prompts therefore needs the same
//! generator bit for bit, not just "a" random sample.
//!
//! Expected values in the tests come from `fixtures/gen/pyrandom.py`.

use std::collections::HashSet;
use std::fmt;

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// A Mersenne Twister in the exact state `random.Random(seed)` has in CPython.
#[derive(Clone)]
pub struct PyRandom {
    mt: [u32; N],
    index: usize,
}

impl fmt::Debug for PyRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyRandom")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl PyRandom {
    /// `random.Random(seed)` for a non-negative integer seed.
    ///
    /// CPython takes `abs(seed)`, splits it into 32-bit words, least significant first (one
    /// word `[0]` for zero), and runs `init_by_array` on them.
    pub fn new(seed: u64) -> Self {
        let (lo, hi) = (seed as u32, (seed >> 32) as u32);
        if hi == 0 {
            Self::from_key(&[lo])
        } else {
            Self::from_key(&[lo, hi])
        }
    }

    /// The state for an integer seed given as its 32-bit words, least significant first
    /// (`random.Random(sum(w << 32 * i))`), for seeds beyond `u64`. The key must have no
    /// high zero words (CPython uses exactly `bit_length` bits) and at least one word.
    pub fn from_key(key: &[u32]) -> Self {
        assert!(
            !key.is_empty(),
            "an integer seed has at least one 32-bit word"
        );
        let mut r = PyRandom {
            mt: [0; N],
            index: N,
        };
        r.init_genrand(19_650_218);
        let mt = &mut r.mt;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000; // MSB is 1, assuring a non-zero initial array
        r
    }

    fn init_genrand(&mut self, s: u32) {
        self.mt[0] = s;
        for i in 1..N {
            let prev = self.mt[i - 1] ^ (self.mt[i - 1] >> 30);
            self.mt[i] = 1_812_433_253u32.wrapping_mul(prev).wrapping_add(i as u32);
        }
        self.index = N;
    }

    /// The next raw 32-bit output (`genrand_uint32`), equal to `getrandbits(32)`.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            let mag = |y: u32| if y & 1 == 0 { 0 } else { MATRIX_A };
            for kk in 0..N {
                let y = (self.mt[kk] & UPPER_MASK) | (self.mt[(kk + 1) % N] & LOWER_MASK);
                self.mt[kk] = self.mt[(kk + M) % N] ^ (y >> 1) ^ mag(y);
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `getrandbits(k)` for `k <= 64`. Up to 32 bits it is the top `k` bits of one output;
    /// above, 32-bit words fill the result from the least significant end, the last one
    /// keeping its top bits.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!(k <= 64, "getrandbits({k}): at most 64 bits here");
        match k {
            0 => 0,
            1..=32 => u64::from(self.next_u32() >> (32 - k)),
            _ => {
                let lo = u64::from(self.next_u32());
                let hi = u64::from(self.next_u32() >> (64 - k));
                lo | (hi << 32)
            }
        }
    }

    /// `random()`: a float in [0, 1) with 53 random bits, from two outputs.
    pub fn random(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `_randbelow_with_getrandbits(n)`: rejection sampling with `n.bit_length()` bits
    /// (not `(n - 1).bit_length()`, so a power of two rejects about half the draws).
    ///
    /// # Panics
    /// If `n` is 0 (Python loops forever there).
    pub fn randbelow(&mut self, n: u64) -> u64 {
        assert!(n > 0, "randbelow(0)");
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `sample(range(n), k)`: `k` distinct indices in selection order.
    ///
    /// CPython keeps a list of the unpicked items (swapping the last into each vacancy) when
    /// `n <= setsize`, and otherwise redraws indices already in a set of picks;
    /// `setsize = 21`, plus `4 ** ceil(log(3 * k, 4))` when `k > 5`. The two branches consume
    /// the generator differently, so the choice must match.
    ///
    /// # Panics
    /// If `k > n` (Python's `ValueError: Sample larger than population`).
    pub fn sample_indices(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "sample of {k} from a population of {n}");
        let mut result = Vec::with_capacity(k);
        if n <= setsize(k) {
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = self.randbelow((n - i) as u64) as usize;
                result.push(pool[j]);
                pool[j] = pool[n - i - 1];
            }
        } else {
            let mut selected = HashSet::with_capacity(k);
            for _ in 0..k {
                let mut j = self.randbelow(n as u64) as usize;
                while selected.contains(&j) {
                    j = self.randbelow(n as u64) as usize;
                }
                selected.insert(j);
                result.push(j);
            }
        }
        result
    }

    /// `sample(population, k)`, or `None` when `k` exceeds the population.
    pub fn sample<T: Clone>(&mut self, population: &[T], k: usize) -> Option<Vec<T>> {
        if k > population.len() {
            return None;
        }
        let idx = self.sample_indices(population.len(), k);
        Some(idx.into_iter().map(|i| population[i].clone()).collect())
    }
}

/// CPython's `setsize` for `sample`: 21, plus `4 ** ceil(log4(3k))` when `k > 5`.
///
/// Python computes the exponent with floating-point `math.log(k * 3, 4)`. `3k` is never a power
/// of four, so `ceil` is the smallest `e` with `4^e > 3k`, computed here in integers.
fn setsize(k: usize) -> usize {
    if k <= 5 {
        return 21;
    }
    let target = 3 * k as u128;
    let mut pow: u128 = 1;
    while pow < target {
        pow *= 4;
    }
    21 + pow as usize
}

/// How lm-eval picks few-shot examples (`fewshot_config.sampler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplerKind {
    /// `first_n`: the first `n` docs in split order (MMLU); the seed is never used.
    FirstN,
    /// `default`: `ContextSampler`, `random.Random(seed).sample`.
    Default,
}

/// Why a few-shot draw failed (lm-eval raises `ValueError` / `AssertionError` there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SampleError {
    /// More examples were needed than the pool holds.
    PoolTooSmall {
        /// Docs the draw needed (`n`, or `n + 1` when drawing around an eval doc).
        wanted: usize,
        /// Docs available.
        available: usize,
    },
}

impl fmt::Display for SampleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleError::PoolTooSmall { wanted, available } => {
                write!(
                    f,
                    "{wanted} few-shot docs needed from a pool of {available}"
                )
            }
        }
    }
}

impl std::error::Error for SampleError {}

/// lm-eval 0.4.13's few-shot sampler: one per task, its generator seeded once and advanced by
/// every [`sample`](Self::sample) call, in evaluation order.
///
/// lm-eval passes the eval doc (`eval_doc`) only when `fewshot_split == test_split` in the task
/// config, and that includes both being unset (HellaSwag: validation is scored, examples come
/// from train, and still `n + 1` are drawn). Doc equality is Python's `dict ==`; note that
/// `1 == 1.0` there but not in `serde_json::Value`. An empty-dict eval doc counts as none
/// in lm-eval (`if not eval_doc`); callers pass `None` for it.
#[derive(Debug, Clone)]
pub struct FewshotSampler<T> {
    docs: Vec<T>,
    kind: SamplerKind,
    rng: PyRandom,
}

impl<T: Clone + PartialEq> FewshotSampler<T> {
    /// A sampler over the few-shot pool `docs` (after `process_docs`), seeded like
    /// `ContextSampler(docs, rnd=seed)` / `set_fewshot_seed(seed)`.
    pub fn new(docs: Vec<T>, kind: SamplerKind, seed: u64) -> Self {
        FewshotSampler {
            docs,
            kind,
            rng: PyRandom::new(seed),
        }
    }

    /// The pool.
    pub fn docs(&self) -> &[T] {
        &self.docs
    }

    /// `n` examples, excluding `eval_doc` when given.
    ///
    /// - `first_n`: drop every doc equal to `eval_doc`, then the first `n`.
    /// - `default`: without an eval doc, `sample(pool, n)`. With one, `sample(pool, n + 1)`,
    ///   drop the docs equal to it, keep the first `n`; if duplicates of it left fewer than
    ///   `n`, a second `sample(pool without it, n)` from the same generator replaces the
    ///   result.
    pub fn sample(&mut self, n: usize, eval_doc: Option<&T>) -> Result<Vec<T>, SampleError> {
        let too_small = |wanted, available| SampleError::PoolTooSmall { wanted, available };
        match self.kind {
            SamplerKind::FirstN => {
                let pool: Vec<&T> = match eval_doc {
                    Some(e) => self.docs.iter().filter(|d| *d != e).collect(),
                    None => self.docs.iter().collect(),
                };
                if n > pool.len() {
                    return Err(too_small(n, pool.len()));
                }
                Ok(pool[..n].iter().map(|d| (*d).clone()).collect())
            }
            SamplerKind::Default => {
                if n == 0 {
                    return Ok(Vec::new());
                }
                let Some(e) = eval_doc else {
                    return self
                        .rng
                        .sample(&self.docs, n)
                        .ok_or(too_small(n, self.docs.len()));
                };
                let drawn = self
                    .rng
                    .sample(&self.docs, n + 1)
                    .ok_or(too_small(n + 1, self.docs.len()))?;
                let res: Vec<T> = drawn.into_iter().filter(|d| d != e).take(n).collect();
                if res.len() == n {
                    return Ok(res);
                }
                let pool: Vec<T> = self.docs.iter().filter(|d| *d != e).cloned().collect();
                self.rng.sample(&pool, n).ok_or(too_small(n, pool.len()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Expected values: `python fixtures/gen/pyrandom.py` (CPython 3.11.7, lm-eval 0.4.13).
    use super::*;

    #[test]
    fn raw_outputs_match_cpython() {
        let cases: [(u64, [u32; 5]); 4] = [
            (
                0,
                [3626764237, 1654615998, 3255389356, 3823568514, 1806341205],
            ),
            (
                1234,
                [4150886329, 3342196574, 1892932127, 501869158, 32175636],
            ),
            (
                4294967296,
                [485306839, 1508871100, 1794561286, 4014597330, 71624475],
            ),
            (
                1099511627899,
                [4053542138, 1848172766, 16144985, 3774724539, 600767345],
            ),
        ];
        for (seed, want) in cases {
            let mut r = PyRandom::new(seed);
            let got: Vec<u32> = (0..5).map(|_| r.getrandbits(32) as u32).collect();
            assert_eq!(got, want, "seed {seed}");
        }
        // 2**40 + 123 is the key [123, 256].
        let mut a = PyRandom::new((1 << 40) + 123);
        let mut b = PyRandom::from_key(&[123, 256]);
        assert_eq!(a.next_u32(), b.next_u32());
    }

    #[test]
    fn getrandbits_and_random_match_cpython() {
        let mut r = PyRandom::new(1234);
        let got = [
            r.getrandbits(7),
            r.getrandbits(33),
            r.getrandbits(64),
            r.getrandbits(1),
        ];
        assert_eq!(got, [123, 3342196574, 138193304849869414, 0]);
        let mut r = PyRandom::new(1234);
        let got = [r.random(), r.random(), r.random()];
        assert_eq!(
            got,
            [0.9664535356921388, 0.4407325991753527, 0.007491470058587191]
        );
    }

    #[test]
    fn sample_matches_cpython_in_both_branches() {
        type Case = ((u64, usize, usize), &'static [usize]);
        let cases: &[Case] = &[
            ((1234, 100, 5), &[99, 56, 14, 0, 11]), // setsize 21, set
            ((1234, 7, 7), &[6, 3, 0, 4, 5, 2, 1]), // setsize 85, pool
            (
                (1234, 1000, 30), // setsize 277, set
                &[
                    989, 796, 451, 119, 7, 92, 932, 965, 961, 826, 596, 35, 687, 709, 85, 100, 784,
                    363, 242, 17, 31, 807, 16, 354, 663, 638, 495, 630, 474, 152,
                ],
            ),
            ((1234, 50, 10), &[49, 28, 7, 0, 5, 37, 2, 42, 45, 6]), // setsize 85, pool
            ((1234, 21, 5), &[14, 3, 0, 2, 1]),                     // setsize 21, pool
            ((1234, 22, 5), &[14, 3, 0, 2, 18]),                    // setsize 21, set
            ((1099511627899, 100, 5), &[55, 0, 17, 3, 30]),         // seed 2**40 + 123
            ((4294967296, 30, 6), &[3, 11, 13, 0, 26, 19]),         // seed 2**32, pool
            ((0, 5, 0), &[]),
        ];
        for &((seed, n, k), want) in cases {
            let got = PyRandom::new(seed).sample_indices(n, k);
            assert_eq!(got, want, "Random({seed}).sample(range({n}), {k})");
        }
        let mut r = PyRandom::new(1234);
        let got: Vec<Vec<usize>> = (0..3).map(|_| r.sample_indices(10, 3)).collect();
        assert_eq!(got, [[7, 1, 0], [1, 0, 9], [1, 5, 3]]);
        assert_eq!(PyRandom::new(1).sample(&[1, 2], 3), None);
    }

    #[test]
    fn setsize_matches_python_formula() {
        // 21 + 4 ** ceil(log(3k, 4)) for k > 5.
        let want = [
            (1, 21),
            (5, 21),
            (6, 85),
            (10, 85),
            (21, 85),
            (22, 277),
            (30, 277),
            (86, 1045),
        ];
        for (k, s) in want {
            assert_eq!(setsize(k), s, "k {k}");
        }
    }

    #[test]
    fn context_sampler_mirrors_lm_eval() {
        let docs: Vec<u32> = (0..10).collect();
        let mut s = FewshotSampler::new(docs.clone(), SamplerKind::Default, 1234);
        let got = [
            s.sample(3, None).unwrap(),
            s.sample(3, Some(&4)).unwrap(),
            s.sample(2, Some(&0)).unwrap(),
            s.sample(5, None).unwrap(),
        ];
        let want: [&[u32]; 4] = [&[7, 1, 0], &[1, 0, 9], &[5, 3], &[0, 9, 5, 7, 4]];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, w);
        }

        let mut f = FewshotSampler::new(docs, SamplerKind::FirstN, 1234);
        assert_eq!(f.sample(3, None).unwrap(), [0, 1, 2]);
        assert_eq!(f.sample(3, Some(&1)).unwrap(), [0, 2, 3]);
        assert_eq!(f.sample(3, Some(&7)).unwrap(), [0, 1, 2]);
        assert_eq!(
            f.sample(10, Some(&7)),
            Err(SampleError::PoolTooSmall {
                wanted: 10,
                available: 9
            })
        );
    }

    #[test]
    fn duplicate_eval_docs_take_lm_evals_fallback() {
        // Seed 4 is the first whose 4-of-6 draw takes both copies of 1.
        let dup = vec![0u32, 1, 1, 2, 3, 4];
        let mut s = FewshotSampler::new(dup, SamplerKind::Default, 4);
        assert_eq!(s.sample(3, Some(&1)).unwrap(), [4, 2, 0]);
    }

    #[test]
    fn default_sampler_needs_one_spare_doc_around_the_eval_doc() {
        let mut s = FewshotSampler::new(vec![1u32, 2, 3], SamplerKind::Default, 1234);
        assert_eq!(
            s.sample(3, Some(&9)),
            Err(SampleError::PoolTooSmall {
                wanted: 4,
                available: 3
            })
        );
        assert_eq!(s.sample(0, Some(&9)).unwrap(), Vec::<u32>::new());
    }
}
