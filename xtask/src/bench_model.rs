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
    /// Rounds, each running ours then the peer (each `--repeats` times); the best figure of each
    /// side is reported (the 2-core VM's speed drifts by ±20 % over minutes).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Don't rewrite docs/BENCHMARKS.md.
    #[arg(long)]
    pub no_record: bool,
}

/// Runs the benchmark and records it.
pub fn run(args: &BenchModelArgs) -> Result<()> {
    let root = util::root();
    let model = embedded_default()?;
    util::build_bins()?;
    let ours_run = || -> Result<Value> {
        let out = util::run_capture(
            Command::new(util::bin("phase9_validation"))
                .arg("speed")
                .arg("--model")
                .arg(model.dir())
                .args(["--prompt-tokens", &args.prompt_tokens.to_string()])
                .args(["--new-tokens", &args.new_tokens.to_string()])
                .args(["--repeats", &args.repeats.to_string()]),
        )?;
        serde_json::from_str(out.trim()).context("parsing our speed report")
    };
    let peer_run = || -> Result<Value> {
        let out = util::run_capture(
            Command::new(cogumi_fetch::python())
                .arg(root.join("xtask/peers/bench_model.py"))
                .arg(model.dir())
                .args(["--prefill", &args.prompt_tokens.to_string()])
                .args(["--decode", &args.new_tokens.to_string()])
                .args(["--repeats", &args.repeats.to_string()]),
        )?;
        util::last_json_line(&out).context("parsing the PyTorch peer's report")
    };
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    // Best of each metric over the rounds, and every round's figures for the record.
    let keys = ["prefill_tok_s", "decode_tok_s"];
    let (mut ours, mut peer) = (serde_json::Map::new(), serde_json::Map::new());
    let (mut ours_all, mut peer_all) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        for (best, all, v) in [
            (&mut ours, &mut ours_all, ours_run()?),
            (&mut peer, &mut peer_all, peer_run()?),
        ] {
            all.push(format!("{:.0}/{:.1}", f(&v, keys[0]), f(&v, keys[1])));
            for (k, val) in v.as_object().into_iter().flatten() {
                let better = keys.contains(&k.as_str())
                    && best.get(k).is_none_or(|b| val.as_f64() > b.as_f64());
                if better || !best.contains_key(k) {
                    best.insert(k.clone(), val.clone());
                }
            }
        }
        if peer.contains_key("skipped") {
            break;
        }
    }
    let (ours, peer) = (Value::Object(ours), Value::Object(peer));
    let mut table = String::new();
    table.push_str(&format!(
        "## Model: SmolLM2-135M-Instruct f32, CPU\n\n`cargo xtask bench model`, {} tokens prefill, {} tokens greedy decode with KV cache, best of {} runs in each of {} alternating rounds (ours then the peer); {}; measured {}.\n\n",
        args.prompt_tokens,
        args.new_tokens,
        args.repeats,
        ours_all.len(),
        util::machine(),
        util::today()
    ));
    table.push_str("| Implementation | prefill tok/s | decode tok/s |\n|---|---|---|\n");
    table.push_str(&format!(
        "| Cogumi (burn 0.22.1 flex fast path, dev profile with opt-level 3 deps) | {:.1} | {:.1} |\n",
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
        table.push_str(&format!(
            "\nPrefill/decode tok/s per round: ours {}; PyTorch {}.\n",
            ours_all.join(", "),
            peer_all.join(", ")
        ));
    }
    println!("{table}");
    if !args.no_record {
        util::write_bench_section("model", &table)?;
    }
    Ok(())
}
