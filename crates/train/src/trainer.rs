//! The training loop shared by every phase that trains: micro-batches with gradient
//! accumulation, AdamW with a warm-up schedule and global-norm clipping, periodic validation
//! with early stopping (keeping the best weights, as HF Trainer's `load_best_model_at_end`),
//! checkpoints with exact resume, and per-step metrics handed to the caller.
//!
//! The loop works on any [`Llama`] whose trainable parameters require gradients: LoRA/QLoRA
//! adapters (base frozen by `attach_lora`) or every parameter (full fine-tune).

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use cogumi_model::Llama;
use serde::{Deserialize, Serialize};
use tracing::info_span;

use crate::checkpoint::{self, LoopState};
use crate::data::{BatchOrder, Row, collate};
use crate::distill::Objective;
use crate::error::{Error, Result};
use crate::loss::cross_entropy;
use crate::optim::{AdamW, AdamWConfig, GradBuffer};
use crate::schedule::{Schedule, ScheduleKind};

/// Loop settings (the `[train]` table of a phase 1 config).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// Schedule after warm-up.
    pub schedule: ScheduleKind,
    /// Warm-up steps (overrides `warmup_ratio` when set).
    pub warmup_steps: Option<u64>,
    /// Warm-up as a fraction of all optimiser steps.
    pub warmup_ratio: f64,
    /// Passes over the training rows (fractional allowed).
    pub epochs: f64,
    /// Stop after this many optimiser steps (overrides `epochs`).
    pub max_steps: Option<u64>,
    /// Rows per forward pass.
    pub micro_batch: usize,
    /// Micro-batches per optimiser step.
    pub grad_accum: usize,
    /// AdamW settings (including clipping).
    pub optimizer: AdamWConfig,
    /// Validate every N optimiser steps (0 = only at the end).
    pub eval_every: u64,
    /// Stop after this many evaluations without improvement (`None` = never).
    pub patience: Option<u32>,
    /// Improvement smaller than this does not count.
    pub min_delta: f64,
    /// Checkpoint every N optimiser steps (0 = never).
    pub checkpoint_every: u64,
    /// Shuffle rows each epoch.
    pub shuffle: bool,
    /// Seed of the data order and dropout.
    pub seed: u64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            lr: 2e-4,
            schedule: ScheduleKind::Cosine,
            warmup_steps: None,
            warmup_ratio: 0.03,
            epochs: 1.0,
            max_steps: None,
            micro_batch: 4,
            grad_accum: 1,
            optimizer: AdamWConfig::default(),
            eval_every: 0,
            patience: None,
            min_delta: 0.0,
            checkpoint_every: 0,
            shuffle: true,
            seed: 0,
        }
    }
}

impl LoopConfig {
    /// Optimiser steps for `rows` training rows.
    pub fn total_steps(&self, rows: usize) -> u64 {
        if let Some(n) = self.max_steps {
            return n;
        }
        let micro = rows.div_ceil(self.micro_batch.max(1)) as f64 * self.epochs;
        ((micro / self.grad_accum.max(1) as f64).ceil() as u64).max(1)
    }

    /// The learning-rate schedule over `total` steps.
    pub fn schedule(&self, total: u64) -> Schedule {
        let warmup = self
            .warmup_steps
            .unwrap_or_else(|| (self.warmup_ratio * total as f64).ceil() as u64);
        Schedule {
            kind: self.schedule,
            peak_lr: self.lr,
            warmup,
            total,
        }
    }
}

/// One optimiser step's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepMetrics {
    /// 1-based optimiser step.
    pub step: u64,
    /// Total steps planned.
    pub total_steps: u64,
    /// Epochs completed (fractional).
    pub epoch: f64,
    /// Mean training loss of the step's micro-batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Non-padding tokens this step.
    pub tokens: u64,
    /// Training tokens per second over this step.
    pub tokens_per_s: f64,
    /// Seconds since the (re)start.
    pub elapsed_s: f64,
    /// Validation loss, on steps that evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
}

/// Where the loop checkpoints and what it resumes from.
#[derive(Debug, Clone, Default)]
pub struct CheckpointPlan {
    /// Directory holding `step-<n>/` checkpoints (`None` = no checkpoints, no resume).
    pub dir: Option<PathBuf>,
    /// Resume from the newest checkpoint in `dir` if there is one.
    pub resume: bool,
}

