//! Phase 1's data pipeline: input dataset (split artifact, dataset artifact or JSONL file) →
//! optional mixing with other sources → decontamination against every evaluation set →
//! optional bidirectional pairs → chat-template tokens with response-only loss masks → packed
//! (or padded) fixed-length rows.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cogumi_artifact::Artifact;
use cogumi_dataset::schema::Example;
use cogumi_dataset::{
    BidirOptions, EncodeOptions, PackStrategy, Quarantined, bidirectional,
    decontaminate_ignoring_common, encode_example, example_text, mix, pack, read_jsonl,
};
use cogumi_tokenizer::Tokenizer;
use cogumi_train::Row;
use serde::Serialize;

use crate::config::DataConfig;

/// The train / validation / test rows of an input.
#[derive(Debug, Default)]
pub struct Splits {
    /// Training rows.
    pub train: Vec<Example>,
    /// Validation rows.
    pub validation: Vec<Example>,
    /// Held-out test rows (never trained on; graded by the task evaluation).
    pub test: Vec<Example>,
    /// Malformed lines, with file and line.
    pub quarantined: Vec<Quarantined>,
    /// The input artifact, when it is one.
    pub artifact: Option<Artifact>,
}

/// Reads a split artifact (`train/validation/test.jsonl`), a dataset artifact (`data.jsonl`,
/// validation carved off deterministically) or a plain JSONL file.
pub fn read_input(path: &Path, val_fraction: f64) -> Result<Splits> {
    let mut s = Splits::default();
    let read = |p: PathBuf, into: &mut Vec<Example>, q: &mut Vec<Quarantined>| -> Result<()> {
        let (rows, bad) = read_jsonl(&p).with_context(|| format!("reading {}", p.display()))?;
        into.extend(rows);
        q.extend(bad);
        Ok(())
    };
    if path.is_dir() {
        let artifact = Artifact::open(path)
            .with_context(|| format!("verifying dataset artifact {}", path.display()))?;
        if artifact.path("train.jsonl").exists() {
            read(
                artifact.file("train.jsonl")?,
                &mut s.train,
                &mut s.quarantined,
            )?;
            read(
                artifact.file("validation.jsonl")?,
                &mut s.validation,
                &mut s.quarantined,
            )?;
            read(
                artifact.file("test.jsonl")?,
                &mut s.test,
                &mut s.quarantined,
            )?;
        } else if artifact.path("data.jsonl").exists() {
            read(
                artifact.file("data.jsonl")?,
                &mut s.train,
                &mut s.quarantined,
            )?;
        } else {
            bail!(
                "{} holds neither train.jsonl (a split) nor data.jsonl (a dataset)",
                path.display()
            );
        }
        s.artifact = Some(artifact);
    } else {
        read(path.to_path_buf(), &mut s.train, &mut s.quarantined)?;
    }
    if s.validation.is_empty() && val_fraction > 0.0 && s.train.len() > 1 {
        // Deterministic hold-out: every k-th row.
        let k = (1.0 / val_fraction).round().max(2.0) as usize;
        let all = std::mem::take(&mut s.train);
        for (i, ex) in all.into_iter().enumerate() {
            if i % k == k - 1 {
                s.validation.push(ex)
            } else {
                s.train.push(ex)
            }
        }
    }
    if s.train.is_empty() {
        bail!("{} has no training rows", path.display());
    }
    Ok(s)
}

/// What the pipeline did, for the report and the manifest.
#[derive(Debug, Default, Serialize)]
pub struct DataReport {
    /// Training rows read.
    pub train_rows_in: usize,
    /// Rows removed by decontamination.
    pub decontaminated: usize,
    /// Examples of removals (id → reason).
    pub decontaminated_examples: Vec<(String, String)>,
    /// Rows after mixing.
    pub mixed_rows: usize,
    /// Reverse pairs added.
    pub reverse_pairs: usize,
    /// Examples dropped as too long or unusable.
    pub dropped: usize,
    /// Training sequences (rows after packing).
    pub train_sequences: usize,
    /// Validation sequences.
    pub val_sequences: usize,
    /// Non-padding share of the training sequences.
    pub packing_efficiency: f64,
    /// Response (loss) tokens in training.
    pub target_tokens: usize,
    /// Malformed input lines.
    pub quarantined: usize,
}

