//! `phase0_dataset stats`: counts by source, domain, difficulty, language and rule; prompt and
//! response length histograms in tokens of the project tokenizer (or whitespace words when no
//! tokenizer is given, labelled as such); and the funnel of the upstream steps (rows in, rows
//! out, reasons) read from the manifests along the input chain, which gives the quarantine
//! count, the English share and the dedup rate. Output: `report.json`, `report.md` and
//! `report.html` (see `report.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use cogumi_artifact::{Artifact, MANIFEST_FILE, Manifest, sha256_file};
use cogumi_cli::CommonArgs;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::io::{open_dataset, par_examples, round4};
use crate::schema::{Domain, Example};

/// Artifact kind of a stats report.
pub const REPORT_KIND: &str = "report";
/// Upper edges (exclusive) of the length histogram bins; the last bin is open.
pub const BIN_EDGES: [u64; 11] = [8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

/// Arguments of `phase0_dataset stats`.
#[derive(Args, Debug, Clone, Default)]
pub struct StatsArgs {
    /// Dataset artifact directory.
    #[arg(long, value_name = "DIR")]
    pub input: PathBuf,
    /// Directory with a `tokenizer.json` (e.g. a model artifact); lengths are counted in its
    /// tokens. Without it, lengths are whitespace-separated words.
    #[arg(long, value_name = "DIR")]
    pub tokenizer: Option<PathBuf>,
}

/// The `[stats]` table of the phase 0 config.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Tokenizer directory.
    pub tokenizer: Option<PathBuf>,
}

/// One histogram bin: `[lo, hi)`, `hi = None` for the open last bin.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Bin {
    /// Inclusive lower edge.
    pub lo: u64,
    /// Exclusive upper edge.
    pub hi: Option<u64>,
    /// Rows in the bin.
    pub count: u64,
}

/// Summary of a length distribution.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Lengths {
    /// Sum over rows.
    pub total: u64,
    /// Mean (4 decimals).
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: u64,
    /// 90th percentile (nearest rank).
    pub p90: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Maximum.
    pub max: u64,
    /// Histogram with [`BIN_EDGES`].
    pub histogram: Vec<Bin>,
}

impl Lengths {
    /// Summarises `values` (sorted in place).
    pub fn of(values: &mut [u64]) -> Lengths {
        values.sort_unstable();
        let n = values.len();
        let rank = |q: f64| -> u64 {
            if n == 0 {
                return 0;
            }
            // Nearest-rank percentile: the smallest value with at least q·n values at or below.
            let k = ((q * n as f64).ceil() as usize).clamp(1, n);
            values[k - 1]
        };
        let total: u64 = values.iter().sum();
        let mut histogram: Vec<Bin> = Vec::with_capacity(BIN_EDGES.len() + 1);
        let mut lo = 0;
        for hi in BIN_EDGES.iter().copied().map(Some).chain([None]) {
            let count = values
                .iter()
                .filter(|&&v| v >= lo && hi.is_none_or(|h| v < h))
                .count() as u64;
            histogram.push(Bin { lo, hi, count });
            lo = hi.unwrap_or(u64::MAX);
        }
        Lengths {
            total,
            mean: if n == 0 {
                0.0
            } else {
                round4(total as f64 / n as f64)
            },
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            max: values.last().copied().unwrap_or(0),
            histogram,
        }
    }
}

/// One upstream step of the funnel.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Step {
    /// Subcommand that made the artifact.
    pub step: String,
    /// Artifact kind.
    pub kind: String,
    /// Artifact id.
    pub id: String,
    /// Rows in the artifact (`rows` metric).
    pub rows: Option<u64>,
    /// Rows removed relative to the previous step.
    pub removed: Option<u64>,
    /// The step's other metrics.
    pub metrics: Map<String, Value>,
}

/// Everything `report.json` holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Report {
    /// Id of the dataset described.
    pub dataset: String,
    /// Rows in it.
    pub rows: u64,
    /// `tokens (<tokenizer sha256 prefix>)` or `whitespace words`.
    pub length_unit: String,
    /// Rows per source.
    pub by_source: BTreeMap<String, u64>,
    /// Rows per domain (`untagged` when `domains` has not run).
    pub by_domain: BTreeMap<String, u64>,
    /// Rows per difficulty (`unknown` when the source gives none).
    pub by_difficulty: BTreeMap<String, u64>,
    /// Rows per language (`unknown` when `lang` has not run).
    pub by_lang: BTreeMap<String, u64>,
    /// Rows per domain rule.
    pub by_rule: BTreeMap<String, u64>,
    /// Domain × difficulty.
    pub domain_difficulty: BTreeMap<String, BTreeMap<String, u64>>,
    /// Rows that are chat conversations.
    pub chat_rows: u64,
    /// Rows with a machine-checkable answer.
    pub verifiable_rows: u64,
    /// Prompt lengths.
    pub prompt_length: Lengths,
    /// Response lengths.
    pub response_length: Lengths,
    /// Upstream steps, oldest first, ending with the input dataset.
    pub funnel: Vec<Step>,
    /// Share of rows removed by `dedup` (from the funnel).
    pub dedup_rate: Option<f64>,
    /// English share reported by `lang`.
    pub english_share: Option<f64>,
    /// Rows quarantined by `ingest`.
    pub quarantined: Option<u64>,
}

