//! The streaming deduplication engine: rows arrive in batches; exact duplicates
//! are grouped by the hash of their normalised text; each group gets one Fast
//! Similarity Sketch (a MinHash-type signature, [`crate::sketch`]) whose LSH band keys are stored (in memory or on disk); `finish`
//! generates candidate pairs from shared buckets, verifies them with the exact
//! Jaccard of the shingle sets, and resolves clusters (see [`crate::cluster`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use crate::cluster::{self, Edge};
use crate::config::{DedupConfig, Doc, Rank};
use crate::error::{Error, Result};
use crate::lsh::LshParams;
use crate::normalize::{exact_hash, normalize};
use crate::shingle::jaccard;
use crate::sketch::FastSketcher;
use crate::store::Store;
use crate::{DedupOutcome, DedupStats};

/// One exact-duplicate group (a node of the similarity graph).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node {
    /// Best-ranked member: the row kept when the group survives.
    pub(crate) best: Rank,
    /// Number of rows in the group.
    pub(crate) size: u32,
}

/// Streaming deduplicator. Feed rows with [`Deduper::add_batch`] in input order,
/// then call [`Deduper::finish`].
pub struct Deduper {
    config: DedupConfig,
    lsh: LshParams,
    sketcher: FastSketcher,
    /// Exact hash of the normalised text -> node.
    groups: HashMap<u128, u32, BuildHasherDefault<PrehashedKey>>,
    nodes: Vec<Node>,
    /// Node of every row, in input order.
    node_of: Vec<u32>,
    store: Store,
}

impl Deduper {
    /// A deduplicator with `config` (validated here).
    pub fn new(config: DedupConfig) -> Result<Self> {
        let lsh = config.resolve_lsh()?;
        let sketcher = FastSketcher::new(lsh.used_perm(), config.seed);
        let store = Store::new(lsh.bands, config.max_memory, config.spill_dir.clone());
        tracing::info!(
            bands = lsh.bands,
            rows = lsh.rows,
            num_perm = config.num_perm,
            p_at_threshold = lsh.probability(config.threshold),
            "lsh banding"
        );
        Ok(Self {
            config,
            lsh,
            sketcher,
            groups: HashMap::default(),
            nodes: Vec::new(),
            node_of: Vec::new(),
            store,
        })
    }

    /// The banding in use.
    pub fn lsh(&self) -> LshParams {
        self.lsh
    }

    /// The configuration in use.
    pub fn config(&self) -> &DedupConfig {
        &self.config
    }

    /// Rows added so far.
    pub fn len(&self) -> usize {
        self.node_of.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.node_of.is_empty()
    }

