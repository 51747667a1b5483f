//! Near-duplicate control for the synthetic corpus: regenerate rows that the dedup engine
//! (MinHash LSH with exact Jaccard verification, default settings: word 5-shingles, J ≥ 0.8)
//! flags as accidental near-duplicates, and plant deliberate near-duplicates whose Jaccard
//! with their original is checked to lie in [0.85, 1) so `dedup` must find them.

use anyhow::bail;
use cogumi_dedup::{DedupConfig, Deduper, Doc, Shingling, jaccard, normalize};

use super::DomainGen;
use super::rng::Rng;
use crate::io::round4;
use crate::schema::{Difficulty, Example, Role};

/// Lowest Jaccard similarity accepted for a planted near-duplicate (margin over the 0.8
/// default threshold, where LSH with 21 bands of 6 rows finds a pair with p > 0.9999).
pub const PLANT_MIN_JACCARD: f64 = 0.85;

/// Courtesy openers prepended to a prompt to make a near-duplicate.
const PREFIXES: [&str; 8] = [
    "Please:",
    "Quick question:",
    "Hi there!",
    "Hello, I need help.",
    "Could you help me with this?",
    "Here is one for you:",
    "I am stuck on this one.",
    "Help needed:",
];

/// Indices of rows the default dedup engine would remove.
pub fn removed_by_dedup(rows: &[Example]) -> anyhow::Result<Vec<usize>> {
    let texts: Vec<String> = rows.iter().map(Example::dedup_text).collect();
    let lens: Vec<u64> = rows.iter().map(|r| r.response_len() as u64).collect();
    let docs: Vec<Doc<'_>> = texts
        .iter()
        .zip(&lens)
        .map(|(t, &length)| Doc {
            text: t,
            length,
            source_rank: 0,
        })
        .collect();
    let mut d = Deduper::new(DedupConfig::default())?;
    for chunk in docs.chunks(8192) {
        d.add_batch(chunk)?;
    }
    let out = d.finish()?;
    Ok(out.removed.iter().map(|r| r.index as usize).collect())
}

/// Redraws every row the dedup engine removes until none is removed; returns how many rows
/// were redrawn in total.
pub(super) fn regenerate_near_dups(
    rows: &mut [Example],
    gens: &mut [DomainGen],
    max_rounds: usize,
) -> anyhow::Result<usize> {
    let mut total = 0;
    for round in 0..max_rounds {
        let mut removed = removed_by_dedup(rows)?;
        if removed.is_empty() {
            return Ok(total);
        }
        removed.sort_unstable();
        let mut templates: std::collections::BTreeMap<&str, usize> = Default::default();
        for &i in &removed {
            let t = rows[i]
                .meta
                .get("template")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            *templates.entry(t).or_default() += 1;
        }
        tracing::debug!(
            round,
            rows = removed.len(),
            ?templates,
            "regenerating accidental near-duplicates"
        );
        total += removed.len();
        for i in removed {
            let row = &rows[i];
            let (Some(domain), Some(diff)) = (row.domain, row.difficulty) else {
                bail!("synthetic row {} has no domain or difficulty", row.id);
            };
            let id = row.id.clone();
            let Some(g) = gens.iter_mut().find(|g| g.domain == domain) else {
                bail!("no generator for domain {domain}");
            };
            let t = g.draw(diff == Difficulty::Hard)?;
            rows[i] = t.into_example(id, domain, diff);
        }
    }
    bail!(
        "near-duplicates remain after {max_rounds} regeneration rounds; the templates lack variety for this count"
    )
}

/// Jaccard similarity of two rows' dedup texts under the default shingling.
pub fn row_jaccard(a: &Example, b: &Example) -> f64 {
    let s = Shingling::default();
    let x = s.shingle_set(&normalize(&a.dedup_text()));
    let y = s.shingle_set(&normalize(&b.dedup_text()));
    jaccard(&x, &y)
}

/// `row` with `prefix` in front of its prompt.
fn with_prefix(row: &Example, prefix: &str) -> Example {
    let mut v = row.clone();
    match &mut v.messages {
        Some(m) => {
            if let Some(user) = m.iter_mut().find(|t| t.role == Role::User) {
                user.content = format!("{prefix} {}", user.content);
            }
        }
        None => v.instruction = format!("{prefix} {}", v.instruction),
    }
    v
}

/// Appends `n` planted near-duplicates of distinct rows among the first `base`; returns `n`.
pub(super) fn near_dups(
    rows: &mut Vec<Example>,
    base: usize,
    n: usize,
    rng: &mut Rng,
) -> anyhow::Result<usize> {
    if n == 0 {
        return Ok(0);
    }
    if n > base {
        bail!("near_dup_rate asks for {n} near-duplicates of only {base} rows");
    }
    let mut order: Vec<usize> = (0..base).collect();
    rng.shuffle(&mut order);
    let mut made = Vec::with_capacity(n);
    for i in order {
        if made.len() == n {
            break;
        }
        let mut prefixes = PREFIXES;
        rng.shuffle(&mut prefixes);
        for p in prefixes {
            let mut v = with_prefix(&rows[i], p);
            let j = row_jaccard(&rows[i], &v);
            if (PLANT_MIN_JACCARD..1.0).contains(&j) {
                v.id = format!("synth-neardup-{:05}", made.len());
                v.meta.insert("planted".into(), "near_dup".into());
                v.meta
                    .insert("near_dup_of".into(), rows[i].id.clone().into());
                v.meta.insert("jaccard".into(), round4(j).into());
                made.push(v);
                break;
            }
        }
    }
    if made.len() < n {
        bail!(
            "could only plant {} of {n} near-duplicates (rows too short for a near-duplicate edit)",
            made.len()
        );
    }
    rows.extend(made);
    Ok(n)
}
