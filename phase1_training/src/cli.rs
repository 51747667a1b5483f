//! Command line of `phase1_training`: `train`, `merge`, `distill`, with `cogumi-cli`'s common
//! flags (`--out`, `--config`, `--seed`, `--device`, `--json`, `--plan`, …).

use clap::{Parser, Subcommand};
use cogumi_cli::CommonArgs;

use crate::{distill_cmd, merge, speed, train_cmd};

/// Phase 1: fine-tune (LoRA, QLoRA, full), merge adapters, distil draft models.
#[derive(Parser, Debug)]
#[command(name = "phase1_training", version, about)]
pub struct Cli {
    /// The verb to run.
    #[command(subcommand)]
    pub command: Command,
    /// Flags shared by every verb.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The verbs.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Fine-tune a model on a dataset: LoRA / QLoRA adapter artifact, or a full model artifact.
    Train(train_cmd::TrainArgs),
    /// Fold a PEFT-format adapter into its base: an HF-format model artifact.
    Merge(merge::MergeArgs),
    /// Distil a teacher into a smaller student (draft model for speculative decoding).
    Distill(distill_cmd::DistillArgs),
    /// Measure training tokens/s and peak memory of one configuration on this machine.
    Speed(speed::SpeedArgs),
}
