//! `phase0_dataset dedup`: exact and near-duplicate removal with the `cogumi-dedup` engine
//! (normalised-text hash + MinHash LSH with verified Jaccard, see `crates/dedup/README.md`).
//!
//! Two passes over the input: the first feeds every row to the engine, the second copies the
//! kept lines unchanged. The input is a dataset artifact (output: a `dataset` artifact with
//! `data.jsonl` + `removed.jsonl`) or any plain JSONL file (output: a `dedup` artifact with
//! `kept.jsonl` + `removed.jsonl`). `removed.jsonl` has one row per removed row:
//! `{"id", "duplicate_of", "jaccard", "kind": "exact"|"near"}`, where `duplicate_of` is always
//! a kept row; `clusters.jsonl` lists every cluster of two or more rows (kept and removed).

mod input;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;
use cogumi_dedup::{DedupConfig, DedupOutcome, Deduper, Doc, Keep, LshParams, ShingleKind};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use input::{RowFormat, RowInfo};

use crate::io::{JsonlWriter, round4};
use crate::schema::{DATA_FILE, DATASET_KIND};

/// Artifact kind produced for a plain JSONL input.
pub const DEDUP_KIND: &str = "dedup";
/// Kept lines of a plain JSONL input.
pub const KEPT_FILE: &str = "kept.jsonl";
/// One row per removed row.
pub const REMOVED_FILE: &str = "removed.jsonl";
/// One row per cluster of two or more rows: `{"cluster", "size", "ids"}`.
pub const CLUSTERS_FILE: &str = "clusters.jsonl";

/// Arguments of `phase0_dataset dedup`.
#[derive(Args, Debug, Clone, Default)]
pub struct DedupArgs {
    /// A dataset artifact directory, or a plain JSONL file.
    #[arg(long, value_name = "DIR|FILE")]
    pub input: PathBuf,
    /// Plain JSONL: field holding the text (default `text`).
    #[arg(long)]
    pub text_field: Option<String>,
    /// Plain JSONL: field holding the row id (default: the 1-based line number).
    #[arg(long)]
    pub id_field: Option<String>,
    /// Plain JSONL: field holding the source name, for `--source-priority`.
    #[arg(long)]
    pub source_field: Option<String>,
    /// Jaccard similarity at or above which rows are near-duplicates (default 0.8).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// MinHash signature length (default 128).
    #[arg(long)]
    pub num_perm: Option<usize>,
    /// Shingle unit: `word` (default) or `char`.
    #[arg(long, value_enum)]
    pub shingle: Option<ShingleArg>,
    /// Units per shingle (default 5).
    #[arg(long)]
    pub ngram: Option<usize>,
    /// LSH bands (with `--rows`; default: chosen from the threshold).
    #[arg(long, requires = "rows")]
    pub bands: Option<usize>,
    /// LSH rows per band (with `--bands`).
    #[arg(long, requires = "bands")]
    pub rows: Option<usize>,
    /// Which row of a cluster is kept: `longest` (default: longest response) or `first`.
    #[arg(long, value_enum)]
    pub keep: Option<KeepArg>,
    /// Preferred sources, best first, comma-separated; ranks before `--keep`.
    #[arg(long, value_delimiter = ',')]
    pub source_priority: Option<Vec<String>>,
    /// Memory budget for signatures and shingle sets, e.g. `2GiB`, `500MB`; past it they
    /// spill to temporary files (default: no limit).
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Directory for spill files (default: the system temporary directory).
    #[arg(long, value_name = "DIR")]
    pub spill_dir: Option<PathBuf>,
}

/// `--shingle` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShingleArg {
    /// Word n-grams.
    Word,
    /// Character n-grams.
    Char,
}

/// `--keep` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepArg {
    /// Longest response (text length for plain JSONL).
    Longest,
    /// Earliest row.
    First,
}