    /// Adds the next rows (their indices continue from [`Deduper::len`]).
    /// Work inside a batch runs in parallel; results do not depend on batch sizes
    /// or on the number of threads.
    pub fn add_batch(&mut self, docs: &[Doc<'_>]) -> Result<()> {
        let start = self.node_of.len();
        if start + docs.len() > u32::MAX as usize {
            return Err(Error::TooManyRows(start + docs.len()));
        }
        let normalized: Vec<(String, u128)> = docs
            .par_iter()
            .map(|d| {
                let n = normalize(d.text);
                let h = exact_hash(&n);
                (n, h)
            })
            .collect();
        // Sequential: group membership depends on input order.
        let mut fresh: Vec<usize> = Vec::new();
        for (i, (doc, (_, h))) in docs.iter().zip(&normalized).enumerate() {
            let rank = Rank::new(self.config.keep, doc, (start + i) as u32);
            let next = self.nodes.len() as u32;
            let node = *self.groups.entry(*h).or_insert(next);
            if node == next {
                self.nodes.push(Node {
                    best: rank,
                    size: 1,
                });
                fresh.push(i);
            } else {
                let n = &mut self.nodes[node as usize];
                n.size += 1;
                n.best = n.best.min(rank);
            }
            self.node_of.push(node);
        }
        let shingling = self.config.shingling;
        let (sketcher, lsh) = (&self.sketcher, self.lsh);
        let sketches: Vec<(Vec<u64>, Vec<u64>)> = fresh
            .par_iter()
            .map_init(
                || (vec![0u64; sketcher.len()], Vec::new()),
                |(sig, scratch), &i| {
                    // Raw shingle hashes (text order, repeats kept): the sketch ignores
                    // repeats and verification sorts the few sets it compares.
                    let mut set = Vec::new();
                    shingling.shingle_hashes_into(&normalized[i].0, &mut set, scratch);
                    let mut keys = Vec::new();
                    if !set.is_empty() {
                        sketcher.sketch_into(&set, sig);
                        lsh.band_keys(sig, &mut keys);
                    }
                    (keys, set)
                },
            )
            .collect();
        for (keys, set) in &sketches {
            self.store.push(keys, set)?;
        }
        self.store.maybe_spill()
    }

    /// Finds near-duplicates among everything added and decides what is removed.
    pub fn finish(mut self) -> Result<DedupOutcome> {
        let n_nodes = self.nodes.len();
        let (pairs, oversized) = {
            let _span = tracing::info_span!("dedup_candidates", groups = n_nodes).entered();
            self.candidate_pairs()?
        };
        tracing::info!(candidates = pairs.len(), oversized, "candidate pairs");
        let edges = {
            let _span = tracing::info_span!("dedup_verify", candidates = pairs.len()).entered();
            self.verify(&pairs)?
        };
        tracing::info!(verified = edges.len(), "verified near-duplicate pairs");
        let _span = tracing::info_span!("dedup_clusters", edges = edges.len()).entered();
        let resolved = cluster::resolve(&self.nodes, &self.node_of, &edges);
        let stats = DedupStats {
            rows: self.node_of.len() as u64,
            exact_groups: n_nodes as u64,
            exact_removed: resolved.exact_removed,
            near_removed: resolved.near_removed,
            candidate_pairs: pairs.len() as u64,
            verified_pairs: edges.len() as u64,
            oversized_buckets: oversized,
            bands: self.lsh.bands,
            rows_per_band: self.lsh.rows,
            p_at_threshold: self.lsh.probability(self.config.threshold),
            spilled: self.store.spilled(),
            cluster_sizes: resolved.cluster_sizes,
            largest_cluster: resolved.largest_cluster,
        };
        Ok(DedupOutcome {
            removed: resolved.removed,
            cluster_of: resolved.cluster_of,
            stats,
        })
    }

    /// Distinct node pairs `(lo, hi)` sharing at least one bucket, sorted.
    fn candidate_pairs(&mut self) -> Result<(Vec<(u32, u32)>, u64)> {
        let max_bucket = self.config.max_bucket;
        let per_partition = self.store.map_partitions(|entries| {
            let mut packed = Vec::new();
            let oversized = bucket_pairs(entries, max_bucket, &mut packed);
            packed.sort_unstable();
            packed.dedup();
            (packed, oversized)
        })?;
        let oversized = per_partition.iter().map(|p| p.1).sum();
        let mut packed: Vec<u64> = per_partition.into_iter().flat_map(|p| p.0).collect();
        packed.par_sort_unstable();
        packed.dedup();
        let pairs = packed
            .into_iter()
            .map(|p| ((p >> 32) as u32, p as u32))
            .collect();
        Ok((pairs, oversized))
    }

    /// Candidate pairs whose exact Jaccard reaches the threshold.
    fn verify(&mut self, pairs: &[(u32, u32)]) -> Result<Vec<Edge>> {
        let threshold = self.config.threshold;
        let reader = self.store.reader()?;
        let checked: Vec<Option<Edge>> = pairs
            .par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(ba, bb), &(a, b)| -> Result<Option<Edge>> {
                    let sa = sorted_set(reader.get(a, ba)?);
                    let sb = sorted_set(reader.get(b, bb)?);
                    let j = jaccard(&sa, &sb);
                    Ok((j >= threshold).then_some(Edge { a, b, jaccard: j }))
                },
            )
            .collect::<Result<_>>()?;
        Ok(checked.into_iter().flatten().collect())
    }
}

/// Hasher for keys that are already uniform hashes (XXH3-128): keeps their low 64 bits.
#[derive(Default)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn write(&mut self, bytes: &[u8]) {
        // Not used for `u128` keys; fold anything else in rather than ignore it.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A raw shingle-hash list as a sorted set.
fn sorted_set(raw: &[u64]) -> Vec<u64> {
    let mut v = raw.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Appends the node pairs of every bucket (run of equal keys) of sorted `entries` to
/// `packed` as `lo << 32 | hi`: all pairs when a bucket has at most `max_bucket` members,
/// else each member with the next `max_bucket` ones. Returns the number of larger buckets.
fn bucket_pairs(entries: &[(u64, u32)], max_bucket: usize, packed: &mut Vec<u64>) -> u64 {
    let mut oversized = 0;
    for bucket in entries.chunk_by(|a, b| a.0 == b.0) {
        if bucket.len() > max_bucket {
            oversized += 1;
        }
        for (a, &(_, x)) in bucket.iter().enumerate() {
            let end = bucket.len().min(a + 1 + max_bucket);
            for &(_, y) in &bucket[a + 1..end] {
                if x != y {
                    packed.push((u64::from(x.min(y)) << 32) | u64::from(x.max(y)));
                }
            }
        }
    }
    oversized
}
