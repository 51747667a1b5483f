//! `phase1_training`: thin entry point; the verbs live in the library (see `cli.rs`).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use phase1_training::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cogumi_cli::init_tracing(&cli.common);
    let result = match &cli.command {
        Command::Train(a) => phase1_training::train_cmd::run(a, &cli.common),
        Command::Merge(a) => phase1_training::merge::run(a, &cli.common),
        Command::Distill(a) => phase1_training::distill_cmd::run(a, &cli.common),
        Command::Speed(a) => {
            let r = phase1_training::speed::run(a, &cli.common).map(|()| true);
            return cogumi_cli::exit_code(r);
        }
    };
    let result = result.and_then(|artifact| match artifact {
        Some(a) => cogumi_cli::emit_artifact(&cli.common, &a),
        None => Ok(true),
    });
    cogumi_cli::exit_code(result)
}
