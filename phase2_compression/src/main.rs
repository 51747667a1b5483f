//! `phase2_compression`: thin entry point; the verbs live in the library (see `cli.rs`).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use phase2_compression::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    cogumi_cli::init_tracing(&cli.common);
    let result = match &cli.command {
        Command::Prune(a) => phase2_compression::prune_cmd::run(a, &cli.common),
        Command::Gguf(a) => phase2_compression::gguf_cmd::run(a, &cli.common),
        Command::Calibrate(a) => phase2_compression::calibrate_cmd::run(a, &cli.common),
        Command::Recover(a) => phase2_compression::recover_cmd::run(a, &cli.common),
        Command::Report(a) => phase2_compression::report_cmd::run(a, &cli.common),
        Command::Pack(a) => phase2_compression::pack_cmd::run_pack(a, &cli.common),
        Command::Unpack(a) => {
            let r = phase2_compression::pack_cmd::run_unpack(a, &cli.common).map(|()| true);
            return cogumi_cli::exit_code(r);
        }
    };
    let result = result.and_then(|artifact| match artifact {
        Some(a) => cogumi_cli::emit_artifact(&cli.common, &a),
        None => Ok(true),
    });
    cogumi_cli::exit_code(result)
}