/// The `[dedup]` table of the phase 0 config; flags override it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DedupSection {
    /// Near-duplicate Jaccard threshold.
    pub threshold: f64,
    /// MinHash signature length.
    pub num_perm: usize,
    /// `word` or `char`.
    pub shingle: ShingleKind,
    /// Units per shingle.
    pub ngram: usize,
    /// Explicit LSH bands (with `rows`).
    pub bands: Option<usize>,
    /// Explicit LSH rows per band (with `bands`).
    pub rows: Option<usize>,
    /// Weight of false negatives when choosing the banding.
    pub false_negative_weight: f64,
    /// `longest` or `first`.
    pub keep: Keep,
    /// Preferred sources, best first.
    pub source_priority: Vec<String>,
    /// Memory budget (`"2GiB"`); does not change the output.
    pub max_memory: Option<String>,
    /// Spill directory; does not change the output.
    pub spill_dir: Option<PathBuf>,
    /// Plain JSONL text field.
    pub text_field: String,
    /// Plain JSONL id field.
    pub id_field: Option<String>,
    /// Plain JSONL source field.
    pub source_field: Option<String>,
}

impl Default for DedupSection {
    fn default() -> Self {
        let d = DedupConfig::default();
        DedupSection {
            threshold: d.threshold,
            num_perm: d.num_perm,
            shingle: d.shingling.kind,
            ngram: d.shingling.n,
            bands: None,
            rows: None,
            false_negative_weight: d.false_negative_weight,
            keep: d.keep,
            source_priority: Vec::new(),
            max_memory: None,
            spill_dir: None,
            text_field: "text".into(),
            id_field: None,
            source_field: None,
        }
    }
}

/// Parses a byte size: a number with an optional `B`, `KB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024) suffix.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .with_context(|| format!("invalid size `{text}` (e.g. 512MiB, 4GB, 1000000)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" | "k" => 1e3,
        "mb" | "m" => 1e6,
        "gb" | "g" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("invalid size unit `{other}` in `{text}`"),
    };
    Ok((value * mult) as u64)
}

/// Config file + flags (flags win) → the section, the engine config and the row format.
fn resolve(
    args: &DedupArgs,
    common: &CommonArgs,
    dataset: bool,
) -> anyhow::Result<(DedupSection, DedupConfig, RowFormat)> {
    let mut s: DedupSection = crate::config::section(common.config.as_deref(), "dedup")?;
    macro_rules! flag {
        ($($f:ident),*) => {$( if let Some(v) = &args.$f { s.$f = v.clone(); } )*};
    }
    flag!(threshold, num_perm, ngram, source_priority, text_field);
    if let Some(v) = &args.max_memory {
        s.max_memory = Some(v.clone());
    }
    if let Some(v) = &args.spill_dir {
        s.spill_dir = Some(v.clone());
    }
    if let Some(v) = &args.id_field {
        s.id_field = Some(v.clone());
    }
    if let Some(v) = &args.source_field {
        s.source_field = Some(v.clone());
    }
    if let (Some(b), Some(r)) = (args.bands, args.rows) {
        (s.bands, s.rows) = (Some(b), Some(r));
    }
    if let Some(k) = args.shingle {
        s.shingle = match k {
            ShingleArg::Word => ShingleKind::Word,
            ShingleArg::Char => ShingleKind::Char,
        };
    }
    if let Some(k) = args.keep {
        s.keep = match k {
            KeepArg::Longest => Keep::Longest,
            KeepArg::First => Keep::First,
        };
    }
    let lsh = match (s.bands, s.rows) {
        (Some(bands), Some(rows)) => Some(LshParams { bands, rows }),
        (None, None) => None,
        _ => bail!("dedup `bands` and `rows` must be given together"),
    };
    let engine = DedupConfig {
        threshold: s.threshold,
        num_perm: s.num_perm,
        shingling: cogumi_dedup::Shingling {
            kind: s.shingle,
            n: s.ngram,
        },
        seed: common.seed,
        lsh,
        false_negative_weight: s.false_negative_weight,
        keep: s.keep,
        max_memory: s.max_memory.as_deref().map(parse_size).transpose()?,
        spill_dir: s.spill_dir.clone(),
        ..DedupConfig::default()
    };
    let format = if dataset {
        RowFormat::Dataset
    } else {
        RowFormat::Plain {
            text_field: s.text_field.clone(),
            id_field: s.id_field.clone(),
            source_field: s.source_field.clone(),
        }
    };
    Ok((s, engine, format))
}

