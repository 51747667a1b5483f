//! Weighted, seeded mixing of training sources. Follows seqio's `Mixture` (per-source rates on
//! any scale, as T5 and FLAN mix tasks) made exact and reproducible: instead of drawing a source
//! for every example, each source gets a largest-remainder quota of the total, drawn without
//! replacement and upsampled by whole shuffled passes, then everything is shuffled together.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{Error, Result};
use crate::schema::Example;

/// One source's share of a [`mix`].
#[derive(Clone, Debug, PartialEq)]
pub struct SourceCount {
    /// Source name.
    pub name: String,
    /// Rows the source had.
    pub available: usize,
    /// Its weight as given.
    pub weight: f64,
    /// Rows drawn from it.
    pub taken: usize,
    /// Draws beyond its size (copies made by extra passes).
    pub repeated: usize,
}

/// What [`mix`] produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MixResult {
    /// The mixed rows, shuffled together.
    pub examples: Vec<Example>,
    /// Per source, in input order.
    pub counts: Vec<SourceCount>,
}

/// SplitMix64 (Steele et al., 2014): a tiny fixed PRNG, so mixes stay reproducible across
/// dependency upgrades.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-and-reject; `n > 0`).
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// Weighted, seeded mixing of named sources.
///
/// * Source `i` gets a quota of `total · wᵢ / Σw` rows, rounded by largest remainder (ties to
///   the earlier source) so the quotas sum to `total` exactly. Weights need not sum to 1.
/// * `total = None` means the largest mix with these proportions that repeats no row:
///   `min over wᵢ > 0 of ⌊nᵢ · Σw / wᵢ⌋` (the source that runs out first is used whole).
/// * Within a source, rows are drawn without replacement in a seeded shuffled order. A quota
///   larger than the source takes whole extra passes, each in a fresh shuffled order
///   (upsampling), so no row is repeated twice before every row is repeated once;
///   [`SourceCount::repeated`] reports the copies.
/// * Each source's order depends only on `seed` and its name, so adding a source does not change
///   which rows the others contribute; the result is then shuffled together with `seed`.
///
/// Errors: a weight that is negative or not finite, all weights zero, or a source with a
/// positive weight and no rows.
pub fn mix(
    sources: &[(String, Vec<Example>, f64)],
    total: Option<usize>,
    seed: u64,
) -> Result<MixResult> {
    let invalid = |what: &str, reason: String| Error::Invalid {
        what: what.to_string(),
        reason,
    };
    for (name, rows, w) in sources {
        if !w.is_finite() || *w < 0.0 {
            return Err(invalid(
                "mix weight",
                format!("source {name:?} has weight {w}; weights must be finite and >= 0"),
            ));
        }
        if *w > 0.0 && rows.is_empty() {
            return Err(invalid(
                "mix source",
                format!("source {name:?} has weight {w} but no rows"),
            ));
        }
    }
    let sum: f64 = sources.iter().map(|s| s.2).sum();
    if sum <= 0.0 {
        return Err(invalid("mix weights", "all weights are zero".into()));
    }
    let natural = sources
        .iter()
        .filter(|s| s.2 > 0.0)
        .map(|s| (s.1.len() as f64 * sum / s.2).floor() as usize)
        .min()
        .unwrap_or(0);
    let total = total.unwrap_or(natural);
    let mut quotas: Vec<usize> = Vec::with_capacity(sources.len());
    let mut remainders: Vec<(f64, usize)> = Vec::new();
    for (i, (_, _, w)) in sources.iter().enumerate() {
        let exact = total as f64 * w / sum;
        quotas.push(exact.floor() as usize);
        remainders.push((exact - exact.floor(), i));
    }
    let short = total.saturating_sub(quotas.iter().sum());
    remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders
        .iter()
        .filter(|r| sources[r.1].2 > 0.0)
        .take(short)
    {
        quotas[i] += 1;
    }
    let mut picked: Vec<(usize, usize)> = Vec::with_capacity(total);
    let mut counts = Vec::with_capacity(sources.len());
    for (s, ((name, rows, w), &quota)) in sources.iter().zip(&quotas).enumerate() {
        let mut rng = SplitMix64(xxh3_64_with_seed(name.as_bytes(), seed));
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut need = quota;
        while need > 0 {
            rng.shuffle(&mut order);
            let take = need.min(order.len());
            picked.extend(order[..take].iter().map(|&r| (s, r)));
            need -= take;
        }
        counts.push(SourceCount {
            name: name.clone(),
            available: rows.len(),
            weight: *w,
            taken: quota,
            repeated: quota.saturating_sub(rows.len()),
        });
    }
    SplitMix64(seed).shuffle(&mut picked);
    let examples = picked
        .into_iter()
        .map(|(s, r)| sources[s].1[r].clone())
        .collect();
    tracing::debug!(total, sources = sources.len(), "mixed sources");
    Ok(MixResult { examples, counts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, n: usize, w: f64) -> (String, Vec<Example>, f64) {
        let rows = (0..n)
            .map(|i| Example {
                id: format!("{name}{i}"),
                source: name.into(),
                ..Default::default()
            })
            .collect();
        (name.to_string(), rows, w)
    }

    fn by_source(rows: &[Example], name: &str) -> usize {
        rows.iter().filter(|e| e.source == name).count()
    }

    #[test]
    fn mix_hits_the_weights_and_repeats_by_whole_passes() {
        let sources = [
            source("a", 1000, 0.5),
            source("b", 300, 0.3),
            source("c", 50, 0.2),
        ];
        let out = mix(&sources, Some(1000), 7).unwrap();
        assert_eq!(out.examples.len(), 1000);
        let taken: Vec<(usize, usize)> = out.counts.iter().map(|c| (c.taken, c.repeated)).collect();
        assert_eq!(taken, [(500, 0), (300, 0), (200, 150)]);
        for (name, expected) in [("a", 500), ("b", 300), ("c", 200)] {
            assert_eq!(by_source(&out.examples, name), expected);
        }
        let mut ids: Vec<&str> = out.examples.iter().map(|e| e.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(
            ids.len(),
            500 + 300 + 50,
            "a and b without replacement, c in 4 whole passes"
        );
        // The sources are interleaved: every 250-row window is near the 50/30/20 split.
        for window in out.examples.chunks(250) {
            for (name, share) in [("a", 0.5), ("b", 0.3), ("c", 0.2)] {
                let got = by_source(window, name) as f64 / 250.0;
                assert!((got - share).abs() < 0.08, "{name}: {got} vs {share}");
            }
        }
        assert_eq!(
            out,
            mix(&sources, Some(1000), 7).unwrap(),
            "same seed, same mix"
        );
        assert_ne!(out.examples, mix(&sources, Some(1000), 8).unwrap().examples);
    }

    #[test]
    fn mix_quotas_and_default_total() {
        let sources = [
            source("a", 10, 2.0),
            source("b", 10, 2.0),
            source("c", 10, 2.0),
        ];
        let out = mix(&sources, Some(10), 1).unwrap();
        let taken: Vec<usize> = out.counts.iter().map(|c| c.taken).collect();
        assert_eq!(
            taken,
            [4, 3, 3],
            "largest remainder, ties to the earlier source"
        );
        // No total: as large as possible without repeating a row of the scarcest source.
        let sources = [
            source("a", 1000, 1.0),
            source("b", 300, 1.0),
            source("z", 5, 0.0),
        ];
        let out = mix(&sources, None, 1).unwrap();
        let taken: Vec<(usize, usize)> = out.counts.iter().map(|c| (c.taken, c.repeated)).collect();
        assert_eq!(taken, [(300, 0), (300, 0), (0, 0)]);
        // Adding a source does not change what another contributes.
        let alone = mix(&sources[1..2], Some(300), 1).unwrap();
        let mut with: Vec<&str> = out
            .examples
            .iter()
            .filter(|e| e.source == "b")
            .map(|e| e.id.as_str())
            .collect();
        let mut without: Vec<&str> = alone.examples.iter().map(|e| e.id.as_str()).collect();
        with.sort_unstable();
        without.sort_unstable();
        assert_eq!(with, without);
    }

    #[test]
    fn mix_rejects_bad_weights() {
        for w in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(mix(&[source("a", 3, w)], Some(3), 0).is_err(), "{w}");
        }
        assert!(mix(&[source("a", 3, 0.0)], Some(3), 0).is_err());
        assert!(mix(&[source("a", 3, 1.0), source("empty", 0, 1.0)], Some(3), 0).is_err());
        assert!(mix(&[], None, 0).is_err());
    }
}
