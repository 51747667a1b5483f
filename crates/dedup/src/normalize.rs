//! Text normalisation for duplicate detection: Unicode NFKC, full case folding
//! (Unicode `CaseFolding.txt`, statuses C+F, as in UAX #15 / Unicode §3.13 "Default
//! Case Folding"), punctuation removal and whitespace folding.
//!
//! The result is the text both exact hashing and shingling work on. Two texts
//! that differ only by compatibility forms (ligatures, full-width letters,
//! non-breaking spaces), by case (`"Straße"` / `"STRASSE"`), by punctuation or by
//! the amount and kind of whitespace normalise to the same string.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};
use xxhash_rust::xxh3::xxh3_128;

/// Normalises `text` for duplicate detection.
///
/// Steps, in order:
/// 1. Unicode NFKC;
/// 2. full default case folding (`ß` → `ss`, final sigma → `σ`, …), then NFKC
///    again when folding produced a non-NFKC string (e.g. Greek with iota subscript);
/// 3. every run of whitespace becomes one ASCII space, leading and trailing
///    whitespace is dropped;
/// 4. every character that is neither alphanumeric nor whitespace (punctuation,
///    symbols, format characters such as ZERO WIDTH SPACE or SOFT HYPHEN, and
///    combining marks that are not alphabetic) is removed without leaving a space,
///    so `"don't"` and `"dont"` agree.
///
/// Pure-ASCII input takes a byte-level fast path with the same result.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    if text.is_ascii() {
        fold_ascii(text, &mut out);
        return out;
    }
    let nfkc: String = if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        text.to_owned()
    } else {
        text.nfkc().collect()
    };
    let mut folded = caseless::default_case_fold_str(&nfkc);
    if is_nfkc_quick(folded.chars()) != IsNormalized::Yes {
        folded = folded.nfkc().collect();
    }
    fold_chars(&folded, &mut out);
    out
}

/// The 128-bit XXH3 hash of [`normalize`]`(text)`: the key of exact deduplication.
pub fn exact_hash(normalized: &str) -> u128 {
    xxh3_128(normalized.as_bytes())
}

fn fold_ascii(text: &str, out: &mut String) {
    let mut pending_space = false;
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(char::from(b.to_ascii_lowercase()));
        } else if b.is_ascii_whitespace() || b == 0x0b {
            pending_space = true;
        }
    }
}

fn fold_chars(text: &str, out: &mut String) {
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else if c.is_whitespace() {
            pending_space = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folding_is_full_not_lowercase() {
        // `to_lowercase` keeps `ß`; full case folding maps it to "ss".
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(normalize("STRASSE"), "strasse");
        assert_eq!(normalize("ẞ"), "ss");
        // Final and non-final sigma fold to the same letter.
        assert_eq!(normalize("ΟΔΟΣ"), normalize("οδος"));
        assert_eq!(normalize("οδος"), "οδοσ");
    }

    #[test]
    fn nfkc_compatibility_forms() {
        // Ligature, full-width letters, superscript digit, composed vs decomposed é.
        assert_eq!(normalize("ﬁnd"), "find");
        assert_eq!(normalize("ＡＢＣ"), "abc");
        assert_eq!(normalize("x²"), "x2");
        assert_eq!(normalize("caf\u{e9}"), normalize("cafe\u{301}"));
        assert_eq!(normalize("caf\u{e9}"), "caf\u{e9}");
    }

    #[test]
    fn punctuation_and_whitespace_fold() {
        assert_eq!(normalize("  Hello,\t\tWORLD!\n"), "hello world");
        assert_eq!(normalize("don't stop"), "dont stop");
        assert_eq!(normalize("We\u{2019}ll go\u{a0}now."), "well go now");
        assert_eq!(normalize("a\u{200b}b \u{ad}c"), "ab c");
        assert_eq!(normalize("!!! ???"), "");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn ascii_fast_path_agrees_with_unicode_path() {
        for s in [
            "The Quick  brown fox -- jumps!",
            "  x\u{b}y\r\nz\t",
            "A1 b2\u{c}C3 ...",
        ] {
            let mut slow = String::new();
            fold_chars(&caseless::default_case_fold_str(s), &mut slow);
            assert_eq!(normalize(s), slow, "{s:?}");
        }
    }

    #[test]
    fn exact_hash_matches_normalised_variants() {
        let t = "Panics if len does not lie on a valid boundary.";
        let variants = [
            t.to_uppercase(),
            format!("  {}\n", t.replace(' ', "  ")),
            format!("{}!", t.trim_end_matches('.')),
        ];
        let h = exact_hash(&normalize(t));
        for v in variants {
            assert_eq!(exact_hash(&normalize(&v)), h, "{v:?}");
        }
        assert_ne!(exact_hash(&normalize("another text")), h);
    }
}
