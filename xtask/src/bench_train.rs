//! `cargo xtask bench train`: LoRA training tokens/s and peak RSS on SmolLM2-135M (seq 256,
//! micro-batch 4, rank 16, all linears, f32), ours (`phase1_training speed`) against PyTorch +
//! PEFT doing the same steps in the same run (`xtask/peers/bench_train.py`; skipped with a
//! message when torch or peft is absent).

use std::process::Command;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

use crate::fetch_model::embedded_default;
use crate::util;

/// Arguments of `bench train`.
#[derive(Debug, Args)]
pub struct BenchTrainArgs {
    /// Tokens per sequence.
    #[arg(long, default_value_t = 256)]
    pub seq: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// LoRA rank.
    #[arg(long, default_value_t = 16)]
    pub rank: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 3)]
    pub steps: usize,
    /// Rounds, each running ours then the peer; the best round of each side is reported (the
    /// 2-core VM's speed drifts by ±20 % over minutes, so single runs mislead).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Also measure QLoRA (NF4 base), ours only.
    #[arg(long)]
    pub qlora: bool,
    /// Don't rewrite docs/BENCHMARKS.md.
    #[arg(long)]
    pub no_record: bool,
}

/// Runs the benchmark and records it.
pub fn run(args: &BenchTrainArgs) -> Result<()> {
    let root = util::root();
    let model = embedded_default()?;
    util::build_bins()?;
    let ours_run = |method: &str| -> Result<Value> {
        let out = util::run_capture(
            Command::new(util::bin("phase1_training"))
                .arg("speed")
                .arg("--model")
                .arg(model.dir())
                .args(["--method", method])
                .args(["--seq", &args.seq.to_string()])
                .args(["--batch", &args.batch.to_string()])
                .args(["--rank", &args.rank.to_string()])
                .args(["--steps", &args.steps.to_string()]),
        )?;
        util::last_json_line(&out).context("parsing our speed report")
    };
    let peer_run = || -> Result<Value> {
        let out = util::run_capture(
            Command::new(cogumi_fetch::python())
                .arg(root.join("xtask/peers/bench_train.py"))
                .arg(model.dir())
                .args(["--seq", &args.seq.to_string()])
                .args(["--batch", &args.batch.to_string()])
                .args(["--rank", &args.rank.to_string()])
                .args(["--steps", &args.steps.to_string()]),
        )?;
        util::last_json_line(&out).context("parsing the PyTorch peer's report")
    };
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    let (mut ours, mut peer): (Option<Value>, Option<Value>) = (None, None);
    let (mut ours_all, mut peer_all) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        let o = ours_run("lora")?;
        ours_all.push(f(&o, "tokens_per_s"));
        if ours
            .as_ref()
            .is_none_or(|b| f(&o, "tokens_per_s") > f(b, "tokens_per_s"))
        {
            ours = Some(o);
        }
        let p = peer_run()?;
        let skipped = p["skipped"].is_string();
        peer_all.push(f(&p, "tokens_per_s"));
        if peer
            .as_ref()
            .is_none_or(|b| f(&p, "tokens_per_s") > f(b, "tokens_per_s"))
        {
            peer = Some(p);
        }
        if skipped {
            break;
        }
    }
    let (ours, peer) = (ours.expect("one round ran"), peer.expect("one round ran"));
    let ours_q = if args.qlora {
        Some(ours_run("qlora")?)
    } else {
        None
    };
    let rounds = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.1}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let mut table = format!(
        "## Training: LoRA on SmolLM2-135M-Instruct f32, CPU\n\n`cargo xtask bench train`: seq {}, micro-batch {}, rank {} on all 7 projections, AdamW, one step per micro-batch, {} timed steps after 1 warm-up, best of {} alternating rounds (ours then the peer); {}; measured {}.\n\n",
        args.seq,
        args.batch,
        args.rank,
        args.steps,
        ours_all.len(),
        util::machine(),
        util::today()
    );
    table.push_str("| Implementation | tokens/s | s/step | peak RSS MiB |\n|---|---|---|---|\n");
    table.push_str(&format!(
        "| Cogumi LoRA (burn 0.22.1 flex, fast-path backward) | {:.1} | {:.2} | {:.0} |\n",
        f(&ours, "tokens_per_s"),
        f(&ours, "step_s"),
        f(&ours, "peak_rss_mib")
    ));
    if let Some(q) = &ours_q {
        table.push_str(&format!(
            "| Cogumi QLoRA (NF4 base, double quant) | {:.1} | {:.2} | {:.0} |\n",
            f(q, "tokens_per_s"),
            f(q, "step_s"),
            f(q, "peak_rss_mib")
        ));
    }
    if let Some(skip) = peer["skipped"].as_str() {
        table.push_str(&format!("| PyTorch + PEFT peer | skipped: {skip} | | |\n"));
    } else {
        table.push_str(&format!(
            "| PyTorch {} + PEFT {} ({} threads) | {:.1} | {:.2} | {:.0} |\n",
            peer["torch"].as_str().unwrap_or("?"),
            peer["peft"].as_str().unwrap_or("?"),
            peer["threads"].as_u64().unwrap_or(0),
            f(&peer, "tokens_per_s"),
            f(&peer, "step_s"),
            f(&peer, "peak_rss_mib")
        ));
        table.push_str(&format!(
            "\nRatio (ours / PyTorch): throughput {:.2}×, peak memory {:.2}× (goal: ≥ 1.0× throughput at ≤ 1.0× memory).\n",
            f(&ours, "tokens_per_s") / f(&peer, "tokens_per_s"),
            f(&ours, "peak_rss_mib") / f(&peer, "peak_rss_mib")
        ));
        table.push_str(&format!(
            "\nTokens/s per round: ours {}; PyTorch {}.\n",
            rounds(&ours_all),
            rounds(&peer_all)
        ));
    }
    println!("{table}");
    if !args.no_record {
        util::write_bench_section("train", &table)?;
    }
    Ok(())
}
