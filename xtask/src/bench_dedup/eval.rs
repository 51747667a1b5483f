//! Scoring a dedup run against the planted ground truth of `build_corpus.py`: recall of truth
//! pairs bucketed by their true Jaccard (computed with `cogumi-dedup`'s normalisation and word
//! 5-gram shingling, independently of the tool under test), truth pairs left with both rows
//! kept, precision of the reported `(id, duplicate_of)` pairs, pairs outside the truth, and the
//! cluster-size distribution. Clusters are the tool's `clusters.jsonl` when it writes one (ours),
//! else the removal forest (rows linked by `duplicate_of`, which is what the peers' union-find
//! clusters are).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use cogumi_dedup::unionfind::UnionFind;
use cogumi_dedup::{Shingling, jaccard, normalize};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Jaccard buckets of truth pairs, as `(label, lo, hi)` with `lo <= J < hi`.
pub const BUCKETS: [(&str, f64, f64); 6] = [
    ("<0.80", f64::NEG_INFINITY, 0.8),
    ("[0.80,0.85)", 0.8, 0.85),
    ("[0.85,0.90)", 0.85, 0.9),
    ("[0.90,0.95)", 0.9, 0.95),
    ("[0.95,1.00)", 0.95, 1.0),
    ("1.00", 1.0, f64::INFINITY),
];

/// The corpus and its truth pairs, with shingle sets computed once.
pub struct Truth {
    ids: HashMap<String, usize>,
    sets: Vec<Vec<u64>>,
    /// `(a, b, true Jaccard)`.
    pairs: Vec<(usize, usize, f64)>,
    /// Truth groups (rows planted from one source), for "outside the truth" counting.
    group: Vec<u32>,
}

