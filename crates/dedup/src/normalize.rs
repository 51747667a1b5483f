//! Text normalisation for duplicate detection: Unicode NFKC, full case folding
//! (Unicode `CaseFolding.txt`, statuses C+F, as in UAX #15 / Unicode §3.13 "Default
//! Case Folding"), punctuation removal and whitespace folding.
//!
//! The result is the text both exact hashing and shingling work on. Two texts
//! that differ only by compatibility forms (ligatures, full-width letters,
//! non-breaking spaces), by case (`"Straße"` / `"STRASSE"`), by punctuation or by
//! the amount and kind of whitespace normalise to the same string.

use caseless::Caseless;
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
/// ASCII characters take a fast path with the same result (the case-folding table
/// is only consulted for non-ASCII characters).
pub fn normalize(text: &str) -> String {
    if let Some(out) = fold_if_nfkc(text) {
        return out;
    }
    let nfkc: String = text.nfkc().collect();
    fold_if_nfkc(&nfkc).unwrap_or_else(|| {
        // Unreachable in practice (NFKC output passes its own quick check), but stay total.
        let mut out = Folder::with_capacity(nfkc.len());
        fold_run(&nfkc, &mut out);
        out.finish()
    })
}

/// Steps 2-4 in one pass, or `None` when the text is not known to be in NFKC. ASCII bytes
/// are NFKC-stable with combining class 0, so only the non-ASCII runs between them are
/// quick-checked and case-folded.
fn fold_if_nfkc(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Folder::with_capacity(text.len());
    let mut i = 0;
    let mut folded_non_ascii = false;
    while i < bytes.len() {
        if bytes[i] < 0x80 {
            let end = bytes[i..]
                .iter()
                .position(|&b| b >= 0x80)
                .map_or(bytes.len(), |p| i + p);
            out.push_ascii_run(&bytes[i..end]);
            i = end;
            continue;
        }
        let end = bytes[i..]
            .iter()
            .position(|&b| b < 0x80)
            .map_or(bytes.len(), |p| i + p);
        let run = &text[i..end];
        if is_nfkc_quick(run.chars()) != IsNormalized::Yes {
            return None;
        }
        folded_non_ascii |= fold_run(run, &mut out);
        i = end;
    }
    let out = out.finish();
    if folded_non_ascii && is_nfkc_quick(out.chars()) != IsNormalized::Yes {
        // Folding left NFKC (e.g. Greek with iota subscript): normalise and fold again.
        let again: String = out.nfkc().collect();
        let mut redo = Folder::with_capacity(again.len());
        fold_run(&again, &mut redo);
        return Some(redo.finish());
    }
    Some(out)
}

/// Case-folds `run` into `out`; returns whether any character changed.
fn fold_run(run: &str, out: &mut Folder) -> bool {
    let mut changed = false;
    for c in run.chars() {
        if c.is_ascii() {
            out.push_ascii(c as u8);
        } else {
            for f in std::iter::once(c).default_case_fold() {
                changed |= f != c;
                out.push(f);
            }
        }
    }
    changed
}

/// The 128-bit XXH3 hash of [`normalize`]`(text)`: the key of exact deduplication.
pub fn exact_hash(normalized: &str) -> u128 {
    xxh3_128(normalized.as_bytes())
}

/// ASCII byte classes: 0 dropped, 1 whitespace, otherwise the lower-cased byte.
static ASCII_CLASS: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else if c.is_ascii_whitespace() || c == 0x0b {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// Applies steps 3 and 4 to already case-folded characters, writing UTF-8 into a
/// pre-sized buffer so the ASCII path is branch-free.
struct Folder {
    buf: Vec<u8>,
    n: usize,
    pending_space: bool,
}

impl Folder {
    fn with_capacity(n: usize) -> Self {
        Self {
            buf: vec![0; n + 16],
            n: 0,
            pending_space: false,
        }
    }

    /// [`Folder::push_ascii`] over a run, with the state in locals (registers).
    fn push_ascii_run(&mut self, run: &[u8]) {
        if self.n + run.len() + 2 > self.buf.len() {
            self.buf.resize(self.n + run.len() + 16, 0);
        }
        let (mut n, mut pending) = (self.n, self.pending_space);
        let buf = &mut self.buf[..];
        for &b in run {
            let c = ASCII_CLASS[usize::from(b & 0x7f)];
            let is_char = c > 1;
            buf[n] = b' ';
            n += usize::from(is_char & pending & (n > 0));
            buf[n] = c;
            n += usize::from(is_char);
            pending = (pending | (c == 1)) & !is_char;
        }
        self.n = n;
        self.pending_space = pending;
    }

    #[inline]
    fn push_ascii(&mut self, b: u8) {
        if self.n + 2 > self.buf.len() {
            self.grow();
        }
        let c = ASCII_CLASS[usize::from(b & 0x7f)];
        let is_char = c > 1;
        let space = is_char & self.pending_space & (self.n > 0);
        self.buf[self.n] = b' ';
        self.n += usize::from(space);
        self.buf[self.n] = c;
        self.n += usize::from(is_char);
        self.pending_space = (self.pending_space | (c == 1)) & !is_char;
    }

    #[inline]
    fn push(&mut self, c: char) {
        if c.is_ascii() {
            // Folding never yields an uppercase ASCII letter, so this agrees.
            self.push_ascii(c as u8);
        } else if c.is_alphanumeric() {
            if self.n + 8 > self.buf.len() {
                self.grow();
            }
            if self.pending_space && self.n > 0 {
                self.buf[self.n] = b' ';
                self.n += 1;
            }
            self.pending_space = false;
            self.n += c.encode_utf8(&mut self.buf[self.n..]).len();
        } else if c.is_whitespace() {
            self.pending_space = true;
        }
    }

    fn grow(&mut self) {
        let len = self.buf.len().max(8) * 2;
        self.buf.resize(len, 0);
    }

    fn finish(mut self) -> String {
        self.buf.truncate(self.n);
        // Only whole UTF-8 sequences are ever written.
        String::from_utf8(self.buf).expect("the folder writes valid UTF-8")
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
            // Reference: the whole-string case fold, then the same character rules.
            let mut slow = Folder::with_capacity(s.len());
            caseless::default_case_fold_str(s)
                .chars()
                .for_each(|c| slow.push(c));
            assert_eq!(normalize(s), slow.finish(), "{s:?}");
            // A non-ASCII character anywhere sends the whole text down the slow path.
            assert_eq!(
                normalize(&format!("\u{c9} {s}")),
                format!("\u{e9} {}", normalize(s))
            );
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
