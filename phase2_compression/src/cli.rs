//! Command line of `phase2_compression`: one verb per compression stage, with `cogumi-cli`'s
//! common flags (`--out`, `--config`, `--json`, `--plan`, …).

use clap::{Parser, Subcommand};
use cogumi_cli::CommonArgs;

use crate::{calibrate_cmd, gguf_cmd, pack_cmd, prune_cmd, recover_cmd, report_cmd};

/// Phase 2: compress a fine-tuned model into the artifact users ship.
#[derive(Parser, Debug)]
#[command(name = "phase2_compression", version, about)]
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
    /// Prune the decoder projections (magnitude, Wanda, SparseGPT; unstructured or N:M) and/or
    /// MLP channels (a smaller dense model); perplexity before/after and the real GGUF size.
    Prune(prune_cmd::PruneArgs),
    /// Export an HF checkpoint or model artifact to GGUF (F32, F16, BF16, Q8_0, Q6_K, Q5_K_M,
    /// Q4_K_M), byte-identical to llama.cpp's converter and llama-quantize. `--out FILE.gguf`
    /// writes that file instead of an artifact.
    Gguf(gguf_cmd::GgufArgs),
    /// Fit temperature (token level) and Platt (sequence level) scaling of the model's
    /// confidences on held-out data; ECE and reliability diagrams before and after.
    Calibrate(calibrate_cmd::CalibrateArgs),
    /// Train a recovery LoRA on the examples the compressed model finds hardest, merge it, and
    /// report the perplexity regained against the uncompressed model.
    Recover(recover_cmd::RecoverArgs),
    /// Pack an artifact losslessly: zstd over byte-plane-grouped float tensors, SHA-256 of
    /// every original file.
    Pack(pack_cmd::PackArgs),
    /// Restore a packed artifact bit for bit (or only verify it with `--verify`).
    Unpack(pack_cmd::UnpackArgs),
    /// One table for a run: size on disk, perplexity, agreement and ECE per stage artifact.
    Report(report_cmd::ReportArgs),
}
