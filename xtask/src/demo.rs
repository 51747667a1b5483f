//! `cargo xtask demo`: the main job on the embedded default. Runs the `smollm2-demo` pipeline
//! (fetch + import SmolLM2, phase 0 dataset, phase 1 LoRA fine-tune + merge + draft-model
//! distillation, phase 9 benchmark import + validation runs + report) through the orchestrator,
//! then chats with the model,
//! measures perplexity on the bundled English text and prints a short report with tokens/s.
//! Every step is a subprocess a user could type; the report lands in `artifacts/demo/report.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;

use crate::run::{RunArgs, run_collect};
use crate::util;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pipeline preset the demo runs.
    #[arg(long, default_value = "configs/smollm2-demo.toml")]
    pub config: PathBuf,
    /// Tokens per chat answer.
    #[arg(long, default_value_t = 48)]
    pub max_new_tokens: usize,
}

const PROMPTS: &[&str] = &[
    "What is the capital of France?",
    "Write a Python function that returns the square of a number.",
    "Give me three tips for staying focused while studying.",
];

/// Runs the demo.
pub fn run(args: &DemoArgs) -> Result<()> {
    let root = util::root();
    let (ok, outputs) = run_collect(&RunArgs {
        phases: vec![],
        config: root.join(&args.config),
        dry_run: false,
        no_build: false,
        bin_dir: None,
        artifacts: None,
    })?;
    if !ok {
        bail!("the demo pipeline reported a failed check; see the run log above");
    }
    let model = outputs
        .get("fetch-model")
        .context("the demo preset has no `fetch-model` step")?
        .clone();
    let validation = util::bin("phase9_validation");
    let mut report = String::from("# Cogumi demo report\n\n");
    report.push_str(&format!("Model artifact: `{}`\n\n", rel(&root, &model)));
    report.push_str("## Pipeline artifacts\n\n| step | artifact |\n|---|---|\n");
    let mut steps: Vec<_> = outputs.iter().collect();
    steps.sort();
    for (step, dir) in steps {
        report.push_str(&format!("| {step} | `{}` |\n", rel(&root, dir)));
    }
    report.push_str(&phase0_summary(&outputs));
    report.push_str(&phase1_summary(&root, &outputs));
    report.push_str(&phase2_summary(&root, &outputs));

    report.push_str("\n## Chat (greedy)\n\n");
    let mut decode_rates = Vec::new();
    for prompt in PROMPTS {
        let out = util::run_capture(
            Command::new(&validation)
                .arg("generate")
                .arg("--model")
                .arg(&model)
                .args(["--chat", prompt, "--greedy", "--json", "-q"])
                .args(["--max-new-tokens", &args.max_new_tokens.to_string()]),
        )?;
        let v: Value = serde_json::from_str(out.trim()).context("parsing generate --json")?;
        let text = v["text"].as_str().unwrap_or("").trim().to_string();
        let rate = v["decode_tok_s"].as_f64().unwrap_or(0.0);
        decode_rates.push(rate);
        eprintln!("\n> {prompt}\n{text}\n");
        report.push_str(&format!(
            "**User:** {prompt}\n\n**SmolLM2:** {}\n\n_{} tokens, prefill {:.0} tok/s, decode {:.1} tok/s_\n\n",
            text.replace('\n', "\n> "),
            v["generated_ids"].as_array().map_or(0, Vec::len),
            v["prefill_tok_s"].as_f64().unwrap_or(0.0),
            rate
        ));
    }

    let text = root.join("data/english.txt");
    let ppl = util::run_capture(
        Command::new(&validation)
            .arg("perplexity")
            .arg("--model")
            .arg(&model)
            .arg("--text")
            .arg(&text)
            .arg("-q"),
    )?;
    let p: Value = serde_json::from_str(ppl.trim()).context("parsing perplexity output")?;
    report.push_str(&format!(
        "## Perplexity on `data/english.txt`\n\n{} tokens in {} window(s): token perplexity **{:.2}**, \
         word perplexity {:.2}, bits per byte {:.3}; {:.0} tokens/s.\n",
        p["tokens"], p["windows"], num(&p, "token_perplexity"), num(&p, "word_perplexity"),
        num(&p, "bits_per_byte"), num(&p, "tok_s")
    ));
    let mean_decode = decode_rates.iter().sum::<f64>() / decode_rates.len().max(1) as f64;
    report.push_str(&format!(
        "\nMean decode speed: {mean_decode:.1} tokens/s on {}.\n",
        util::machine()
    ));
    report.push_str(&phase9_summary(&root, &outputs));
    let dir = root.join("artifacts/demo");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("report.md");
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("{report}");
    println!("{}", path.display());
    Ok(())
}

