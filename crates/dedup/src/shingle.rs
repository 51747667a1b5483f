//! Shingling of normalised text into sets of 64-bit XXH3 hashes, and the exact
//! Jaccard similarity of two such sets (Broder 1997, "On the resemblance and
//! containment of documents").
//!
//! A word shingle is the substring of the normalised text spanning `n`
//! consecutive words (words are separated by exactly one space after
//! [`crate::normalize`]), so hashing it needs no allocation. A char shingle is
//! `n` consecutive Unicode scalar values. A text with fewer than `n` units is one
//! shingle (the whole text); an empty text has no shingles.

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// How a normalised text is cut into shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShingleKind {
    /// `n` consecutive words.
    Word,
    /// `n` consecutive characters (spaces included).
    Char,
}

/// Shingling parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shingling {
    /// Unit of the n-grams.
    pub kind: ShingleKind,
    /// Number of units per shingle (at least 1).
    pub n: usize,
}

impl Default for Shingling {
    fn default() -> Self {
        Self {
            kind: ShingleKind::Word,
            n: 5,
        }
    }
}

impl Shingling {
    /// The sorted, deduplicated XXH3-64 hashes of the shingles of `normalized`.
    pub fn shingle_set(&self, normalized: &str) -> Vec<u64> {
        let mut out = Vec::new();
        self.shingle_set_into(normalized, &mut out);
        out
    }

    /// [`Shingling::shingle_set`] into a reused buffer (cleared first).
    pub fn shingle_set_into(&self, normalized: &str, out: &mut Vec<u64>) {
        self.shingle_hashes_into(normalized, out, &mut Vec::new());
        out.sort_unstable();
        out.dedup();
    }

    /// The shingle hashes of `normalized` in text order, repeats included (a sketch
    /// does not care; sort and deduplicate before [`jaccard`]). `scratch` is reused.
    pub fn shingle_hashes_into(
        &self,
        normalized: &str,
        out: &mut Vec<u64>,
        scratch: &mut Vec<usize>,
    ) {
        out.clear();
        if normalized.is_empty() {
            return;
        }
        let n = self.n.max(1);
        let bytes = normalized.as_bytes();
        let word = self.kind == ShingleKind::Word;
        // Start offset of every unit, plus the end of the text as a sentinel.
        let starts = scratch;
        starts.clear();
        if word {
            starts.push(0);
            starts.extend(
                bytes
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b' ')
                    .map(|(i, _)| i + 1),
            );
        } else {
            starts.extend(normalized.char_indices().map(|(i, _)| i));
        }
        let units = starts.len();
        starts.push(bytes.len() + usize::from(word));
        if units <= n {
            out.push(xxh3_64(bytes));
            return;
        }
        out.extend((0..=units - n).map(|i| {
            // For words, the end excludes the separating space before the next word.
            let end = starts[i + n] - usize::from(word);
            xxh3_64(&bytes[starts[i]..end])
        }));
    }
}

/// Size of the intersection of two sorted, deduplicated slices (a linear merge).
pub fn intersection_size(a: &[u64], b: &[u64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        n += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(y <= x);
    }
    n
}

/// Exact Jaccard similarity `|A ∩ B| / |A ∪ B|` of two sorted, deduplicated sets.
/// Two empty sets have similarity 1.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let inter = intersection_size(a, b);
    inter as f64 / (a.len() + b.len() - inter) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn word(n: usize) -> Shingling {
        Shingling {
            kind: ShingleKind::Word,
            n,
        }
    }

    /// Independent reference: split, join windows with spaces, hash.
    fn reference(text: &str, s: Shingling) -> Vec<u64> {
        let units: Vec<String> = match s.kind {
            ShingleKind::Word => text.split(' ').map(str::to_owned).collect(),
            ShingleKind::Char => text.chars().map(String::from).collect(),
        };
        let sep = if s.kind == ShingleKind::Word { " " } else { "" };
        if text.is_empty() {
            return vec![];
        }
        if units.len() <= s.n {
            return vec![xxh3_64(text.as_bytes())];
        }
        let set: BTreeSet<u64> = units
            .windows(s.n)
            .map(|w| xxh3_64(w.join(sep).as_bytes()))
            .collect();
        set.into_iter().collect()
    }

    #[test]
    fn word_shingles_match_reference() {
        let text = "a b c d e f a b c d e g";
        let got = word(5).shingle_set(text);
        assert_eq!(got, reference(text, word(5)));
        // 8 windows, of which "a b c d e" appears twice.
        assert_eq!(got.len(), 7);
        assert!(got.contains(&xxh3_64(b"b c d e f")));
        assert!(!got.contains(&xxh3_64(b"c d e g")));
        assert!(got.contains(&xxh3_64(b"c d e f a")));
    }

    #[test]
    fn char_shingles_match_reference() {
        let s = Shingling {
            kind: ShingleKind::Char,
            n: 3,
        };
        for text in ["héllo wörld", "abcabc", "ab"] {
            assert_eq!(s.shingle_set(text), reference(text, s), "{text:?}");
        }
        assert_eq!(s.shingle_set("abcabc").len(), 3); // abc, bca, cab
    }

    #[test]
    fn raw_hashes_are_in_text_order_with_repeats() {
        let mut raw = Vec::new();
        word(2).shingle_hashes_into("a b a b", &mut raw, &mut Vec::new());
        let h = |s: &str| xxh3_64(s.as_bytes());
        assert_eq!(raw, vec![h("a b"), h("b a"), h("a b")]);
    }

    #[test]
    fn short_and_empty_texts() {
        assert_eq!(word(5).shingle_set("one two"), vec![xxh3_64(b"one two")]);
        assert_eq!(word(2).shingle_set("one two"), vec![xxh3_64(b"one two")]);
        assert!(word(5).shingle_set("").is_empty());
    }

    #[test]
    fn jaccard_of_known_sets() {
        assert_eq!(jaccard(&[1, 2, 3, 4], &[3, 4, 5, 6]), 2.0 / 6.0);
        assert_eq!(jaccard(&[1, 2, 3], &[1, 2, 3]), 1.0);
        assert_eq!(jaccard(&[1], &[2]), 0.0);
        assert_eq!(jaccard(&[], &[]), 1.0);
        assert_eq!(jaccard(&[], &[7]), 0.0);
        assert_eq!(intersection_size(&[1, 5, 9, 12], &[0, 5, 9, 10, 12, 13]), 3);
    }
}