/// Runs `dedup`; `None` after `--plan`.
pub fn run(args: &DedupArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let dataset = args.input.is_dir();
    if !dataset && !args.input.is_file() {
        bail!("dedup input {} does not exist", args.input.display());
    }
    let (section, engine_cfg, format) = resolve(args, common, dataset)?;
    let lsh = engine_cfg
        .resolve_lsh()
        .context("checking the dedup config")?;
    // Resolved once here; the engine then skips the search.
    let engine_cfg = DedupConfig {
        lsh: Some(lsh),
        ..engine_cfg
    };
    let (kind, out_file, data_path, inputs, source_desc) = if dataset {
        let (artifact, data) = crate::io::open_dataset(&args.input)?;
        let desc = json!({"artifact": artifact.id()});
        (
            DATASET_KIND,
            DATA_FILE,
            data,
            vec![artifact.as_input()],
            desc,
        )
    } else {
        let digest =
            xxh3_file(&args.input).with_context(|| format!("hashing {}", args.input.display()))?;
        let name = args
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        let desc = json!({"file": name, "xxh3_128": digest});
        (DEDUP_KIND, KEPT_FILE, args.input.clone(), vec![], desc)
    };
    // What decides the output goes into the id; the memory budget and spill dir do not.
    let mut config = json!({
        "input": source_desc,
        "threshold": engine_cfg.threshold,
        "num_perm": engine_cfg.num_perm,
        "shingle": engine_cfg.shingling,
        "bands": lsh.bands,
        "rows": lsh.rows,
        "keep": engine_cfg.keep,
        "source_priority": section.source_priority,
        "max_bucket": engine_cfg.max_bucket,
        "seed": engine_cfg.seed,
    });
    if let RowFormat::Plain {
        text_field,
        id_field,
        source_field,
    } = &format
    {
        config["text_field"] = json!(text_field);
        config["id_field"] = json!(id_field);
        config["source_field"] = json!(source_field);
    }
    let mut writer = match crate::io::start(common, kind, "dedup", inputs, config)? {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let _span = tracing::info_span!("dedup", input = %args.input.display()).entered();
    let total_bytes = std::fs::metadata(&data_path).map(|m| m.len()).unwrap_or(0);

    // Pass 1: every row into the engine.
    let priority: BTreeMap<&str, u32> = section
        .source_priority
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i as u32))
        .collect();
    let unranked = priority.len() as u32;
    let mut deduper = Deduper::new(engine_cfg.clone())?;
    let mut ids: Vec<String> = Vec::new();
    let bar = cogumi_cli::progress_bar(total_bytes, "dedup: hashing");
    input::for_each_chunk(&data_path, |chunk| {
        let rows: Vec<RowInfo> = chunk
            .par_iter()
            .map(|(n, line)| {
                format
                    .parse(*n, line)
                    .with_context(|| format!("parsing {} line {n}", data_path.display()))
            })
            .collect::<anyhow::Result<_>>()?;
        let docs: Vec<Doc<'_>> = rows
            .iter()
            .map(|r| Doc {
                text: &r.text,
                length: r.length,
                source_rank: r
                    .source
                    .as_deref()
                    .and_then(|s| priority.get(s).copied())
                    .unwrap_or(unranked),
            })
            .collect();
        deduper.add_batch(&docs)?;
        ids.extend(rows.into_iter().map(|r| r.id));
        bar.inc(chunk.iter().map(|(_, l)| l.len() as u64 + 1).sum());
        Ok(())
    })?;
    bar.finish_and_clear();
    let outcome = deduper.finish()?;

    // Pass 2: kept lines unchanged, removed rows with the row that caused their removal.
    let keep = outcome.kept_mask();
    let mut kept_out = JsonlWriter::create(&writer, out_file)?;
    let bar = cogumi_cli::progress_bar(total_bytes, "dedup: writing");
    let mut row = 0usize;
    input::for_each_chunk(&data_path, |chunk| {
        for (_, line) in chunk {
            if keep[row] {
                kept_out.write_line(line.as_bytes())?;
            }
            row += 1;
        }
        bar.inc(chunk.iter().map(|(_, l)| l.len() as u64 + 1).sum());
        Ok(())
    })?;
    bar.finish_and_clear();
    if row != keep.len() {
        bail!("{} changed while deduplicating it", data_path.display());
    }
    let kept = kept_out.finish()?;
    let mut removed_out = JsonlWriter::create(&writer, REMOVED_FILE)?;
    for r in &outcome.removed {
        let kind = match r.kind {
            cogumi_dedup::DupKind::Exact => "exact",
            cogumi_dedup::DupKind::Near => "near",
        };
        // Ids are JSON text already; the float goes through serde_json so 1 prints as 1.0.
        let line = format!(
            r#"{{"id":{},"duplicate_of":{},"jaccard":{},"kind":"{kind}"}}"#,
            ids[r.index as usize],
            ids[r.duplicate_of as usize],
            serde_json::to_string(&round4(r.jaccard))?,
        );
        removed_out.write_line(line.as_bytes())?;
    }
    removed_out.finish()?;
    write_clusters(&writer, &outcome, &ids)?;
    set_metrics(&mut writer, &outcome, kept, &ids);
    Ok(Some(writer.commit()?))
}

