//! Deduplication settings, the keep policy, and the per-document input.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lsh::{DEFAULT_FALSE_NEGATIVE_WEIGHT, LshParams};
use crate::shingle::Shingling;

/// Which row of a duplicate cluster is kept.
///
/// Rows are ranked by source priority first (the caller's `source_rank`, lower is
/// better), then by this preference, then by input order (earlier wins), so the
/// choice is deterministic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The earliest row.
    First,
    /// The row with the largest `length` (e.g. the longest response).
    #[default]
    Longest,
}

/// Settings of a deduplication run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DedupConfig {
    /// Jaccard similarity at or above which two rows are near-duplicates.
    pub threshold: f64,
    /// Sketch length budget (MinHash "number of permutations"); `bands × rows` slots are used.
    pub num_perm: usize,
    /// How normalised text is cut into shingles.
    pub shingling: Shingling,
    /// Seed of the sketch hash functions.
    pub seed: u64,
    /// Explicit banding; `None` picks it from the threshold (see [`LshParams::optimal`]).
    pub lsh: Option<LshParams>,
    /// Weight of the false-negative area when banding is picked automatically.
    pub false_negative_weight: f64,
    /// Which row of a cluster is kept.
    pub keep: Keep,
    /// Memory budget in bytes for signatures (band keys) and shingle sets; past it
    /// they are spilled to temporary files. `None`: never spill.
    pub max_memory: Option<u64>,
    /// Directory for spill files (default: the system temporary directory).
    pub spill_dir: Option<PathBuf>,
    /// Buckets with more members than this are not compared all-pairs: each member
    /// is compared with the next `max_bucket` members (in input order) only.
    pub max_bucket: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        Self {
            threshold: 0.8,
            num_perm: 128,
            shingling: Shingling::default(),
            seed: 0,
            lsh: None,
            false_negative_weight: DEFAULT_FALSE_NEGATIVE_WEIGHT,
            keep: Keep::default(),
            max_memory: None,
            spill_dir: None,
            max_bucket: 64,
        }
    }
}

impl DedupConfig {
    /// Checks ranges and returns the banding to use.
    pub fn resolve_lsh(&self) -> Result<LshParams> {
        let bad = |msg: String| Err(Error::InvalidConfig(msg));
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return bad(format!(
                "threshold must be in (0, 1], got {}",
                self.threshold
            ));
        }
        if self.num_perm == 0 {
            return bad("num_perm must be at least 1".into());
        }
        if self.shingling.n == 0 {
            return bad("shingle size must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.false_negative_weight) {
            return bad(format!(
                "false_negative_weight must be in [0, 1], got {}",
                self.false_negative_weight
            ));
        }
        if self.max_bucket < 2 {
            return bad(format!(
                "max_bucket must be at least 2, got {}",
                self.max_bucket
            ));
        }
        let lsh = match self.lsh {
            Some(p) => p,
            None => LshParams::optimal(self.threshold, self.num_perm, self.false_negative_weight),
        };
        if lsh.bands == 0 || lsh.rows == 0 || lsh.used_perm() > self.num_perm {
            return bad(format!(
                "bands x rows ({} x {}) must be positive and at most num_perm ({})",
                lsh.bands, lsh.rows, self.num_perm
            ));
        }
        Ok(lsh)
    }
}

/// One input row as the engine sees it.
#[derive(Clone, Copy, Debug)]
pub struct Doc<'a> {
    /// The text compared for duplication.
    pub text: &'a str,
    /// Length used by [`Keep::Longest`] (e.g. response length in characters).
    pub length: u64,
    /// Source priority, lower is preferred; use 0 everywhere for no priority.
    pub source_rank: u32,
}

/// The ranking key of a row: smaller is preferred.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Rank {
    source_rank: u32,
    neg_length: u64,
    index: u32,
}

impl Rank {
    pub(crate) fn new(keep: Keep, doc: &Doc<'_>, index: u32) -> Self {
        Self {
            source_rank: doc.source_rank,
            neg_length: match keep {
                Keep::First => 0,
                Keep::Longest => u64::MAX - doc.length,
            },
            index,
        }
    }

    pub(crate) fn index(&self) -> u32 {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(length: u64, source_rank: u32) -> Doc<'static> {
        Doc {
            text: "",
            length,
            source_rank,
        }
    }

    #[test]
    fn rank_orders_source_then_length_then_index() {
        let l = Keep::Longest;
        // Source priority dominates length.
        assert!(Rank::new(l, &doc(10, 0), 5) < Rank::new(l, &doc(99, 1), 0));
        // Longer wins within a source.
        assert!(Rank::new(l, &doc(99, 0), 5) < Rank::new(l, &doc(10, 0), 0));
        // Ties broken by input order.
        assert!(Rank::new(l, &doc(10, 0), 1) < Rank::new(l, &doc(10, 0), 2));
        // `First` ignores length.
        let f = Keep::First;
        assert!(Rank::new(f, &doc(10, 0), 1) < Rank::new(f, &doc(99, 0), 2));
    }

    #[test]
    fn default_banding_and_validation() {
        let c = DedupConfig::default();
        assert_eq!(c.resolve_lsh().ok(), Some(LshParams { bands: 21, rows: 6 }));
        let bad = DedupConfig {
            lsh: Some(LshParams { bands: 20, rows: 7 }),
            ..DedupConfig::default()
        };
        assert!(bad.resolve_lsh().is_err());
        let bad = DedupConfig {
            threshold: 1.5,
            ..DedupConfig::default()
        };
        assert!(bad.resolve_lsh().is_err());
    }
}