impl Truth {
    /// Reads `corpus.jsonl` and `truth.jsonl` from `dir`.
    pub fn load(dir: &Path) -> Result<Truth> {
        let corpus = std::fs::read_to_string(dir.join("corpus.jsonl"))
            .with_context(|| format!("reading {}/corpus.jsonl", dir.display()))?;
        let mut ids = HashMap::new();
        let mut texts = Vec::new();
        for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
            let row: Value = serde_json::from_str(line).context("parsing corpus row")?;
            ids.insert(row["id"].to_string(), texts.len());
            texts.push(row["text"].as_str().unwrap_or_default().to_owned());
        }
        let shingling = Shingling::default();
        let sets: Vec<Vec<u64>> = texts
            .iter()
            .map(|t| shingling.shingle_set(&normalize(t)))
            .collect();
        let truth = std::fs::read_to_string(dir.join("truth.jsonl"))
            .with_context(|| format!("reading {}/truth.jsonl", dir.display()))?;
        let mut pairs = Vec::new();
        let mut uf = UnionFind::new(texts.len());
        for line in truth.lines().filter(|l| !l.trim().is_empty()) {
            let row: Value = serde_json::from_str(line).context("parsing truth row")?;
            let get = |k: &str| {
                ids.get(&row[k].to_string())
                    .copied()
                    .with_context(|| format!("truth row names unknown id {}", row[k]))
            };
            let (a, b) = (get("a")?, get("b")?);
            pairs.push((a, b, jaccard(&sets[a], &sets[b])));
            uf.union(a as u32, b as u32);
        }
        Ok(Truth {
            ids,
            sets,
            pairs,
            group: uf.min_labels(),
        })
    }

    /// Number of documents.
    pub fn docs(&self) -> usize {
        self.sets.len()
    }

    /// Truth pairs per bucket.
    pub fn bucket_counts(&self) -> Vec<u64> {
        let mut n = vec![0; BUCKETS.len()];
        for &(_, _, j) in &self.pairs {
            n[bucket(j)] += 1;
        }
        n
    }

    /// Scores a `removed.jsonl` with `{"id", "duplicate_of"}` rows, and optionally a
    /// `clusters.jsonl` with `{"ids": [...]}` rows.
    pub fn score(&self, removed: &Path, clusters: Option<&Path>, threshold: f64) -> Result<Score> {
        let text = std::fs::read_to_string(removed)
            .with_context(|| format!("reading {}", removed.display()))?;
        let mut uf = UnionFind::new(self.docs());
        let mut kept = vec![true; self.docs()];
        let (mut reported, mut precise, mut outside, mut outside_ok) = (0u64, 0u64, 0u64, 0u64);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: Value = serde_json::from_str(line).context("parsing removed row")?;
            let idx = |k: &str| {
                self.ids
                    .get(&row[k].to_string())
                    .copied()
                    .with_context(|| format!("{} names unknown id {}", removed.display(), row[k]))
            };
            let (a, b) = (idx("id")?, idx("duplicate_of")?);
            uf.union(a as u32, b as u32);
            kept[a] = false;
            let ok = jaccard(&self.sets[a], &self.sets[b]) >= threshold;
            reported += 1;
            precise += u64::from(ok);
            if self.group[a] != self.group[b] {
                outside += 1;
                outside_ok += u64::from(ok);
            }
        }
        if let Some(path) = clusters {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let row: Value = serde_json::from_str(line).context("parsing cluster row")?;
                let members: Vec<usize> = row["ids"]
                    .as_array()
                    .context("cluster row without ids")?
                    .iter()
                    .filter_map(|id| self.ids.get(&id.to_string()).copied())
                    .collect();
                for w in members.windows(2) {
                    uf.union(w[0] as u32, w[1] as u32);
                }
            }
        }
        let mut found = vec![0u64; BUCKETS.len()];
        let mut both_kept = 0;
        for &(a, b, j) in &self.pairs {
            if uf.find(a as u32) == uf.find(b as u32) {
                found[bucket(j)] += 1;
            }
            both_kept += u64::from(j >= threshold && kept[a] && kept[b]);
        }
        let mut sizes: BTreeMap<u64, u64> = BTreeMap::new();
        let mut count: HashMap<u32, u64> = HashMap::new();
        for x in 0..self.docs() as u32 {
            *count.entry(uf.find(x)).or_default() += 1;
        }
        for &s in count.values().filter(|&&s| s >= 2) {
            *sizes.entry(s).or_default() += 1;
        }
        Ok(Score {
            removed: reported,
            found,
            total: self.bucket_counts(),
            both_kept,
            precision: if reported == 0 {
                1.0
            } else {
                precise as f64 / reported as f64
            },
            outside_truth: outside,
            outside_truth_above_threshold: outside_ok,
            largest_cluster: sizes.keys().next_back().copied().unwrap_or(1),
            cluster_sizes: sizes,
        })
    }
}

fn bucket(j: f64) -> usize {
    BUCKETS
        .iter()
        .position(|&(_, lo, hi)| j >= lo && j < hi)
        .unwrap_or(BUCKETS.len() - 1)
}

/// How one tool did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Score {
    /// Rows reported as removed.
    pub removed: u64,
    /// Truth pairs found (same removal cluster), per bucket.
    pub found: Vec<u64>,
    /// Truth pairs per bucket.
    pub total: Vec<u64>,
    /// Truth pairs at or above the threshold with both rows still kept.
    #[serde(default)]
    pub both_kept: u64,
    /// Share of reported pairs whose true Jaccard reaches the threshold.
    pub precision: f64,
    /// Reported pairs whose rows come from different planted groups.
    pub outside_truth: u64,
    /// Of those, how many truly reach the threshold (natural duplicates).
    pub outside_truth_above_threshold: u64,
    /// Size of the largest removal cluster.
    pub largest_cluster: u64,
    /// Cluster size -> count (sizes >= 2).
    pub cluster_sizes: BTreeMap<u64, u64>,
}

impl Score {
    /// Recall over the buckets `from..` (1.. = all pairs at or above 0.8).
    pub fn recall_from(&self, from: usize) -> f64 {
        let f: u64 = self.found[from..].iter().sum();
        let t: u64 = self.total[from..].iter().sum();
        if t == 0 { 1.0 } else { f as f64 / t as f64 }
    }

    /// Recall in one bucket.
    pub fn recall(&self, b: usize) -> f64 {
        if self.total[b] == 0 {
            1.0
        } else {
            self.found[b] as f64 / self.total[b] as f64
        }
    }
}
