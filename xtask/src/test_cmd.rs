//! `cargo xtask test`: the README's test command. Makes sure the embedded default model is
//! fetched and imported (the conformance tests read it), then runs `cargo test --workspace`.

use std::process::Command;

use anyhow::{Result, bail};
use clap::Args;

use crate::fetch_model::embedded_default;
use crate::util;

/// Arguments of `test`; anything after `--` goes to `cargo test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Extra arguments for `cargo test` (e.g. `-- --nocapture`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Runs the test suite.
pub fn run(args: &TestArgs) -> Result<()> {
    let root = util::root();
    embedded_default()?;
    let mut cmd = Command::new(util::cargo());
    cmd.current_dir(&root)
        .args(["test", "--workspace", "--locked"])
        .args(&args.rest);
    if !cmd.status()?.success() {
        bail!("cargo test failed");
    }
    Ok(())
}
