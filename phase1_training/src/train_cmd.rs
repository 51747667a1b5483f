//! `phase1_training train`: fine-tune a model artifact on a dataset artifact with LoRA, QLoRA or
//! full fine-tuning; writes an `adapter` artifact (PEFT format) or, for full fine-tuning, a
//! `model` artifact — with `metrics.jsonl`, `loss.svg` and `report.json` beside the weights.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_train::distill::Objective;
use cogumi_train::{BaseFormat, CheckpointPlan, attach_lora, train};
use serde_json::json;

use crate::config::{LoopArgs, Method, Phase1Config};
use crate::output::{self, RunOutputs};
use crate::{data, model_io, tasks};

/// Artifact kind of a trained adapter.
pub const ADAPTER_KIND: &str = "adapter";

/// `train` flags; each overrides the config file's value.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// Base model: a `model` artifact or an HF-format directory.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Training data: a split or dataset artifact, or a JSONL file in the normalised schema.
    #[arg(long, value_name = "DIR|FILE", alias = "input")]
    pub data: PathBuf,
    /// LoRA, QLoRA (NF4 base) or full fine-tune.
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// LoRA rank.
    #[arg(long)]
    pub rank: Option<usize>,
    /// LoRA alpha.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Micro-batches per optimiser step.
    #[arg(long)]
    pub grad_accum: Option<usize>,
    /// Validate every N steps.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Grade N held-out checkable rows before and after training.
    #[arg(long)]
    pub task_rows: Option<usize>,
    /// Add reverse (response → instruction) pairs.
    #[arg(long)]
    pub bidirectional: bool,
    /// Loop and data flags shared with `distill`.
    #[command(flatten)]
    pub loop_args: LoopArgs,
    /// Compute dtype of the base (f32, bf16).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

/// Applies flag overrides to the config.
pub fn resolve(args: &TrainArgs, mut cfg: Phase1Config, seed: u64) -> Phase1Config {
    if let Some(m) = args.method {
        cfg.method = m
    }
    if let Some(r) = args.rank {
        cfg.lora.rank = r
    }
    if let Some(a) = args.alpha {
        cfg.lora.alpha = a
    }
    if let Some(v) = args.grad_accum {
        cfg.train.grad_accum = v
    }
    if let Some(v) = args.eval_every {
        cfg.train.eval_every = v
    }
    if let Some(v) = args.task_rows {
        cfg.tasks.rows = v
    }
    if args.bidirectional {
        cfg.data.bidirectional = true
    }
    args.loop_args.apply(&mut cfg, seed);
    cfg
}

/// Runs `train`; returns the output artifact (`None` with `--plan`).
pub fn run(args: &TrainArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let cfg = resolve(
        args,
        crate::config::load(common.config.as_deref())?,
        common.seed,
    );
    let model_art = model_io::open_model_artifact(&args.model)?;
    let splits = data::read_input(&args.data, cfg.data.val_fraction)?;
    let mut inputs: Vec<InputRef> = model_art.iter().map(Artifact::as_input).collect();
    inputs.extend(splits.artifact.iter().map(Artifact::as_input));
    let kind = if cfg.method == Method::Full {
        "model"
    } else {
        ADAPTER_KIND
    };
    let mut resolved = serde_json::to_value(&cfg)?;
    resolved["dtype"] = json!(args.dtype);
    if splits.artifact.is_none() {
        resolved["data_file"] = json!(cogumi_artifact::sha256_file(&args.data)?.0);
    }
    if model_art.is_none() {
        resolved["model_dir"] = json!(args.model);
    }
    let started = cogumi_cli::begin(
        common,
        kind,
        cogumi_artifact::producer!("train"),
        inputs,
        &resolved,
    )?;
    let mut writer = match started.into_writer() {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    // Generation and scoring run on the plain device: autodiff would record (and keep) a graph
    // for every decoded token.
    let (model, tok) = model_io::load(&args.model, &common.device, &args.dtype)?;
    let pad = data::pad_id(&tok);
    let (train_rows, val_rows, data_report) =
        data::build_rows(&splits, &tok, pad, &cfg.data, common.seed)?;
    tracing::info!(
        train = train_rows.len(),
        val = val_rows.len(),
        efficiency = format!("{:.2}", data_report.packing_efficiency),
        decontaminated = data_report.decontaminated,
        "data ready"
    );
    let task_rows = tasks::checkable(&splits.test, cfg.tasks.rows);
    let before = if task_rows.is_empty() {
        None
    } else {
        tracing::info!(
            rows = task_rows.len(),
            "grading held-out tasks before training"
        );
        Some(tasks::score(
            &model,
            &tok,
            &task_rows,
            cfg.tasks.max_new_tokens,
        )?)
    };
    let model = cogumi_train::for_training(model);
    let (mut model, summary) = match cfg.method {
        Method::Full => (model.untie_cache(), None),
        Method::Lora | Method::Qlora => {
            let base = if cfg.method == Method::Qlora {
                BaseFormat::Nf4 {
                    blocksize: cfg.qlora.blocksize,
                    double_quant: cfg.qlora.double_quant,
                }
            } else {
                BaseFormat::Dense
            };
            let (m, s) = attach_lora(model, &cfg.lora, base, common.seed)?;
            tracing::info!(
                modules = s.modules.len(),
                trainable = s.trainable_params,
                base_mib = s.base_bytes as f64 / 1048576.0,
                "adapters attached"
            );
            (m, Some(s))
        }
    };
    let ckpt = CheckpointPlan {
        dir: Some(output::checkpoint_dir(common, kind, writer.id())),
        resume: !args.loop_args.no_resume,
    };
    let bar = cogumi_cli::progress_bar(cfg.train.total_steps(train_rows.len()), "train");
    let report = train(
        &mut model,
        &train_rows,
        &val_rows,
        &cfg.train,
        &Objective::CrossEntropy,
        &ckpt,
        &mut |m| {
            bar.set_position(m.step);
            bar.set_message(format!(
                "loss {:.4} · {:.0} tok/s{}",
                m.loss,
                m.tokens_per_s,
                m.val_loss
                    .map(|v| format!(" · val {v:.4}"))
                    .unwrap_or_default()
            ));
        },
    )?;
    bar.finish_and_clear();
    let after = if task_rows.is_empty() {
        None
    } else {
        let view = cogumi_train::for_inference(&model);
        Some(tasks::score(
            &view,
            &tok,
            &task_rows,
            cfg.tasks.max_new_tokens,
        )?)
    };
    let outs = RunOutputs {
        report: &report,
        data: &data_report,
        adapters: summary.as_ref(),
        before: before.as_ref(),
        after: after.as_ref(),
    };
    output::write_training_outputs(&mut writer, &outs)?;
    match cfg.method {
        Method::Full => model_io::write_model(&mut writer, &model, &args.model)?,
        _ => {
            let dir = writer.dir().to_path_buf();
            cogumi_train::peft::export_adapter(
                &model,
                &cfg.lora,
                &args.model.display().to_string(),
                &dir,
            )
            .context("exporting the adapter")?;
        }
    }
    let artifact = writer.commit()?;
    output::remove_checkpoints(common, kind, artifact.id());
    Ok(Some(artifact))
}