/// Counts over rows, merged in order.
#[derive(Default)]
struct Tally {
    report: Report,
    prompt: Vec<u64>,
    response: Vec<u64>,
}

impl Tally {
    fn add(&mut self, row: RowStats) {
        let r = &mut self.report;
        r.rows += 1;
        *r.by_source.entry(row.source).or_default() += 1;
        *r.by_domain.entry(row.domain.clone()).or_default() += 1;
        *r.by_difficulty.entry(row.difficulty.clone()).or_default() += 1;
        *r.by_lang.entry(row.lang).or_default() += 1;
        *r.by_rule.entry(row.rule).or_default() += 1;
        *r.domain_difficulty
            .entry(row.domain)
            .or_default()
            .entry(row.difficulty)
            .or_default() += 1;
        r.chat_rows += u64::from(row.chat);
        r.verifiable_rows += u64::from(row.verifiable);
        self.prompt.push(row.prompt_len);
        self.response.push(row.response_len);
    }
}

/// What one row contributes.
struct RowStats {
    source: String,
    domain: String,
    difficulty: String,
    lang: String,
    rule: String,
    chat: bool,
    verifiable: bool,
    prompt_len: u64,
    response_len: u64,
}

/// Length counter: tokenizer tokens or whitespace words.
enum Counter {
    Words,
    Tokens(cogumi_tokenizer::Tokenizer),
}

impl Counter {
    fn count(&self, text: &str) -> anyhow::Result<u64> {
        Ok(match self {
            Counter::Words => text.split_whitespace().count() as u64,
            Counter::Tokens(t) => t.encode(text, false).context("tokenizing a row")?.len() as u64,
        })
    }
}

fn row_stats(ex: &Example, counter: &Counter) -> anyhow::Result<RowStats> {
    let mut prompt = ex.system_text();
    if !prompt.is_empty() {
        prompt.push('\n');
    }
    prompt.push_str(&ex.prompt_text());
    Ok(RowStats {
        source: ex.source.clone(),
        domain: ex.domain.map_or("untagged", Domain::as_str).to_owned(),
        difficulty: ex.difficulty.map_or("unknown", |d| d.as_str()).to_owned(),
        lang: ex.lang.clone().unwrap_or_else(|| "unknown".into()),
        rule: ex.domain_rule.clone().unwrap_or_else(|| "none".into()),
        chat: ex.messages.is_some(),
        verifiable: ex.answer.is_some(),
        prompt_len: counter.count(&prompt)?,
        response_len: counter.count(&ex.response_text())?,
    })
}

/// Computes the report of a dataset file; `funnel` comes from the manifests.
pub fn compute(
    data: &Path,
    dataset_id: &str,
    tokenizer: Option<(&cogumi_tokenizer::Tokenizer, &str)>,
    funnel: Vec<Step>,
) -> anyhow::Result<Report> {
    let (counter, unit) = match tokenizer {
        Some((t, sha)) => (
            Counter::Tokens(t.clone()),
            format!("tokens (tokenizer {})", &sha[..sha.len().min(12)]),
        ),
        None => (Counter::Words, "whitespace words".to_owned()),
    };
    let mut tally = Tally::default();
    par_examples(
        data,
        |_, ex| row_stats(&ex, &counter),
        |row| {
            tally.add(row);
            Ok(())
        },
    )?;
    let mut report = tally.report;
    report.dataset = dataset_id.to_owned();
    report.length_unit = unit;
    report.prompt_length = Lengths::of(&mut tally.prompt);
    report.response_length = Lengths::of(&mut tally.response);
    report.dedup_rate = funnel.iter().find(|s| s.step == "dedup").and_then(|s| {
        s.metrics
            .get("removed_rate")
            .or_else(|| s.metrics.get("dedup_rate"))
            .and_then(Value::as_f64)
            .or_else(|| {
                let removed = s.removed?;
                let before = s.rows? + removed;
                (before > 0).then(|| round4(removed as f64 / before as f64))
            })
    });
    report.english_share = funnel
        .iter()
        .find(|s| s.step == "lang")
        .and_then(|s| s.metrics.get("english_share").and_then(Value::as_f64));
    report.quarantined = funnel
        .iter()
        .find(|s| s.step == "ingest")
        .and_then(|s| s.metrics.get("rows_quarantined").and_then(Value::as_u64));
    report.funnel = funnel;
    Ok(report)
}

