//! Metrics as lm-evaluation-harness 0.4 computes them (`api/metrics.py`, `filters/extraction.py`):
//! multiple-choice accuracies from per-choice log-likelihoods, regex answer extraction,
//! `exact_match` with `regexes_to_ignore`, corpus perplexities and the standard error of a mean.

use regex::Regex;

use crate::error::{Error, Result};
use crate::task::FilterDef;

/// Index of the largest value; the first on ties (numpy `argmax`).
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

/// Per-document multiple-choice scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChoiceScores {
    /// argmax of the log-likelihoods is the gold choice.
    pub acc: f64,
    /// argmax of log-likelihood / characters of the choice (lm-eval `acc_norm`).
    pub acc_norm: f64,
    /// argmax of log-likelihood / UTF-8 bytes of the choice (lm-eval `acc_bytes`).
    pub acc_bytes: f64,
}

/// Scores one multiple-choice document; `choices` are the choice texts without the delimiter.
pub fn choice_scores(logprobs: &[f64], choices: &[String], gold: usize) -> ChoiceScores {
    let hit = |i: usize| if i == gold { 1.0 } else { 0.0 };
    let by = |len: fn(&String) -> usize| -> Vec<f64> {
        logprobs
            .iter()
            .zip(choices)
            .map(|(l, c)| l / len(c).max(1) as f64)
            .collect()
    };
    ChoiceScores {
        acc: hit(argmax(logprobs)),
        acc_norm: hit(argmax(&by(|c| c.chars().count()))),
        acc_bytes: hit(argmax(&by(String::len))),
    }
}

/// Mean and its standard error (`sample_stddev / sqrt(n)`, lm-eval `mean_stderr`).
pub fn mean_stderr(values: &[f64]) -> (f64, Option<f64>) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, None);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, None);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, Some((var / n as f64).sqrt()))
}

/// A compiled answer-extraction filter (lm-eval `RegexFilter` followed by `take_first`).
#[derive(Debug, Clone)]
pub struct Extractor {
    /// Filter name.
    pub name: String,
    regex: Regex,
    group_select: i64,
    fallback: String,
}

impl Extractor {
    /// Compiles `def`.
    pub fn new(def: &FilterDef) -> Result<Self> {
        Ok(Extractor {
            name: def.name.clone(),
            regex: Regex::new(&def.regex)
                .map_err(|e| Error::task("filter", format!("{}: {e}", def.name)))?,
            group_select: def.group_select,
            fallback: def.fallback.clone(),
        })
    }

    /// Python `re.findall` semantics: the whole match without groups, the group with one, the
    /// first non-empty group with several; then `group_select` picks a match.
    pub fn extract(&self, text: &str) -> String {
        let groups = self.regex.captures_len() - 1;
        let found: Vec<String> = self
            .regex
            .captures_iter(text)
            .map(|c| match groups {
                0 => c[0].to_string(),
                1 => c.get(1).map_or("", |m| m.as_str()).to_string(),
                _ => (1..=groups)
                    .filter_map(|g| c.get(g).map(|m| m.as_str()))
                    .find(|s| !s.is_empty())
                    .unwrap_or("")
                    .to_string(),
            })
            .collect();
        let n = found.len() as i64;
        let idx = if self.group_select < 0 {
            n + self.group_select
        } else {
            self.group_select
        };
        match usize::try_from(idx).ok().and_then(|i| found.get(i)) {
            Some(s) if !s.is_empty() => s.trim().to_string(),
            _ => self.fallback.clone(),
        }
    }
}

/// lm-eval `exact_match` with `ignore_case` and `regexes_to_ignore` applied to both sides.
pub fn exact_match(prediction: &str, reference: &str, ignore: &[Regex], ignore_case: bool) -> f64 {
    let clean = |s: &str| {
        let mut s = s.to_string();
        for r in ignore {
            s = r.replace_all(&s, "").into_owned();
        }
        if ignore_case { s.to_lowercase() } else { s }
    };
    if clean(prediction) == clean(reference) {
        1.0
    } else {
        0.0
    }
}

/// lm-eval's word count for perplexities: `len(re.split(r"\s+", text))`.
pub fn count_words(text: &str) -> usize {
    let re = Regex::new(r"\s+").expect("static regex");
    re.split(text).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(regex: &str, group_select: i64) -> Extractor {
        Extractor::new(&FilterDef {
            name: "f".into(),
            regex: regex.into(),
            group_select,
            fallback: "[invalid]".into(),
        })
        .unwrap()
    }

    #[test]
    fn gsm8k_filters_extract_like_lm_eval() {
        let out = "She has 3 + 4 = 7 apples, costing $1,200. The answer is 1,200.";
        assert_eq!(
            filter(r"The answer is (\-?[0-9\.\,]+).", 0).extract(out),
            "1,200"
        );
        assert_eq!(
            filter(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", -1).extract(out),
            "1,200."
        );
        assert_eq!(
            filter(r"The answer is (\-?[0-9\.\,]+).", 0).extract("no"),
            "[invalid]"
        );
        let ignore: Vec<Regex> = [",", "\\$", "(?s).*#### ", "\\.$"]
            .iter()
            .map(|r| Regex::new(r).unwrap())
            .collect();
        assert_eq!(exact_match("1,200.", "1200", &ignore, true), 1.0);
        assert_eq!(exact_match("$12", "#### 12", &ignore, true), 1.0);
        assert_eq!(exact_match("13", "12", &ignore, true), 0.0);
    }

    #[test]
    fn accuracies_normalise_by_characters_and_bytes() {
        let choices: Vec<String> = ["ab", "abcdef", "é"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // raw: choice 0 best; per char: -4/2=-2, -6/6=-1, -1.5/1 → choice 1; per byte: é has 2
        // bytes → -0.75 → choice 2.
        let s = choice_scores(&[-4.0, -6.0, -1.5], &choices, 1);
        assert_eq!((s.acc, s.acc_norm, s.acc_bytes), (0.0, 1.0, 0.0));
        // raw → 2; per char -0.6, -1, -1.1 → 0; per byte -0.6, -1, -0.55 → 2.
        let s = choice_scores(&[-1.2, -6.0, -1.1], &choices, 2);
        assert_eq!((s.acc, s.acc_norm, s.acc_bytes), (1.0, 0.0, 1.0));
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1, "first maximum wins");
    }

    #[test]
    fn stderr_is_the_sample_standard_error() {
        let (m, se) = mean_stderr(&[1.0, 0.0, 1.0, 1.0]);
        assert_eq!(m, 0.75);
        // sample variance = 0.25, /4 → 0.0625, sqrt = 0.25
        assert!((se.unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(
            count_words(" a b\n c"),
            4,
            "leading whitespace gives an empty first piece"
        );
    }
}