/// The validation report's tables (models, tasks, speed, gates), demoted one heading level.
fn phase9_summary(root: &Path, outputs: &std::collections::HashMap<String, PathBuf>) -> String {
    let Some(dir) = outputs.get("validation-report") else {
        return String::new();
    };
    let Ok(md) = std::fs::read_to_string(dir.join("report.md")) else {
        return String::new();
    };
    // Keep everything before the per-run metric lists; nest it under one section.
    let main = md.split("\n## All metrics").next().unwrap_or(&md);
    let body: String = main
        .lines()
        .skip(1)
        .map(|l| {
            if l.starts_with('#') {
                format!("#{l}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    format!(
        "\n## Phase 9: validation (small subsets; full report `{}`)\n{body}",
        rel(root, &dir.join("report.html"))
    )
}

fn num(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or(f64::NAN)
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Phase 1 figures from the train / distill manifests, when the preset ran phase 1: the
/// validation loss and held-out task accuracy before and after the LoRA run, and the draft
/// model's agreement with its teacher.
fn phase1_summary(root: &Path, outputs: &std::collections::HashMap<String, PathBuf>) -> String {
    let metrics = |step: &str| -> Option<Value> {
        let dir = outputs.get(step)?;
        let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
        let v: Value = serde_json::from_str(&text).ok()?;
        Some(v["metrics"].clone())
    };
    let mut out = String::new();
    if let Some(m) = metrics("train") {
        let dir = &outputs["train"];
        out.push_str(&format!(
            "\n## Phase 1: LoRA fine-tune (rank 16, all linears)\n\n\
             | | before | after |\n|---|---|---|\n\
             | validation loss | {:.4} | {:.4} (best {:.4}) |\n\
             | held-out task accuracy ({} rows) | {:.1} % | {:.1} % |\n\n\
             {} optimiser steps, {} training tokens at {:.0} tokens/s, peak RSS {:.0} MiB. \
             Loss curve: `{}`; adapter (PEFT format): `{}`.\n",
            num(&m, "val_loss_initial"),
            num(&m, "val_loss_final"),
            num(&m, "val_loss_best"),
            m["task_rows"].as_u64().unwrap_or(0),
            100.0 * num(&m, "task_accuracy_before"),
            100.0 * num(&m, "task_accuracy_after"),
            m["steps"].as_u64().unwrap_or(0),
            m["tokens"].as_u64().unwrap_or(0),
            num(&m, "tokens_per_s"),
            num(&m, "peak_rss_bytes") / 1048576.0,
            rel(root, &dir.join("loss.svg")),
            rel(root, dir),
        ));
    }
    if let Some(dir) = outputs.get("merge") {
        out.push_str(&format!("\nMerged HF checkpoint: `{}`.\n", rel(root, dir)));
    }
    if let Some(m) = metrics("distill") {
        out.push_str(&format!(
            "\n## Phase 1E: draft model ({} of {} layers, distilled)\n\n\
             Teacher–student top-1 agreement {:.1} % → {:.1} %, KL(teacher ‖ student) {:.3} → {:.3} \
             ({} steps).\n",
            m["student_layers"].as_u64().unwrap_or(0),
            m["teacher_layers"].as_u64().unwrap_or(0),
            100.0 * num(&m, "top1_agreement_before"),
            100.0 * num(&m, "top1_agreement_after"),
            num(&m, "kl_before"),
            num(&m, "kl_after"),
            m["steps"].as_u64().unwrap_or(0),
        ));
    }
    out
}

/// A few lines from the phase 0 stats artifact, when the preset ran phase 0.
fn phase0_summary(outputs: &std::collections::HashMap<String, PathBuf>) -> String {
    let Some(stats) = outputs.get("stats") else {
        return String::new();
    };
    let report = stats.join("report.md");
    match std::fs::read_to_string(&report) {
        Ok(text) => format!(
            "\n## Phase 0 dataset\n\nFull report: `{}`\n\n{}\n",
            report.display(),
            text.lines().skip(1).take(30).collect::<Vec<_>>().join("\n")
        ),
        Err(_) => String::new(),
    }
}

/// Phase 2's table: what each compression stage cost and bought, from the artifacts' metrics.
fn phase2_summary(root: &Path, outputs: &std::collections::HashMap<String, PathBuf>) -> String {
    let metrics = |step: &str| -> Option<Value> {
        let text = std::fs::read_to_string(outputs.get(step)?.join("manifest.json")).ok()?;
        Some(serde_json::from_str::<Value>(&text).ok()?["metrics"].clone())
    };
    let Some(prune) = metrics("prune") else {
        return String::new();
    };
    let mut out = String::from("\n## Phase 2: compression\n\n| stage | result |\n|---|---|\n");
    out.push_str(&format!(
        "| prune (Wanda {:.0} %, MLP {} channels) | held-out perplexity {:.2} → {:.2}, argmax agreement {:.1} %, Q4_K_M {:.1} MB |\n",
        100.0 * num(&prune, "sparsity"),
        prune["intermediate_size"].as_u64().unwrap_or(0),
        num(&prune, "perplexity_before"),
        num(&prune, "perplexity_after"),
        100.0 * num(&prune, "agreement"),
        num(&prune, "gguf_q4_k_m_bytes") / 1e6,
    ));
    if let Some(m) = metrics("recover") {
        out.push_str(&format!(
            "| recover (LoRA on the {} hardest rows) | perplexity {:.2} → {:.2} (reference {:.2}; {:.0} % of the loss regained) |\n",
            m["hardest_rows"].as_u64().unwrap_or(0),
            num(&m, "perplexity_before"),
            num(&m, "perplexity_after"),
            num(&m, "perplexity_reference"),
            100.0 * num(&m, "perplexity_regained"),
        ));
    }
    if let Some(m) = metrics("gguf") {
        let check = &m["llama_cpp_check"];
        out.push_str(&format!(
            "| gguf {} | {:.1} MB ({:.2} bits/weight); llama.cpp answers \"{}\" at {:.0} tok/s |\n",
            m["file_type"].as_str().unwrap_or("?"),
            num(&m, "bytes") / 1e6,
            num(&m, "bits_per_weight"),
            check["answer"].as_str().unwrap_or("?").replace('\n', " "),
            num(check, "tokens_per_s"),
        ));
    }
    if let Some(m) = metrics("pack") {
        out.push_str(&format!(
            "| pack (zstd over byte planes) | ratio {:.3}× (plain zstd {:.3}×) |\n",
            num(&m, "ratio"),
            num(&m, "plain_zstd_ratio"),
        ));
    }
    if let Some(m) = metrics("calibrate") {
        out.push_str(&format!(
            "| calibrate | T = {:.3}; token ECE {:.3} → {:.3}; sequence ECE {:.3} → {:.3} |\n",
            num(&m, "temperature"),
            num(&m, "token_ece_before"),
            num(&m, "token_ece_after"),
            num(&m, "sequence_ece_before"),
            num(&m, "sequence_ece_after"),
        ));
    }
    if let Some(dir) = outputs.get("gguf") {
        out.push_str(&format!(
            "\nShippable file: `{}`.\n",
            rel(root, &dir.join("model.gguf"))
        ));
    }
    out
}
