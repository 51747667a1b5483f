//! `cargo xtask bench model`: SmolLM2-135M f32 prefill (512-token prompt) and decode tokens/s,
//! ours (`phase9_validation speed`) against PyTorch/transformers in the same run
//! (`xtask/peers/bench_model.py`, skipped with a message when torch is absent).

use std::process::Command;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

use crate::fetch_model::embedded_default;
use crate::util;

/// Arguments of `bench model`.
#[derive(Debug, Args)]
pub struct BenchModelArgs {
    /// Prompt length for prefill.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens to decode.
    #[arg(long, default_value_t = 128)]
    pub new_tokens: usize,
    /// Measured repeats (best reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Don't rewrite docs/BENCHMARKS.md.
    #[arg(long)]
    pub no_record: bool,
}

/// Runs the benchmark and records it.
pub fn run(args: &BenchModelArgs) -> Result<()> {
    let root = util::root();
    let model = embedded_default()?;
    util::build_bins()?;
    let ours = util::run_capture(
        Command::new(util::bin("phase9_validation"))
            .arg("speed")
            .arg("--model")
            .arg(model.dir())
            .args(["--prompt-tokens", &args.prompt_tokens.to_string()])
            .args(["--new-tokens", &args.new_tokens.to_string()])
            .args(["--repeats", &args.repeats.to_string()]),
    )?;
    let ours: Value = serde_json::from_str(ours.trim()).context("parsing our speed report")?;
    let peer = util::run_capture(
        Command::new(cogumi_fetch::python())
            .arg(root.join("xtask/peers/bench_model.py"))
            .arg(model.dir())
            .args(["--prefill", &args.prompt_tokens.to_string()])
            .args(["--decode", &args.new_tokens.to_string()])
            .args(["--repeats", &args.repeats.to_string()]),
    )?;
    let peer: Value = util::last_json_line(&peer).context("parsing the PyTorch peer's report")?;
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let mut table = String::new();
    table.push_str(&format!(
        "## Model: SmolLM2-135M-Instruct f32, CPU\n\n`cargo xtask bench model`, {} tokens prefill, {} tokens greedy decode with KV cache, best of {}; {}; measured {}.\n\n",
        args.prompt_tokens,
        args.new_tokens,
        args.repeats,
        util::machine(),
        util::today()
    ));
    table.push_str("| Implementation | prefill tok/s | decode tok/s |\n|---|---|---|\n");
    table.push_str(&format!(
        "| Cogumi (burn 0.22.1 flex, dev profile with opt-level 3 deps) | {:.1} | {:.1} |\n",
        f(&ours, "prefill_tok_s"),
        f(&ours, "decode_tok_s")
    ));
    if let Some(skip) = peer["skipped"].as_str() {
        table.push_str(&format!("| PyTorch peer | skipped: {skip} | |\n"));
    } else {
        table.push_str(&format!(
            "| PyTorch {} + transformers {} ({} threads) | {:.1} | {:.1} |\n",
            peer["torch"].as_str().unwrap_or("?"),
            peer["transformers"].as_str().unwrap_or("?"),
            peer["threads"].as_u64().unwrap_or(0),
            f(&peer, "prefill_tok_s"),
            f(&peer, "decode_tok_s")
        ));
        table.push_str(&format!(
            "\nRatio (ours / PyTorch): prefill {:.2}×, decode {:.2}× (goal ≥ 1.0× on both).\n",
            f(&ours, "prefill_tok_s") / f(&peer, "prefill_tok_s"),
            f(&ours, "decode_tok_s") / f(&peer, "decode_tok_s")
        ));
    }
    println!("{table}");
    if !args.no_record {
        util::write_bench_section("model", &table)?;
    }
    Ok(())
}
