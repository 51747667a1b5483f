//! Command line of `phase0_dataset`: one subcommand per verb, the common flags of
//! `cogumi-cli` flattened in, and the dispatch that runs a verb and prints its artifact.

use clap::{Parser, Subcommand};
use cogumi_artifact::Artifact;
use cogumi_cli::CommonArgs;

use crate::{dedup, domains, ingest, lang, split, stats, synth};

/// Phase 0: build a clean, deduplicated, domain-tagged instruction dataset.
#[derive(Parser, Debug)]
#[command(name = "phase0_dataset", version, about)]
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
    /// Generate the synthetic verifiable curriculum (raw corpus artifact).
    Synth(synth::SynthArgs),
    /// Read raw files or raw artifacts in any supported schema into a dataset artifact.
    Ingest(ingest::IngestArgs),
    /// Keep English rows (whatlang); the rest go to rejected.jsonl with the reason.
    Lang(lang::LangArgs),
    /// Remove exact and near-duplicate rows (MinHash LSH).
    Dedup(dedup::DedupArgs),
    /// Tag domains by ordered, named rules.
    Domains(domains::DomainsArgs),
    /// Counts, length histograms and the funnel, as JSON, Markdown and HTML.
    Stats(stats::StatsArgs),
    /// Deterministic train/validation/test split, stratified by domain.
    Split(split::SplitArgs),
}

/// Runs the chosen verb; prints the artifact path (or `--json` summary) unless `--plan`.
pub fn dispatch(cli: &Cli) -> anyhow::Result<bool> {
    let c = &cli.common;
    let out: Option<Artifact> = match &cli.command {
        Command::Synth(a) => synth::run(a, c)?,
        Command::Ingest(a) => ingest::run(a, c)?,
        Command::Lang(a) => lang::run(a, c)?,
        Command::Dedup(a) => dedup::run(a, c)?,
        Command::Domains(a) => domains::run(a, c)?,
        Command::Stats(a) => stats::run(a, c)?,
        Command::Split(a) => split::run(a, c)?,
    };
    match out {
        Some(artifact) => cogumi_cli::emit_artifact(c, &artifact),
        None => Ok(true),
    }
}
