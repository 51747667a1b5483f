//! From verified near-duplicate edges to kept and removed rows.
//!
//! Clusters are the connected components (union-find) of the graph whose nodes
//! are exact-duplicate groups and whose edges are *verified* pairs (exact Jaccard
//! ≥ threshold); unverified LSH candidates never join anything, so unrelated
//! documents cannot chain into giant clusters through bucket collisions.
//!
//! Inside a cluster, similarity is not transitive (A~B and B~C with A, C below the
//! threshold), so the removal rule is a greedy pass in keep-rank order, not "keep
//! one row per component": a group is removed iff it has a verified edge to a group
//! already kept, and its `duplicate_of` is that kept group's best row (highest
//! Jaccard, then best rank). In the chain above with A ranked first, B is removed
//! as a duplicate of A and C is kept. Hence every removed row points at a kept row
//! with Jaccard ≥ threshold, and no two kept rows have a verified edge.
//! Members of an exact group other than its best row are removed as `exact`
//! duplicates of it when it is kept; when the group itself is removed they follow
//! it as `near` duplicates of the same kept row with the same Jaccard (identical
//! normalised text gives identical shingle sets).

use std::collections::BTreeMap;

use crate::engine::Node;
use crate::unionfind::UnionFind;
use crate::{DupKind, Removal};

/// A verified near-duplicate pair of nodes (`a < b`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Edge {
    pub(crate) a: u32,
    pub(crate) b: u32,
    pub(crate) jaccard: f64,
}

pub(crate) struct Resolved {
    pub(crate) removed: Vec<Removal>,
    pub(crate) cluster_of: Vec<u32>,
    pub(crate) exact_removed: u64,
    pub(crate) near_removed: u64,
    pub(crate) cluster_sizes: BTreeMap<u64, u64>,
    pub(crate) largest_cluster: Option<(u32, u64)>,
}

/// Decides every row's fate. `node_of[d]` is row `d`'s group.
pub(crate) fn resolve(nodes: &[Node], node_of: &[u32], edges: &[Edge]) -> Resolved {
    let n = nodes.len();
    let mut uf = UnionFind::new(n);
    // Adjacency in CSR form, each list sorted by neighbour.
    let mut degree = vec![0u32; n + 1];
    for e in edges {
        uf.union(e.a, e.b);
        degree[e.a as usize + 1] += 1;
        degree[e.b as usize + 1] += 1;
    }
    for i in 0..n {
        degree[i + 1] += degree[i];
    }
    let start = degree;
    let mut fill = start.clone();
    let mut adj = vec![(0u32, 0f64); edges.len() * 2];
    for e in edges {
        adj[fill[e.a as usize] as usize] = (e.b, e.jaccard);
        fill[e.a as usize] += 1;
        adj[fill[e.b as usize] as usize] = (e.a, e.jaccard);
        fill[e.b as usize] += 1;
    }

    // Greedy pass over linked nodes in keep-rank order.
    let mut linked: Vec<u32> = (0..n as u32)
        .filter(|&u| start[u as usize + 1] > start[u as usize])
        .collect();
    linked.sort_unstable_by_key(|&u| nodes[u as usize].best);
    let mut kept = vec![true; n];
    let mut decided = vec![false; n];
    // For removed nodes: (kept node, jaccard).
    let mut removed_to: Vec<Option<(u32, f64)>> = vec![None; n];
    for &u in &linked {
        let mut target: Option<(u32, f64)> = None;
        for &(v, j) in &adj[start[u as usize] as usize..start[u as usize + 1] as usize] {
            if !(decided[v as usize] && kept[v as usize]) {
                continue;
            }
            let better = match target {
                None => true,
                Some((t, tj)) => {
                    j > tj || (j == tj && nodes[v as usize].best < nodes[t as usize].best)
                }
            };
            if better {
                target = Some((v, j));
            }
        }
        decided[u as usize] = true;
        if let Some(t) = target {
            kept[u as usize] = false;
            removed_to[u as usize] = Some(t);
        }
    }

    // Clusters over rows: label = smallest row index in the component.
    let mut comp_min = vec![u32::MAX; n];
    let mut comp_rows = vec![0u64; n];
    let roots: Vec<u32> = (0..n as u32).map(|u| uf.find(u)).collect();
    for (d, &u) in node_of.iter().enumerate() {
        let r = roots[u as usize] as usize;
        comp_min[r] = comp_min[r].min(d as u32);
        comp_rows[r] += 1;
    }
    let cluster_of: Vec<u32> = node_of
        .iter()
        .map(|&u| comp_min[roots[u as usize] as usize])
        .collect();
    let mut cluster_sizes = BTreeMap::new();
    let mut largest_cluster: Option<(u32, u64)> = None;
    for r in 0..n {
        let size = comp_rows[r];
        if size >= 2 {
            *cluster_sizes.entry(size).or_insert(0) += 1;
            let label = comp_min[r];
            let better = match largest_cluster {
                None => true,
                Some((l, s)) => size > s || (size == s && label < l),
            };
            if better {
                largest_cluster = Some((label, size));
            }
        }
    }

    let mut removed = Vec::new();
    let (mut exact_removed, mut near_removed) = (0, 0);
    for (d, &u) in node_of.iter().enumerate() {
        let d = d as u32;
        let best = nodes[u as usize].best.index();
        if let Some((v, j)) = removed_to[u as usize] {
            near_removed += 1;
            removed.push(Removal {
                index: d,
                duplicate_of: nodes[v as usize].best.index(),
                jaccard: j,
                kind: DupKind::Near,
            });
        } else if d != best {
            exact_removed += 1;
            removed.push(Removal {
                index: d,
                duplicate_of: best,
                jaccard: 1.0,
                kind: DupKind::Exact,
            });
        }
    }
    Resolved {
        removed,
        cluster_of,
        exact_removed,
        near_removed,
        cluster_sizes,
        largest_cluster,
    }
}
