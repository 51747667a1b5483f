//! `cargo xtask bench eval`: MMLU (5-shot, lm-eval format) questions per second on SmolLM2-135M,
//! ours (`phase9_validation run --tasks mmlu`) against lm-evaluation-harness with its
//! transformers backend (`xtask/peers/bench_eval.py`) on the same subjects and questions, in
//! the same run. Only the evaluation is timed on both sides (model loading excluded).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::fetch_model::embedded_default;
use crate::util;

/// Arguments of `bench eval`.
#[derive(Debug, Args)]
pub struct BenchEvalArgs {
    /// The first N MMLU subjects (alphabetical).
    #[arg(long, default_value_t = 5)]
    pub subjects: usize,
    /// Test questions per subject.
    #[arg(long, default_value_t = 10)]
    pub questions: usize,
    /// Rounds, each running ours then the peer; the fastest round of each side is reported
    /// (the 2-core VM's speed drifts by ±20 % over minutes).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Don't rewrite docs/BENCHMARKS.md.
    #[arg(long)]
    pub no_record: bool,
}

/// Writes `<out>/mmlu/{dev,test}.jsonl` holding only the first `subjects` subjects.
fn subset(bench: &Path, out: &Path, subjects: usize) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    std::fs::create_dir_all(out.join("mmlu"))?;
    for split in ["test", "dev"] {
        let src = bench.join("mmlu").join(format!("{split}.jsonl"));
        let text =
            std::fs::read_to_string(&src).with_context(|| format!("reading {}", src.display()))?;
        if names.is_empty() {
            let mut all: Vec<String> = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter_map(|v| v["subject"].as_str().map(str::to_string))
                .collect();
            all.sort();
            all.dedup();
            names = all.into_iter().take(subjects).collect();
        }
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .and_then(|v| v["subject"].as_str().map(|s| names.iter().any(|n| n == s)))
                    .unwrap_or(false)
            })
            .collect();
        std::fs::write(
            out.join("mmlu").join(format!("{split}.jsonl")),
            kept.join("\n") + "\n",
        )?;
    }
    Ok(names)
}

/// Runs the benchmark and records it.
pub fn run(args: &BenchEvalArgs) -> Result<()> {
    let root = util::root();
    let model = embedded_default()?;
    util::build_bins()?;
    let validation = util::bin("phase9_validation");
    let artifacts = root.join("artifacts");
    let bench = util::run_capture(
        Command::new(&validation)
            .args(["import", "--sets", "mmlu", "--out"])
            .arg(&artifacts),
    )?;
    let bench = PathBuf::from(bench.trim().lines().last().unwrap_or_default());
    let work = root.join("target/bench-eval");
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    let names = subset(&bench, &data, args.subjects)?;
    let n = (args.subjects * args.questions).to_string();
    // Each round scores into a fresh directory (an artifact with the same id would be reused).
    let round_run = |round: usize| -> Result<(f64, f64, f64, Value)> {
        let ours = util::run_capture(
            Command::new(&validation)
                .arg("--out")
                .arg(work.join(format!("out{round}")))
                .args([
                    "run",
                    "--tasks",
                    "mmlu",
                    "--limit",
                    &args.questions.to_string(),
                ])
                .arg("--model")
                .arg(model.dir())
                .arg("--data")
                .arg(&data),
        )?;
        let dir = PathBuf::from(ours.trim().lines().last().unwrap_or_default());
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json"))?)?;
        let task = &results["tasks"][0];
        let (our_n, our_s) = (
            task["samples"].as_f64().unwrap_or(0.0),
            task["seconds"].as_f64().unwrap_or(f64::NAN),
        );
        let our_acc = task["metrics"]["acc"]["value"].as_f64().unwrap_or(f64::NAN);
        if our_n as usize != args.subjects * args.questions {
            bail!("our run scored {our_n} questions, expected {n}");
        }
        let peer = util::run_capture(
            Command::new(cogumi_fetch::python())
                .arg(root.join("xtask/peers/bench_eval.py"))
                .arg("--model")
                .arg(model.dir())
                .arg("--data")
                .arg(&data)
                .args(["--subjects", &args.subjects.to_string()])
                .args(["--questions-per-subject", &args.questions.to_string()]),
        )?;
        let peer: Value =
            util::last_json_line(&peer).context("parsing the lm-eval peer's report")?;
        Ok((our_n, our_s, our_acc, peer))
    };
    let mut best: Option<(f64, f64, f64)> = None;
    let mut peer: Option<Value> = None;
    let (mut ours_all, mut peer_all) = (Vec::new(), Vec::new());
    for round in 0..args.rounds.max(1) {
        let (n_q, secs, acc, p) = round_run(round)?;
        ours_all.push(format!("{secs:.1}"));
        peer_all.push(format!("{:.1}", p["seconds"].as_f64().unwrap_or(f64::NAN)));
        if best.is_none_or(|b| secs < b.1) {
            best = Some((n_q, secs, acc));
        }
        let faster = peer
            .as_ref()
            .is_none_or(|b| p["seconds"].as_f64() < b["seconds"].as_f64());
        let skipped = p["skipped"].is_string();
        if faster || skipped {
            peer = Some(p);
        }
        if skipped {
            break;
        }
    }
    let (our_n, our_s, our_acc) = best.expect("one round ran");
    let peer = peer.expect("one round ran");
    let ours_qps = our_n / our_s;
    let mut table = format!(
        "## Eval: MMLU questions/s, SmolLM2-135M-Instruct f32, CPU\n\n`cargo xtask bench eval`: {} subjects ({}) × {} test questions, 5-shot (lm-eval `mmlu` format, first_n from dev); evaluation time only, fastest of {} alternating rounds (ours then the peer); {}; measured {}.\n\n",
        names.len(),
        names.join(", "),
        args.questions,
        ours_all.len(),
        util::machine(),
        util::today()
    );
    table.push_str(
        "| Implementation | questions | seconds | questions/s | acc |\n|---|---:|---:|---:|---:|\n",
    );
    table.push_str(&format!(
        "| Cogumi `phase9_validation run` (flex fast path f32, shared-prefix reuse, packed continuations) | {our_n} | {our_s:.1} | {ours_qps:.3} | {:.3} |\n",
        our_acc
    ));
    if let Some(skip) = peer["skipped"].as_str() {
        table.push_str(&format!(
            "| lm-evaluation-harness peer | skipped: {skip} | | | |\n"
        ));
    } else {
        let f = |k: &str| peer[k].as_f64().unwrap_or(f64::NAN);
        table.push_str(&format!(
            "| {} (transformers, batch {}, {} threads) | {} | {:.1} | {:.3} | {:.3} |\n",
            peer["peer"].as_str().unwrap_or("lm-eval"),
            peer["batch_size"],
            peer["threads"].as_u64().unwrap_or(2),
            f("questions"),
            f("seconds"),
            f("questions_per_s"),
            f("acc")
        ));
        table.push_str(&format!(
            "\nRatio (ours / lm-eval): {:.2}× (goal ≥ 5×). Accuracy must be equal: the prompts and scores are the same computation.\n",
            ours_qps / f("questions_per_s")
        ));
        table.push_str(&format!(
            "\nSeconds per round: ours {}; lm-eval {}.\n",
            ours_all.join(" / "),
            peer_all.join(" / ")
        ));
    }
    println!("{table}");
    if !args.no_record {
        util::write_bench_section("eval", &table)?;
    }
    Ok(())
}
