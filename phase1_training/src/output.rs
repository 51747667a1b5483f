//! What a training run leaves in its artifact besides the weights: `metrics.jsonl` (one line per
//! step), `loss.svg`, `report.json`, and the headline numbers in the manifest's metrics; plus the
//! per-run checkpoint directory beside the artifact store's temporary directories.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use cogumi_artifact::ArtifactWriter;
use cogumi_cli::CommonArgs;
use cogumi_train::plot::{Series, line_chart_svg};
use cogumi_train::{AdapterSummary, TrainReport};
use serde_json::json;

use crate::data::DataReport;
use crate::tasks::TaskScore;

/// Everything a run measured.
pub struct RunOutputs<'a> {
    /// The loop's report.
    pub report: &'a TrainReport,
    /// The data pipeline's report.
    pub data: &'a DataReport,
    /// Adapters attached (LoRA/QLoRA).
    pub adapters: Option<&'a AdapterSummary>,
    /// Task accuracy before training.
    pub before: Option<&'a TaskScore>,
    /// Task accuracy after training.
    pub after: Option<&'a TaskScore>,
}

/// `<out>/<kind>/.<id>.checkpoints`: survives crashes, removed after a successful commit.
pub fn checkpoint_dir(common: &CommonArgs, kind: &str, id: &str) -> PathBuf {
    common.out.join(kind).join(format!(".{id}.checkpoints"))
}

/// Deletes a finished run's checkpoints.
pub fn remove_checkpoints(common: &CommonArgs, kind: &str, id: &str) {
    let dir = checkpoint_dir(common, kind, id);
    if dir.exists()
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove checkpoints");
    }
}

/// Writes metrics.jsonl, loss.svg and report.json, and sets the manifest metrics.
pub fn write_training_outputs(writer: &mut ArtifactWriter, o: &RunOutputs<'_>) -> Result<()> {
    let r = o.report;
    let mut f = writer.create("metrics.jsonl")?;
    for s in &r.steps {
        writeln!(f, "{}", serde_json::to_string(s)?)?;
    }
    f.sync_all()?;
    let train_pts: Vec<(f64, f64)> = r.steps.iter().map(|s| (s.step as f64, s.loss)).collect();
    let mut val_pts: Vec<(f64, f64)> = r.initial_val.map(|v| vec![(0.0, v)]).unwrap_or_default();
    val_pts.extend(
        r.steps
            .iter()
            .filter_map(|s| s.val_loss.map(|v| (s.step as f64, v))),
    );
    let svg = line_chart_svg(
        "training loss",
        "optimizer step",
        &[
            Series {
                label: "train",
                color: "#1f77b4",
                points: train_pts,
            },
            Series {
                label: "validation",
                color: "#d62728",
                points: val_pts,
            },
        ],
    );
    writer.write("loss.svg", svg.as_bytes())?;
    let timed: Vec<_> = r.steps.iter().filter(|s| s.step > r.resumed_from).collect();
    let tok_s = if timed.is_empty() {
        0.0
    } else {
        let toks: u64 = timed.iter().map(|s| s.tokens).sum();
        let secs = timed.last().map(|s| s.elapsed_s).unwrap_or(1.0).max(1e-9);
        toks as f64 / secs
    };
    let peak = cogumi_cli::peak_rss_bytes();
    let final_val = r.steps.iter().rev().find_map(|s| s.val_loss);
    let bits = o
        .adapters
        .filter(|a| a.base_params > 0)
        .map(|a| a.base_bytes as f64 * 8.0 / a.base_params as f64);
    let report = json!({
        "train": r,
        "data": o.data,
        "adapters": o.adapters,
        "base_bits_per_param": bits,
        "tasks_before": o.before,
        "tasks_after": o.after,
        "tokens_per_s": tok_s,
        "peak_rss_bytes": peak,
    });
    writer.write_json("report.json", &report)?;
    writer.set_metric("steps", r.completed_steps);
    writer.set_metric("train_loss_first", r.steps.first().map(|s| s.loss));
    writer.set_metric("train_loss_last", r.steps.last().map(|s| s.loss));
    writer.set_metric("val_loss_initial", r.initial_val);
    writer.set_metric("val_loss_final", final_val);
    writer.set_metric("val_loss_best", r.best_val.map(|b| b.0));
    writer.set_metric("early_stopped", r.early_stopped);
    writer.set_metric("tokens", r.tokens);
    writer.set_metric("tokens_per_s", tok_s);
    writer.set_metric("peak_rss_bytes", peak);
    if let Some(b) = bits {
        writer.set_metric("base_bits_per_param", b);
    }
    if let (Some(b), Some(a)) = (o.before, o.after) {
        writer.set_metric("task_accuracy_before", b.accuracy);
        writer.set_metric("task_accuracy_after", a.accuracy);
        writer.set_metric("task_rows", a.rows);
    }
    Ok(())
}
