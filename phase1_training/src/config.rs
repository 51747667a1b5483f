//! The phase 1 config file (TOML, `deny_unknown_fields` everywhere): method, LoRA, QLoRA base,
//! loop, data and distillation settings. Defaults are the seed plan's (QLoRA r=64 on a GPU) scaled
//! to what a 2-core CPU finishes in minutes; `configs/llama-3.1-8b.toml` holds the full run.

use cogumi_train::distill::DistillConfig;
use cogumi_train::{LoopConfig, LoraConfig};
use serde::{Deserialize, Serialize};

/// What gets trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// LoRA adapters over a frozen dense base.
    Lora,
    /// LoRA adapters over a frozen NF4 base.
    #[default]
    Qlora,
    /// Every parameter (small models: drafts and students).
    Full,
}

/// NF4 settings of the QLoRA base.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QloraConfig {
    /// Values per absmax block.
    pub blocksize: usize,
    /// Quantise the absmax values too (blocks of 256).
    pub double_quant: bool,
}

impl Default for QloraConfig {
    fn default() -> Self {
        QloraConfig {
            blocksize: 64,
            double_quant: true,
        }
    }
}

/// One extra dataset mixed into training.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MixSource {
    /// Name in the report.
    pub name: String,
    /// A dataset/split artifact directory or a JSONL file.
    pub path: std::path::PathBuf,
    /// Relative weight.
    pub weight: f64,
}

/// How rows become training sequences.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Sequence length of a training row.
    pub seq_len: usize,
    /// Pack several examples per row (block-diagonal attention, so they never see each other).
    pub packing: bool,
    /// Add the reverse (response → instruction) pair of every single-turn row.
    pub bidirectional: bool,
    /// Train on prompt tokens too (default: response tokens only).
    pub train_on_prompt: bool,
    /// Use at most this many training rows (after mixing), for quick runs.
    pub max_train_rows: Option<usize>,
    /// Validation rows used for eval loss.
    pub max_val_rows: usize,
    /// Fraction held out for validation when the input has no validation split.
    pub val_fraction: f64,
    /// Extra evaluation sets (JSONL or dataset artifacts) to decontaminate against; the input's
    /// own test split is always included.
    pub eval_sets: Vec<std::path::PathBuf>,
    /// n-gram length of decontamination (13, as GPT-3 and lm-eval).
    pub ngram: usize,
    /// n-grams found in more than this many training rows are template boilerplate, not
    /// leakage (`None`: every shared n-gram removes the row).
    pub ngram_max_train_rows: Option<usize>,
    /// Other datasets mixed with the input (which gets weight `input_weight`).
    pub mix: Vec<MixSource>,
    /// Weight of the main input in the mix.
    pub input_weight: f64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            seq_len: 256,
            packing: true,
            bidirectional: false,
            train_on_prompt: false,
            max_train_rows: None,
            max_val_rows: 64,
            val_fraction: 0.05,
            eval_sets: Vec::new(),
            ngram: 13,
            ngram_max_train_rows: Some(10),
            mix: Vec::new(),
            input_weight: 1.0,
        }
    }
}

/// Held-out task accuracy measured before and after training.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TaskEvalConfig {
    /// Checkable test rows to grade (0 = skip).
    pub rows: usize,
    /// Generation budget per answer.
    pub max_new_tokens: usize,
}

impl Default for TaskEvalConfig {
    fn default() -> Self {
        TaskEvalConfig {
            rows: 0,
            max_new_tokens: 48,
        }
    }
}

/// The whole phase 1 config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Phase1Config {
    /// What gets trained.
    pub method: Method,
    /// Adapter settings (LoRA and QLoRA).
    pub lora: LoraConfig,
    /// NF4 base settings (QLoRA).
    pub qlora: QloraConfig,
    /// Loop settings.
    pub train: LoopConfig,
    /// Data pipeline.
    pub data: DataConfig,
    /// Distillation (the `distill` subcommand).
    pub distill: DistillConfig,
    /// Task accuracy before/after.
    pub tasks: TaskEvalConfig,
}

/// Reads `--config` (or defaults) — the whole file, or a `[phase1]` table of a pipeline preset.
pub fn load(path: Option<&std::path::Path>) -> anyhow::Result<Phase1Config> {
    use anyhow::Context;
    let Some(path) = path else {
        return Ok(Phase1Config::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config {}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
    let table = match value.get("phase1") {
        Some(t) => t.clone(),
        None => value,
    };
    table
        .try_into()
        .with_context(|| format!("config {}: invalid phase 1 settings", path.display()))
}

/// Loop and data flags shared by `train` and `distill`; each overrides the config file.
#[derive(clap::Args, Debug, Clone)]
pub struct LoopArgs {
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Passes over the data.
    #[arg(long)]
    pub epochs: Option<f64>,
    /// Stop after this many optimiser steps.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Tokens per training sequence.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Sequences per forward pass.
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// Use at most N training rows.
    #[arg(long)]
    pub max_train_rows: Option<usize>,
    /// Start from scratch even if checkpoints of this run exist.
    #[arg(long)]
    pub no_resume: bool,
}

impl LoopArgs {
    /// Applies the given flags to `cfg`, and the run's seed.
    pub fn apply(&self, cfg: &mut Phase1Config, seed: u64) {
        if let Some(v) = self.lr {
            cfg.train.lr = v
        }
        if let Some(v) = self.epochs {
            cfg.train.epochs = v
        }
        if self.max_steps.is_some() {
            cfg.train.max_steps = self.max_steps
        }
        if let Some(v) = self.seq_len {
            cfg.data.seq_len = v
        }
        if let Some(v) = self.micro_batch {
            cfg.train.micro_batch = v
        }
        if self.max_train_rows.is_some() {
            cfg.data.max_train_rows = self.max_train_rows
        }
        cfg.train.seed = seed;
    }
}