/// The chain of manifests from the oldest ancestor to `input`, following each manifest's
/// first input inside the same store (`<root>/<kind>/<id>`). Stops where an ancestor is not in
/// the store.
pub fn funnel(input: &Artifact) -> Vec<Step> {
    let mut chain = vec![input.manifest().clone()];
    let root = input.dir().parent().and_then(Path::parent);
    while let (Some(root), Some(next)) = (root, chain.last().and_then(|m| m.inputs.first())) {
        let path = root.join(&next.kind).join(&next.id).join(MANIFEST_FILE);
        match Manifest::read(&path) {
            Ok(m) => chain.push(m),
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "funnel stops: ancestor not in this store");
                break;
            }
        }
    }
    chain.reverse();
    let mut steps: Vec<Step> = Vec::with_capacity(chain.len());
    for m in chain {
        let rows = m.metrics.get("rows").and_then(Value::as_u64);
        let prev = steps.last().and_then(|s| s.rows);
        let removed = match (prev, rows) {
            (Some(p), Some(r)) if p >= r => Some(p - r),
            _ => None,
        };
        let mut metrics = m.metrics.clone();
        metrics.remove("rows");
        metrics.remove("files");
        steps.push(Step {
            step: m.producer.subcommand.clone(),
            kind: m.kind.clone(),
            id: m.id.clone(),
            rows,
            removed,
            metrics,
        });
    }
    steps
}

/// Runs `stats` and returns the report artifact.
pub fn run(args: &StatsArgs, common: &CommonArgs) -> anyhow::Result<Option<Artifact>> {
    let cfg: StatsConfig = crate::config::section(common.config.as_deref(), "stats")?;
    let tok_dir = args.tokenizer.clone().or(cfg.tokenizer);
    let (input, data_path) = open_dataset(&args.input)?;
    let mut inputs = vec![input.as_input()];
    let tok = match &tok_dir {
        Some(dir) => {
            let file = dir.join("tokenizer.json");
            if !file.is_file() {
                bail!("{} has no tokenizer.json", dir.display());
            }
            let (sha, _) =
                sha256_file(&file).with_context(|| format!("hashing {}", file.display()))?;
            if dir.join(MANIFEST_FILE).is_file() {
                let a =
                    Artifact::open(dir).with_context(|| format!("opening {}", dir.display()))?;
                inputs.push(a.as_input());
            }
            let t = cogumi_tokenizer::Tokenizer::from_dir(dir)
                .with_context(|| format!("loading the tokenizer in {}", dir.display()))?;
            Some((t, sha))
        }
        None => None,
    };
    let config = serde_json::json!({
        "length_unit": if tok.is_some() { "tokens" } else { "words" },
        "tokenizer_sha256": tok.as_ref().map(|t| t.1.clone()),
        "bin_edges": BIN_EDGES,
    });
    let writer = match crate::io::start(common, REPORT_KIND, "stats", inputs, config)? {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let _span = tracing::info_span!("stats", input = %input.id()).entered();
    let steps = funnel(&input);
    let report = compute(
        &data_path,
        input.id(),
        tok.as_ref().map(|(t, s)| (t, s.as_str())),
        steps,
    )?;
    let mut writer = writer;
    crate::report::write(&writer, &report)?;
    writer.set_metric("rows", report.rows);
    writer.set_metric("by_domain", &report.by_domain);
    writer.set_metric("dedup_rate", report.dedup_rate);
    writer.set_metric("english_share", report.english_share);
    writer.set_metric("length_unit", &report.length_unit);
    Ok(Some(writer.commit()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_percentiles_and_bins() {
        let mut v: Vec<u64> = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let l = Lengths::of(&mut v);
        assert_eq!((l.total, l.p50, l.p90, l.p99, l.max), (55, 5, 9, 10, 10));
        assert_eq!(l.mean, 5.5);
        assert_eq!(
            l.histogram[0],
            Bin {
                lo: 0,
                hi: Some(8),
                count: 7
            }
        );
        assert_eq!(
            l.histogram[1],
            Bin {
                lo: 8,
                hi: Some(16),
                count: 3
            }
        );
        assert_eq!(l.histogram.last().unwrap().hi, None);
        assert_eq!(l.histogram.iter().map(|b| b.count).sum::<u64>(), 10);
        let mut big = vec![10_000u64];
        assert_eq!(Lengths::of(&mut big).histogram.last().unwrap().count, 1);
        assert_eq!(Lengths::of(&mut []).p50, 0);
    }
}
