//! Next-token selection from logits: greedy, temperature, top-k, top-p and repetition penalty,
//! seeded and reproducible.
//!
//! Applies the processors in the order transformers' `generate()` does (`generation/logits_process.py`):
//! repetition penalty → temperature → top-k → top-p → softmax → multinomial draw.

use serde::{Deserialize, Serialize};

/// Sampling settings. `temperature == 0` (or `greedy`) means arg-max.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplingConfig {
    /// Always pick the most likely token.
    pub greedy: bool,
    /// Softmax temperature; 0 behaves as greedy.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens (0 = off).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability mass reaches `p` (1.0 = off).
    pub top_p: f32,
    /// CTRL-style penalty for tokens already present (1.0 = off).
    pub repetition_penalty: f32,
    /// RNG seed.
    pub seed: u64,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            greedy: true,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            repetition_penalty: 1.0,
            seed: 0,
        }
    }
}

/// A small, fixed PRNG (xoshiro256**, seeded through splitmix64) so draws never change with
/// crate upgrades.
#[derive(Debug, Clone)]
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Picks tokens according to a [`SamplingConfig`].
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplingConfig,
    rng: Rng,
}

impl Sampler {
    /// A sampler seeded from the config.
    pub fn new(config: SamplingConfig) -> Self {
        let rng = Rng::new(config.seed);
        Sampler { config, rng }
    }

    /// The settings in use.
    pub fn config(&self) -> &SamplingConfig {
        &self.config
    }

    /// Chooses the next token. `history` is every token so far (prompt and generated), which
    /// the repetition penalty looks at. `logits` is modified in place.
    pub fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        let c = &self.config;
        if c.repetition_penalty != 1.0 {
            apply_repetition_penalty(logits, history, c.repetition_penalty);
        }
        if c.greedy || c.temperature <= 0.0 {
            return argmax(logits);
        }
        let inv_t = 1.0 / c.temperature;
        // Candidates sorted by logit, descending; ties broken by token id for determinism.
        let mut idx: Vec<u32> = (0..logits.len() as u32).collect();
        idx.sort_unstable_by(|&a, &b| {
            logits[b as usize]
                .total_cmp(&logits[a as usize])
                .then(a.cmp(&b))
        });
        if c.top_k > 0 && c.top_k < idx.len() {
            idx.truncate(c.top_k);
        }
        let max = logits[idx[0] as usize] * inv_t;
        let mut probs: Vec<f64> = idx
            .iter()
            .map(|&i| f64::from(logits[i as usize] * inv_t - max).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if c.top_p < 1.0 {
            // Keep tokens until the mass reaches top_p (always at least one).
            let mut mass = 0.0;
            let mut keep = probs.len();
            for (n, p) in probs.iter().enumerate() {
                mass += p;
                if mass >= f64::from(c.top_p) {
                    keep = n + 1;
                    break;
                }
            }
            probs.truncate(keep);
            idx.truncate(keep);
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|p| *p /= total);
        }
        let u = self.rng.next_f64();
        let mut acc = 0.0;
        for (p, &i) in probs.iter().zip(&idx) {
            acc += p;
            if u < acc {
                return i;
            }
        }
        *idx.last().unwrap_or(&0)
    }
}

/// Index of the largest logit (the first one on ties, as `torch.argmax`).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// transformers' `RepetitionPenaltyLogitsProcessor`: negative logits are multiplied by the
/// penalty, positive ones divided, once per distinct token in `history`.
pub fn apply_repetition_penalty(logits: &mut [f32], history: &[u32], penalty: f32) {
    let mut seen = std::collections::HashSet::new();
    for &t in history {
        if (t as usize) < logits.len() && seen.insert(t) {
            let l = &mut logits[t as usize];
            *l = if *l < 0.0 { *l * penalty } else { *l / penalty };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(temperature: f32, top_k: usize, top_p: f32) -> SamplingConfig {
        SamplingConfig {
            greedy: false,
            temperature,
            top_k,
            top_p,
            repetition_penalty: 1.0,
            seed: 7,
        }
    }

    #[test]
    fn greedy_is_argmax_and_penalty_follows_hf_rule() {
        let mut s = Sampler::new(SamplingConfig::default());
        assert_eq!(s.sample(&mut [0.1, 3.0, -1.0], &[]), 1);
        let mut l = [2.0, -2.0, 1.0];
        apply_repetition_penalty(&mut l, &[0, 1, 1], 2.0);
        assert_eq!(l, [1.0, -4.0, 1.0]);
    }

    #[test]
    fn top_k_one_and_tiny_top_p_are_greedy() {
        let logits = [0.5f32, 2.0, 1.9, -3.0];
        for c in [cfg(1.0, 1, 1.0), cfg(1.0, 0, 0.01)] {
            let mut s = Sampler::new(c);
            for _ in 0..20 {
                assert_eq!(s.sample(&mut logits.clone(), &[]), 1);
            }
        }
    }

    #[test]
    fn frequencies_follow_softmax_and_seed_reproduces() {
        let logits = [0.0f32, (2.0f32).ln(), (5.0f32).ln()]; // p = 1/8, 2/8, 5/8
        let mut s = Sampler::new(cfg(1.0, 0, 1.0));
        let mut counts = [0usize; 3];
        let draws: Vec<u32> = (0..40_000)
            .map(|_| s.sample(&mut logits.clone(), &[]))
            .collect();
        for &d in &draws {
            counts[d as usize] += 1;
        }
        for (c, p) in counts.iter().zip([0.125, 0.25, 0.625]) {
            assert!((*c as f64 / 40_000.0 - p).abs() < 0.01, "{counts:?}");
        }
        let mut again = Sampler::new(cfg(1.0, 0, 1.0));
        let replay: Vec<u32> = (0..100)
            .map(|_| again.sample(&mut logits.clone(), &[]))
            .collect();
        assert_eq!(&draws[..100], &replay[..]);
    }

    #[test]
    fn top_p_drops_the_tail() {
        // p = 0.625, 0.25, 0.125: top_p 0.8 keeps the first two only.
        let logits = [(5.0f32).ln(), (2.0f32).ln(), 0.0];
        let mut s = Sampler::new(cfg(1.0, 0, 0.8));
        assert!((0..5000).all(|_| s.sample(&mut logits.clone(), &[]) != 2));
    }
}
