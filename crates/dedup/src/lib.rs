//! Exact and near-duplicate detection for text corpora: exact duplicates by the
//! hash of the normalised text, near-duplicates by MinHash-style LSH (Broder 1997;
//! Fast Similarity Sketching, Dahlgaard et al. 2017; Leskovec, Rajaraman, Ullman,
//! "Mining of Massive Datasets" §3.4) with every
//! candidate pair verified by the exact Jaccard of its shingle sets.
//!
//! Streaming ([`Deduper::add_batch`]), parallel (rayon), bounded memory (band keys
//! and shingle sets spill to disk past [`DedupConfig::max_memory`]), and
//! deterministic for a seed whatever the number of threads. See `README.md` for the
//! design choices (hash family, banding, cluster semantics).

#![warn(missing_docs)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod cluster;
mod config;
mod engine;
mod error;
pub mod lsh;
pub mod minhash;
pub mod normalize;
pub mod shingle;
pub mod sketch;
mod store;
pub mod unionfind;

pub use config::{DedupConfig, Doc, Keep};
pub use engine::Deduper;
pub use error::{Error, Result};
pub use lsh::LshParams;
pub use minhash::MinHasher;
pub use normalize::{exact_hash, normalize};
pub use shingle::{ShingleKind, Shingling, jaccard};
pub use sketch::FastSketcher;

/// Why a row was removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DupKind {
    /// Same normalised text as the kept row.
    Exact,
    /// Verified Jaccard ≥ threshold with the kept row.
    Near,
}

/// A removed row and the kept row that caused its removal.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    /// Index of the removed row in input order.
    pub index: u32,
    /// Index of the kept row it duplicates.
    pub duplicate_of: u32,
    /// Exact Jaccard similarity of their shingle sets (1 for exact duplicates).
    pub jaccard: f64,
    /// Exact or near duplicate.
    pub kind: DupKind,
}

/// Counters of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DedupStats {
    /// Rows seen.
    pub rows: u64,
    /// Distinct normalised texts.
    pub exact_groups: u64,
    /// Rows removed as exact duplicates.
    pub exact_removed: u64,
    /// Rows removed as near-duplicates.
    pub near_removed: u64,
    /// Distinct group pairs sharing an LSH bucket.
    pub candidate_pairs: u64,
    /// Candidate pairs whose exact Jaccard reached the threshold.
    pub verified_pairs: u64,
    /// Buckets larger than `max_bucket` (compared with a window, not all-pairs).
    pub oversized_buckets: u64,
    /// LSH bands.
    pub bands: usize,
    /// Rows per band.
    pub rows_per_band: usize,
    /// S-curve probability of becoming a candidate at the threshold.
    pub p_at_threshold: f64,
    /// Whether signatures were spilled to disk.
    pub spilled: bool,
    /// Cluster size (rows, ≥ 2) -> number of clusters.
    pub cluster_sizes: BTreeMap<u64, u64>,
    /// `(label, size)` of the largest cluster; the label is its smallest row index.
    pub largest_cluster: Option<(u32, u64)>,
}

/// Result of [`Deduper::finish`].
#[derive(Clone, Debug)]
pub struct DedupOutcome {
    /// Removed rows in input order.
    pub removed: Vec<Removal>,
    /// Cluster label (smallest row index of its cluster) of every row.
    pub cluster_of: Vec<u32>,
    /// Counters.
    pub stats: DedupStats,
}

impl DedupOutcome {
    /// A mask over rows: `true` for kept rows.
    pub fn kept_mask(&self) -> Vec<bool> {
        let mut keep = vec![true; self.cluster_of.len()];
        for r in &self.removed {
            keep[r.index as usize] = false;
        }
        keep
    }
}
