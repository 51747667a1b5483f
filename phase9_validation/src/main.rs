//! `phase9_validation`: validation tools over any model artifact — logits dumps, generation and
//! rolling perplexity today; benchmark suites and quality gates as the phase grows.

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
    };
    cogumi_cli::exit_code(result)
}