/// The XXH3-128 of a file's content (the input's identity in the config; an order of
/// magnitude faster than SHA-256 on the multi-GB inputs dedup is meant for).
fn xxh3_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(format!("{:032x}", hasher.digest128()));
        }
        hasher.update(&buf[..n]);
    }
}

/// `clusters.jsonl`: every cluster (connected component of exact and verified near pairs)
/// of two or more rows, by first row, with the member ids in input order.
fn write_clusters(
    writer: &cogumi_artifact::ArtifactWriter,
    outcome: &DedupOutcome,
    ids: &[String],
) -> anyhow::Result<()> {
    let mut members: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (row, &label) in outcome.cluster_of.iter().enumerate() {
        members.entry(label).or_default().push(row);
    }
    let mut out = JsonlWriter::create(writer, CLUSTERS_FILE)?;
    for (label, rows) in members.iter().filter(|(_, r)| r.len() >= 2) {
        let list: Vec<&str> = rows.iter().map(|&r| ids[r].as_str()).collect();
        let line = format!(
            r#"{{"cluster":{},"size":{},"ids":[{}]}}"#,
            ids[*label as usize],
            rows.len(),
            list.join(",")
        );
        out.write_line(line.as_bytes())?;
    }
    out.finish()?;
    Ok(())
}

fn set_metrics(
    writer: &mut cogumi_artifact::ArtifactWriter,
    outcome: &DedupOutcome,
    kept: u64,
    ids: &[String],
) {
    let s = &outcome.stats;
    let removed = s.exact_removed + s.near_removed;
    let rate = if s.rows == 0 {
        0.0
    } else {
        round4(removed as f64 / s.rows as f64)
    };
    tracing::info!(
        rows_in = s.rows,
        kept,
        exact_removed = s.exact_removed,
        near_removed = s.near_removed,
        candidates = s.candidate_pairs,
        verified = s.verified_pairs,
        "dedup done"
    );
    writer.set_metric("rows_in", s.rows);
    writer.set_metric("rows", kept);
    writer.set_metric("exact_removed", s.exact_removed);
    writer.set_metric("near_removed", s.near_removed);
    writer.set_metric("removed_rate", rate);
    writer.set_metric("bands", s.bands);
    writer.set_metric("rows_per_band", s.rows_per_band);
    writer.set_metric("p_at_threshold", round4(s.p_at_threshold));
    writer.set_metric("candidate_pairs", s.candidate_pairs);
    writer.set_metric("verified_pairs", s.verified_pairs);
    writer.set_metric("oversized_buckets", s.oversized_buckets);
    writer.set_metric("spilled", s.spilled);
    writer.set_metric("clusters", s.cluster_sizes.values().sum::<u64>());
    let sizes: BTreeMap<String, u64> = s
        .cluster_sizes
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    writer.set_metric("cluster_sizes", sizes);
    if let Some((label, size)) = s.largest_cluster {
        let id: serde_json::Value =
            serde_json::from_str(&ids[label as usize]).unwrap_or(serde_json::Value::Null);
        writer.set_metric("largest_cluster", json!({"first_id": id, "size": size}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5 GB").unwrap(), 1_500_000_000);
        assert_eq!(parse_size("512mib").unwrap(), 512 << 20);
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("GB").is_err());
    }

    #[test]
    fn config_table_and_flags() {
        let text = "[dedup]\nthreshold = 0.9\nshingle = \"char\"\nngram = 7\nkeep = \"first\"\n";
        let s: DedupSection = crate::config::section_from_str(text, "dedup").unwrap();
        assert_eq!(
            (s.threshold, s.shingle, s.ngram, s.keep),
            (0.9, ShingleKind::Char, 7, Keep::First)
        );
        assert!(
            crate::config::section_from_str::<DedupSection>("[dedup]\nthreshhold = 1\n", "dedup")
                .is_err()
        );
    }
}