/// What the loop did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Every step's metrics, including those before a resume (from the checkpoint's log).
    pub steps: Vec<StepMetrics>,
    /// Optimiser steps completed.
    pub completed_steps: u64,
    /// Step the run resumed from (0 = fresh).
    pub resumed_from: u64,
    /// Best validation loss and its step.
    pub best_val: Option<(f64, u64)>,
    /// Validation loss before any training.
    pub initial_val: Option<f64>,
    /// True when early stopping ended the run.
    pub early_stopped: bool,
    /// Non-padding training tokens consumed.
    pub tokens: u64,
}

/// Mean loss per counted token over `rows`, without gradients or dropout.
pub fn evaluate(model: &Llama, rows: &[Row], micro_batch: usize) -> Result<f64> {
    let _span = info_span!("evaluate", rows = rows.len()).entered();
    let m = model.valid();
    let mut total = 0.0f64;
    let mut count = 0usize;
    for chunk in rows.chunks(micro_batch.max(1)) {
        let refs: Vec<&Row> = chunk.iter().collect();
        let (batch, targets) = collate(&refs)?;
        let n = targets.count();
        if n == 0 {
            continue;
        }
        let logits = m.forward(&batch, None)?;
        let loss: f32 = cross_entropy(logits, &targets).into_scalar();
        total += loss as f64 * n as f64;
        count += n;
    }
    if count == 0 {
        return Err(Error::Config(
            "validation rows contain no counted tokens".into(),
        ));
    }
    Ok(total / count as f64)
}

