//! `phase9_validation`: validation tools over any model artifact — logits dumps, generation and
//! rolling perplexity, speed; benchmark import, task runs, quality gates and reports.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use phase9_validation::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cogumi_cli::init_tracing(&cli.common);
    let result = match &cli.command {
        Command::Logits(args) => phase9_validation::logits::run(args, &cli.common).map(|()| true),
        Command::Generate(args) => {
            phase9_validation::generate::run(args, &cli.common).map(|()| true)
        }
        Command::Perplexity(args) => {
            phase9_validation::perplexity::run(args, &cli.common).map(|()| true)
        }
        Command::Speed(args) => phase9_validation::speed::run(args, &cli.common).map(|()| true),
        Command::Import(args) => {
            phase9_validation::import_cmd::run(args, &cli.common).and_then(|a| emit(&cli.common, a))
        }
        Command::Run(args) => {
            phase9_validation::run_cmd::run(args, &cli.common).and_then(|a| emit(&cli.common, a))
        }
        Command::Gate(args) => phase9_validation::report_cmd::gate(args, &cli.common),
        Command::Report(args) => phase9_validation::report_cmd::report(args, &cli.common)
            .and_then(|a| emit(&cli.common, a)),
        Command::Tasks => phase9_validation::report_cmd::tasks(),
    };
    cogumi_cli::exit_code(result)
}

/// Prints the artifact (nothing after `--plan`).
fn emit(
    common: &cogumi_cli::CommonArgs,
    artifact: Option<cogumi_artifact::Artifact>,
) -> anyhow::Result<bool> {
    match artifact {
        Some(a) => cogumi_cli::emit_artifact(common, &a),
        None => Ok(true),
    }
}