/// Builds training and validation rows.
pub fn build_rows(
    splits: &Splits,
    tok: &Tokenizer,
    pad_id: u32,
    cfg: &DataConfig,
    seed: u64,
) -> Result<(Vec<Row>, Vec<Row>, DataReport)> {
    let mut report = DataReport {
        train_rows_in: splits.train.len(),
        quarantined: splits.quarantined.len(),
        ..Default::default()
    };
    let mut train = splits.train.clone();
    if !cfg.mix.is_empty() {
        let mut sources = vec![("input".to_string(), train, cfg.input_weight)];
        for m in &cfg.mix {
            let s = read_input(&m.path, 0.0).with_context(|| format!("mix source `{}`", m.name))?;
            sources.push((m.name.clone(), s.train, m.weight));
        }
        let mixed = mix(&sources, None, seed).context("mixing datasets")?;
        for c in &mixed.counts {
            tracing::info!(source = %c.name, taken = c.taken, available = c.available, "mix");
        }
        train = mixed.examples;
    }
    report.mixed_rows = train.len();
    // No test leakage: drop any training row sharing a 13-gram with validation, test or eval sets.
    let mut eval_texts: Vec<String> = splits
        .test
        .iter()
        .chain(&splits.validation)
        .map(example_text)
        .collect();
    for p in &cfg.eval_sets {
        let s = read_input(p, 0.0).with_context(|| format!("eval set {}", p.display()))?;
        eval_texts.extend(
            s.train
                .iter()
                .chain(&s.validation)
                .chain(&s.test)
                .map(example_text),
        );
    }
    let (kept, removed) =
        decontaminate_ignoring_common(train, &eval_texts, cfg.ngram, cfg.ngram_max_train_rows);
    report.decontaminated = removed.len();
    report.decontaminated_examples = removed
        .iter()
        .take(20)
        .map(|r| (r.id.clone(), r.reason.clone()))
        .collect();
    let mut train = kept;
    if cfg.bidirectional {
        let b = bidirectional(&train, &BidirOptions::default());
        report.reverse_pairs = b.reverse;
        train = b.examples;
    }
    if let Some(n) = cfg.max_train_rows {
        train.truncate(n);
    }
    let val: Vec<Example> = splits
        .validation
        .iter()
        .take(cfg.max_val_rows)
        .cloned()
        .collect();
    let opts = EncodeOptions {
        max_len: Some(cfg.seq_len),
        train_on_prompt: cfg.train_on_prompt,
        mask_all_but_last_turn: false,
    };
    let encode = |rows: &[Example], report: &mut DataReport| -> Vec<cogumi_dataset::Encoded> {
        let mut out = Vec::with_capacity(rows.len());
        for ex in rows {
            match encode_example(tok, ex, &opts) {
                Ok(e) if e.n_targets() > 0 => out.push(e),
                Ok(_) => report.dropped += 1,
                Err(e) => {
                    tracing::debug!(id = %ex.id, error = %e, "row dropped");
                    report.dropped += 1;
                }
            }
        }
        out
    };
    let train_enc = encode(&train, &mut report);
    let val_enc = encode(&val, &mut report);
    if train_enc.is_empty() {
        bail!(
            "no training row survived encoding ({} dropped)",
            report.dropped
        );
    }
    report.target_tokens = train_enc.iter().map(|e| e.n_targets()).sum();
    let strategy = if cfg.packing {
        PackStrategy::FirstFitDecreasing
    } else {
        PackStrategy::None
    };
    let train_packed =
        pack(&train_enc, cfg.seq_len, pad_id, strategy).context("packing training rows")?;
    report.packing_efficiency = cogumi_dataset::stats(&train_packed).efficiency;
    let val_packed = pack(&val_enc, cfg.seq_len, pad_id, PackStrategy::None)
        .context("packing validation rows")?;
    let to_rows = |p: Vec<cogumi_dataset::Packed>| -> Vec<Row> {
        p.into_iter()
            .map(|r| Row {
                ids: r.ids,
                loss_mask: r.loss_mask,
                segment: r.segment,
            })
            .collect()
    };
    let train_rows = to_rows(train_packed);
    let val_rows = to_rows(val_packed);
    report.train_sequences = train_rows.len();
    report.val_sequences = val_rows.len();
    Ok((train_rows, val_rows, report))
}

/// The pad id: the tokenizer's pad token, else its EOS (masked out either way).
pub fn pad_id(tok: &Tokenizer) -> u32 {
    tok.pad_id()
        .or_else(|| tok.eos_ids().first().copied())
        .unwrap_or(0)
}