/// Trains `model` in place on `train` towards `objective`, validating (cross-entropy) on `val`. `on_step` sees every step's metrics
/// (for progress bars and the metrics log) as soon as the step ends.
pub fn train(
    model: &mut Llama,
    train_rows: &[Row],
    val_rows: &[Row],
    cfg: &LoopConfig,
    objective: &Objective<'_>,
    ckpt: &CheckpointPlan,
    on_step: &mut dyn FnMut(&StepMetrics),
) -> Result<TrainReport> {
    let _span = info_span!("train", rows = train_rows.len()).entered();
    if cfg.micro_batch == 0 || cfg.grad_accum == 0 {
        return Err(Error::Config(
            "micro_batch and grad_accum must be at least 1".into(),
        ));
    }
    let order = BatchOrder::new(train_rows.len(), cfg.micro_batch, cfg.seed, cfg.shuffle)?;
    let total = cfg.total_steps(train_rows.len());
    let schedule = cfg.schedule(total);
    let mut optim = AdamW::new(cfg.optimizer.clone());
    let mut state = LoopState {
        step: 0,
        best_val: None,
        best_step: None,
        bad_evals: 0,
        tokens: 0,
    };
    let mut steps: Vec<StepMetrics> = Vec::new();
    let mut initial_val = None;
    if let (Some(dir), true) = (&ckpt.dir, ckpt.resume)
        && let Some((n, path)) = checkpoint::latest(dir)
    {
        tracing::info!(step = n, path = %path.display(), "resuming from checkpoint");
        let (loaded, log) = checkpoint::load(&path, model, &mut optim)?;
        let log: RunLog = serde_json::from_value(log)
            .map_err(|e| Error::format(&path, format!("run log: {e}")))?;
        state = loaded;
        steps = log.steps;
        initial_val = log.initial_val;
    }
    let resumed_from = state.step;
    if resumed_from == 0 && !val_rows.is_empty() {
        initial_val = Some(evaluate(model, val_rows, cfg.micro_batch)?);
    }
    let mut best = state.best_val.zip(state.best_step);
    let mut best_weights = None;
    if state.best_val.is_none()
        && let Some(v) = initial_val
    {
        best = Some((v, 0));
        best_weights = Some(checkpoint::trainable_snapshot(model));
    }
    let device = model.device();
    let started = Instant::now();
    let mut early_stopped = false;
    let mut buffer = GradBuffer::default();
    while state.step < total {
        let step_started = Instant::now();
        let lr = schedule.lr(state.step);
        let mut loss_sum = 0.0;
        let mut step_tokens = 0u64;
        for micro in 0..cfg.grad_accum {
            let k = state.step * cfg.grad_accum as u64 + micro as u64;
            let idx = order.batch(k);
            let rows: Vec<&Row> = idx.iter().map(|&i| &train_rows[i]).collect();
            step_tokens += rows.iter().map(|r| r.tokens() as u64).sum::<u64>();
            let (batch, targets) = collate(&rows)?;
            // Dropout masks depend only on (seed, micro-batch index): resumable.
            device.seed(cfg.seed ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let scale = 1.0 / cfg.grad_accum as f64;
            // LoRA cross-entropy on flex f32 runs the hand-written backward of the fast path
            // (`cogumi_model::host_train`, held to PEFT's gradients); anything else, autodiff.
            let host = match objective {
                Objective::CrossEntropy => {
                    model.lora_loss_grads(&batch, &targets.ids, &targets.weight)?
                }
                Objective::Distill { .. } => None,
            };
            let value = match host {
                Some(h) => {
                    buffer.accumulate_host(model, h.grads, scale);
                    h.loss
                }
                None => {
                    let loss = objective.loss(model, &batch, &targets)?;
                    let value: f32 = loss.clone().inner().into_scalar();
                    if value.is_finite() {
                        let grads = loss.backward();
                        buffer.accumulate(model, &grads, scale);
                    }
                    value as f64
                }
            };
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    step: state.step + 1,
                    value,
                });
            }
            loss_sum += value;
        }
        if buffer.is_empty() {
            return Err(Error::Config(
                "no parameter received a gradient: nothing is trainable".into(),
            ));
        }
        let report = optim.step(model, &mut buffer, lr)?;
        state.step += 1;
        state.tokens += step_tokens;
        let mut metrics = StepMetrics {
            step: state.step,
            total_steps: total,
            epoch: (state.step * cfg.grad_accum as u64) as f64 / order.per_epoch() as f64,
            loss: loss_sum / cfg.grad_accum as f64,
            lr: report.lr,
            grad_norm: report.grad_norm,
            tokens: step_tokens,
            tokens_per_s: step_tokens as f64 / step_started.elapsed().as_secs_f64().max(1e-9),
            elapsed_s: started.elapsed().as_secs_f64(),
            val_loss: None,
        };
        let last = state.step == total;
        let eval_now = !val_rows.is_empty()
            && ((cfg.eval_every > 0 && state.step.is_multiple_of(cfg.eval_every)) || last);
        if eval_now {
            let v = evaluate(model, val_rows, cfg.micro_batch)?;
            metrics.val_loss = Some(v);
            let improved = best.is_none_or(|(b, _)| v < b - cfg.min_delta);
            if improved {
                best = Some((v, state.step));
                state.bad_evals = 0;
                best_weights = Some(checkpoint::trainable_snapshot(model));
            } else {
                state.bad_evals += 1;
            }
            state.best_val = best.map(|b| b.0);
            state.best_step = best.map(|b| b.1);
            if cfg.patience.is_some_and(|p| state.bad_evals >= p) {
                early_stopped = true;
            }
        }
        on_step(&metrics);
        steps.push(metrics);
        if let Some(dir) = &ckpt.dir
            && cfg.checkpoint_every > 0
            && state.step.is_multiple_of(cfg.checkpoint_every)
            && !last
            && !early_stopped
        {
            let path = dir.join(format!("step-{}", state.step));
            let log = RunLog {
                initial_val,
                steps: steps.clone(),
            };
            let log =
                serde_json::to_value(&log).map_err(|e| Error::format(&path, e.to_string()))?;
            checkpoint::save(&path, model, &optim, &state, &log)?;
            prune_older(dir, state.step);
        }
        if early_stopped {
            tracing::info!(
                step = state.step,
                "early stopping: no improvement in {} evaluations",
                state.bad_evals
            );
            break;
        }
    }
    // Keep the best weights when validation picked a step other than the last.
    if let (Some((_, best_step)), Some(w)) = (best, best_weights.as_ref())
        && best_step != state.step
    {
        checkpoint::restore_snapshot(model, w, "the best evaluation")?;
    }
    Ok(TrainReport {
        steps,
        completed_steps: state.step,
        resumed_from,
        best_val: best,
        initial_val,
        early_stopped,
        tokens: state.tokens,
    })
}

/// What a checkpoint carries besides the weights: the metrics so far.
#[derive(Serialize, Deserialize)]
struct RunLog {
    initial_val: Option<f64>,
    steps: Vec<StepMetrics>,
}

/// Keeps only the newest checkpoint (each holds the full resumable state).
fn prune_older(dir: &std::path::Path, keep: u64) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(n) = name
                .strip_prefix("step-")
                .and_then(|s| s.parse::<u64>().ok())
                && n != keep
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}
