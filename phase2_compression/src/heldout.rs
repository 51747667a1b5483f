//! Held-out and calibration examples for phase 2, and what every stage measures on them:
//! per-example negative log-likelihood of the reply tokens (perplexity), the argmax token at
//! each reply position (for agreement with the uncompressed model), and the logits there.
//!
//! Examples come from a split artifact (`validation.jsonl`, else `test.jsonl`, else
//! `train.jsonl` — the last only for calibration statistics), a dataset artifact
//! (`data.jsonl`) or a JSONL file, rendered with the model's chat template, loss on the
//! assistant reply only (`cogumi-dataset`'s `encode_example`). Malformed rows are skipped with
//! their file and line logged, as phase 1 quarantines them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cogumi_artifact::Artifact;
use cogumi_dataset::schema::Example;
use cogumi_dataset::{EncodeOptions, Encoded, encode_example, read_jsonl};
use cogumi_model::{Llama, TokenBatch};
use cogumi_tokenizer::Tokenizer;

/// Which rows of a split artifact to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Held-out rows: validation, else test.
    HeldOut,
    /// Training rows (calibration activations for pruning and AWQ).
    Train,
}

/// Reads up to `limit` examples of `part` from `data` (split artifact, dataset artifact or
/// JSONL file); returns them with the artifact when `data` is one.
pub fn read_examples(
    data: &Path,
    part: Part,
    limit: usize,
) -> Result<(Vec<Example>, Option<Artifact>)> {
    let (file, artifact): (PathBuf, Option<Artifact>) = if data.is_dir() {
        let a = Artifact::open(data)
            .with_context(|| format!("verifying data artifact {}", data.display()))?;
        let names: &[&str] = match part {
            Part::HeldOut => &["validation.jsonl", "test.jsonl", "data.jsonl"],
            Part::Train => &["train.jsonl", "data.jsonl"],
        };
        let name = names
            .iter()
            .find(|n| a.path(n).exists())
            .with_context(|| format!("{} has none of {names:?}", data.display()))?;
        (a.file(name)?, Some(a))
    } else {
        (data.to_path_buf(), None)
    };
    let (mut rows, bad) =
        read_jsonl(&file).with_context(|| format!("reading {}", file.display()))?;
    for q in &bad {
        tracing::warn!(file = %q.path.display(), line = q.line, error = %q.error, "skipped malformed row");
    }
    rows.truncate(limit);
    if rows.is_empty() {
        bail!("{} has no usable rows", file.display());
    }
    Ok((rows, artifact))
}

/// Encodes examples with the chat template (loss on the reply), dropping rows longer than
/// `max_len` or without reply tokens; each kept row comes with its index in `rows`.
pub fn encode(tok: &Tokenizer, rows: &[Example], max_len: usize) -> Vec<(usize, Encoded)> {
    let opts = EncodeOptions {
        max_len: Some(max_len),
        ..EncodeOptions::default()
    };
    rows.iter()
        .enumerate()
        .filter_map(|(i, ex)| match encode_example(tok, ex, &opts) {
            Ok(e) if e.n_targets() > 0 && e.len() >= 2 => Some((i, e)),
            Ok(_) => None,
            Err(err) => {
                tracing::debug!(%err, "skipped example");
                None
            }
        })
        .collect()
}

/// One example scored by a model.
#[derive(Debug, Clone, Default)]
pub struct Scored {
    /// Σ −log p(target) over reply tokens.
    pub nll: f64,
    /// Reply tokens scored.
    pub n: usize,
    /// The model's argmax at each scored position.
    pub argmax: Vec<u32>,
    /// The targets at each scored position.
    pub targets: Vec<u32>,
}

/// Scores every example: reply-token NLL and argmax. `keep_logits` collects the logits of up
/// to that many scored positions (row-major `[n, vocab]`) for calibration; `tick` is called
/// after each example.
pub fn score(
    model: &Llama,
    examples: &[Encoded],
    keep_logits: usize,
    mut tick: impl FnMut(),
) -> Result<(Vec<Scored>, Vec<f32>)> {
    let vocab = model.config().vocab_size;
    let mut kept = Vec::new();
    let mut out = Vec::with_capacity(examples.len());
    for e in examples {
        // Position p predicts token p + 1; score positions whose next token is a target.
        let at: Vec<usize> = (0..e.len() - 1).filter(|&p| e.loss_mask[p + 1]).collect();
        let batch = TokenBatch::single(&e.ids)?;
        let logits = model.forward_rows(&batch, None, &at)?;
        let mut s = Scored::default();
        for (i, &p) in at.iter().enumerate() {
            let row = &logits.data[i * vocab..(i + 1) * vocab];
            let target = e.ids[p + 1];
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v));
            let lse = m as f64
                + row
                    .iter()
                    .map(|&v| ((v - m) as f64).exp())
                    .sum::<f64>()
                    .ln();
            s.nll += lse - row[target as usize] as f64;
            s.n += 1;
            let arg = row
                .iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |b, (j, &v)| {
                    if v > b.1 { (j, v) } else { b }
                })
                .0;
            s.argmax.push(arg as u32);
            s.targets.push(target);
            if kept.len() < keep_logits * vocab {
                kept.extend_from_slice(row);
            }
        }
        out.push(s);
        tick();
    }
    Ok((out, kept))
}

/// Corpus perplexity: exp(Σ nll / Σ n).
pub fn perplexity(scored: &[Scored]) -> f64 {
    let (nll, n) = scored
        .iter()
        .fold((0.0, 0usize), |(a, b), s| (a + s.nll, b + s.n));
    (nll / n.max(1) as f64).exp()
}

/// Fraction of scored positions where two models' argmax tokens agree.
pub fn agreement(a: &[Scored], b: &[Scored]) -> f64 {
    let (mut same, mut n) = (0usize, 0usize);
    for (x, y) in a.iter().zip(b) {
        same += x
            .argmax
            .iter()
            .zip(&y.argmax)
            .filter(|(p, q)| p == q)
            .count();
        n += x.argmax.len().min(y.argmax.len());
    }
    same as f64 / n.max(1) as f64
}
