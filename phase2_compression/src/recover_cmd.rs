//! `phase2_compression recover`: recovery fine-tuning of a compressed model on the examples it
//! now finds hardest — per-example reply perplexity under the compressed model, highest first —
//! with a LoRA trained by the phase 1 engine (`cogumi-train`), then merged; reports the
//! held-out perplexity and argmax agreement with the uncompressed reference before and after.
//!
//! Selecting by the compressed model's own loss follows the recovery recipe of the reference
//! plan (`ROADMAP.md`, phase 2: "recovery LoRA on the hardest examples"); LoRA recovery of a
//! pruned model is the setting of Wanda's and LLM-Pruner's recovery experiments.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_train::{BaseFormat, CheckpointPlan, LoopConfig, LoraConfig, Row, attach_lora, train};
use serde_json::{Value, json};

use crate::heldout::{self, Part};
use crate::model_io;

/// `recover` flags.
#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    /// The compressed model (a `model` artifact or HF directory).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The uncompressed model it came from, for agreement and the "regained" figure.
    #[arg(long, value_name = "DIR")]
    pub reference: PathBuf,
    /// Data: a split artifact (train rows are candidates, validation rows measure).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Candidate training rows scored.
    #[arg(long, default_value_t = 256)]
    pub candidates: usize,
    /// Hardest rows trained on.
    #[arg(long, default_value_t = 64)]
    pub hardest: usize,
    /// Held-out rows measured before and after.
    #[arg(long, default_value_t = 32)]
    pub heldout: usize,
    /// Longest row in tokens.
    #[arg(long, default_value_t = 384)]
    pub max_len: usize,
    /// LoRA rank.
    #[arg(long, default_value_t = 8)]
    pub rank: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Passes over the hardest rows.
    #[arg(long, default_value_t = 1.0)]
    pub epochs: f64,
}

/// Runs `recover`.
pub fn run(args: &RecoverArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let source = model_io::open_model(&args.model)?;
    let reference = model_io::open_model(&args.reference)?;
    let (cands, data_art) = heldout::read_examples(&args.data, Part::Train, args.candidates)?;
    let (held, _) = heldout::read_examples(&args.data, Part::HeldOut, args.heldout)?;
    let inputs: Vec<InputRef> = source
        .iter()
        .chain(reference.iter())
        .chain(data_art.iter())
        .map(Artifact::as_input)
        .collect();
    let mut config = serde_json::to_value(RecoverConfig::from(args))?;
    for (k, a, p) in [
        ("model_dir", &source, &args.model),
        ("reference_dir", &reference, &args.reference),
    ] {
        if a.is_none() {
            config[k] = json!(p);
        }
    }
    let mut writer = match cogumi_cli::begin(
        common,
        "model",
        cogumi_artifact::producer!("recover"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };

    let (model, tok) = model_io::load(&args.model, &common.device)?;
    let (refm, _) = model_io::load(&args.reference, &common.device)?;
    let held: Vec<_> = heldout::encode(&tok, &held, args.max_len)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let (ref_scored, _) = heldout::score(&refm, &held, 0, || {})?;
    drop(refm);
    let (before, _) = heldout::score(&model, &held, 0, || {})?;

    // Hardest candidates by mean reply NLL under the compressed model.
    let cands: Vec<_> = heldout::encode(&tok, &cands, args.max_len)
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let bar = cogumi_cli::progress_bar(cands.len() as u64, "recover: scoring candidates");
    let (scored, _) = heldout::score(&model, &cands, 0, || bar.inc(1))?;
    bar.finish_and_clear();
    let mut order: Vec<usize> = (0..cands.len()).collect();
    let mean = |i: usize| scored[i].nll / scored[i].n.max(1) as f64;
    order.sort_by(|&a, &b| mean(b).total_cmp(&mean(a)));
    order.truncate(args.hardest);
    let pad = tok
        .pad_id()
        .or_else(|| tok.eos_ids().first().copied())
        .unwrap_or(0);
    let seq = order.iter().map(|&i| cands[i].len()).max().unwrap_or(1);
    let rows: Vec<Row> = order
        .iter()
        .map(|&i| Row::padded(&cands[i].ids, &cands[i].loss_mask, seq, pad))
        .collect::<std::result::Result<_, _>>()?;

    let lora = LoraConfig {
        rank: args.rank,
        alpha: 2.0 * args.rank as f64,
        rslora: false,
        dropout: 0.0,
        targets: vec!["all-linear".into()],
        layers: None,
    };
    let model = cogumi_train::for_training(model);
    let (mut model, _) = attach_lora(model, &lora, BaseFormat::Dense, common.seed)?;
    let mut loop_cfg = LoopConfig {
        lr: args.lr,
        epochs: args.epochs,
        micro_batch: 4,
        seed: common.seed,
        ..LoopConfig::default()
    };
    // A short run gets no warm-up: with the default 3 %, a one-step run would train at lr 0.
    if loop_cfg.total_steps(rows.len()) < 10 {
        loop_cfg.warmup_steps = Some(0);
    }
    let bar = cogumi_cli::progress_bar(loop_cfg.total_steps(rows.len()), "recover: train");
    let report = train(
        &mut model,
        &rows,
        &[],
        &loop_cfg,
        &cogumi_train::distill::Objective::CrossEntropy,
        &CheckpointPlan {
            dir: None,
            resume: false,
        },
        &mut |m| {
            bar.set_position(m.step);
            bar.set_message(format!("loss {:.4}", m.loss));
        },
    )?;
    bar.finish_and_clear();
    let merged = cogumi_train::peft::merge_adapters(cogumi_train::for_inference(&model))?;
    let (after, _) = heldout::score(&merged, &held, 0, || {})?;

    let (p_ref, p_before, p_after) = (
        heldout::perplexity(&ref_scored),
        heldout::perplexity(&before),
        heldout::perplexity(&after),
    );
    // Share of the perplexity lost to compression that recovery won back.
    let regained = if p_before > p_ref {
        (p_before - p_after) / (p_before - p_ref)
    } else {
        0.0
    };
    cogumi_model::save(&merged, writer.dir()).context("saving the recovered model")?;
    model_io::copy_side_files(&args.model, writer.dir())?;
    writer.set_metric("perplexity_reference", p_ref);
    writer.set_metric("perplexity_before", p_before);
    writer.set_metric("perplexity_after", p_after);
    writer.set_metric("perplexity_regained", regained);
    writer.set_metric("agreement_before", heldout::agreement(&before, &ref_scored));
    writer.set_metric("agreement_after", heldout::agreement(&after, &ref_scored));
    writer.set_metric("hardest_rows", rows.len());
    writer.set_metric("train_steps", report.completed_steps);
    writer.set_metric("train_tokens", report.tokens);
    writer.set_metric("stage", "recover");
    tracing::info!(p_ref, p_before, p_after, regained, "recovery done");
    Ok(Some(writer.commit()?))
}

/// The resolved settings stored in the manifest.
#[derive(serde::Serialize)]
struct RecoverConfig {
    candidates: usize,
    hardest: usize,
    heldout: usize,
    max_len: usize,
    rank: usize,
    lr: f64,
    epochs: f64,
    data: Value,
}

impl From<&RecoverArgs> for RecoverConfig {
    fn from(a: &RecoverArgs) -> Self {
        RecoverConfig {
            candidates: a.candidates,
            hardest: a.hardest,
            heldout: a.heldout,
            max_len: a.max_len,
            rank: a.rank,
            lr: a.lr,
            epochs: a.epochs,
            data: if a.data.is_dir() {
                Value::Null
            } else {
                json!(a.data)
            },
        }
    }
}
