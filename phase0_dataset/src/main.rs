//! `phase0_dataset` binary: parse, set up tracing, run the verb, map the result to an exit code
//! (0 ok, 1 check failed, 2 error).

use clap::Parser;
use phase0_dataset::cli::{Cli, dispatch};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cogumi_cli::init_tracing(&cli.common);
    cogumi_cli::exit_code(dispatch(&cli))
}
