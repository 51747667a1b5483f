//! `phase1_training distill` (phase 1E): train a draft/student model to imitate a teacher —
//! student from a given checkpoint or from the teacher by layer selection, full fine-tune on
//! `T²·KL(teacher ‖ student)` computed on the fly — and report the teacher–student top-1
//! agreement before and after, which is what speculative decoding's acceptance rate follows.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_train::distill::{Objective, agreement};
use cogumi_train::loss::KlDirection;
use cogumi_train::{CheckpointPlan, train};
use serde_json::json;

use crate::config::{LoopArgs, Phase1Config};
use crate::output::{self, RunOutputs};
use crate::{data, model_io};

/// `distill` flags; each overrides the config file.
#[derive(Args, Debug, Clone)]
pub struct DistillArgs {
    /// Teacher: a `model` artifact or HF directory.
    #[arg(long, value_name = "DIR")]
    pub teacher: PathBuf,
    /// Training data (split/dataset artifact or JSONL).
    #[arg(long, value_name = "DIR|FILE", alias = "input")]
    pub data: PathBuf,
    /// Start the student from this checkpoint (same vocabulary as the teacher).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["keep_layers", "layers"])]
    pub student: Option<PathBuf>,
    /// Student = these teacher layers, e.g. `0,5,10,15,20,29`.
    #[arg(long, value_delimiter = ',', conflicts_with = "layers")]
    pub keep_layers: Option<Vec<usize>>,
    /// Student = this many teacher layers, evenly spaced, first and last included.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Softmax temperature.
    #[arg(long)]
    pub temperature: Option<f64>,
    /// Use reverse KL (student ‖ teacher).
    #[arg(long)]
    pub reverse_kl: bool,
    /// Weight of the data cross-entropy term.
    #[arg(long)]
    pub ce_weight: Option<f64>,
    /// Loop and data flags shared with `train`.
    #[command(flatten)]
    pub loop_args: LoopArgs,
}

/// `k` indices spread evenly over `0..n`, first and last included.
pub fn spread_layers(k: usize, n: usize) -> Result<Vec<usize>> {
    if k == 0 || k > n {
        bail!("--layers {k} must be between 1 and the teacher's {n} layers");
    }
    if k == 1 {
        return Ok(vec![0]);
    }
    let mut v: Vec<usize> = (0..k)
        .map(|i| ((i * (n - 1)) as f64 / (k - 1) as f64).round() as usize)
        .collect();
    v.dedup();
    Ok(v)
}

/// Runs `distill`.
pub fn run(args: &DistillArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let mut cfg: Phase1Config = crate::config::load(common.config.as_deref())?;
    if let Some(t) = args.temperature {
        cfg.distill.temperature = t
    }
    if args.reverse_kl {
        cfg.distill.direction = KlDirection::Reverse
    }
    if let Some(w) = args.ce_weight {
        cfg.distill.ce_weight = w
    }
    args.loop_args.apply(&mut cfg, common.seed);
    let teacher_art = model_io::open_model_artifact(&args.teacher)?;
    let student_art = match &args.student {
        Some(s) => model_io::open_model_artifact(s)?,
        None => None,
    };
    let splits = data::read_input(&args.data, cfg.data.val_fraction)?;
    let (teacher, tok) = model_io::load(&args.teacher, &common.device, "f32")?;
    let n = teacher.layers.len();
    let keep = match (&args.keep_layers, args.layers) {
        (Some(k), _) => Some(k.clone()),
        (None, Some(k)) => Some(spread_layers(k, n)?),
        (None, None) if args.student.is_none() => {
            bail!("give --student DIR, --layers K or --keep-layers i,j,…")
        }
        _ => None,
    };
    let mut inputs: Vec<InputRef> = teacher_art
        .iter()
        .chain(&student_art)
        .map(Artifact::as_input)
        .collect();
    inputs.extend(splits.artifact.iter().map(Artifact::as_input));
    let mut resolved = serde_json::to_value(&cfg)?;
    resolved["keep_layers"] = json!(keep);
    resolved["student_dir"] = json!(args.student);
    let mut writer = match cogumi_cli::begin(
        common,
        "model",
        cogumi_artifact::producer!("distill"),
        inputs,
        &resolved,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let student_dir = args.student.clone().unwrap_or_else(|| args.teacher.clone());
    let (student, _) = model_io::load_for_training(&student_dir, &common.device, "f32")?;
    let student = match &keep {
        Some(k) => student
            .keep_layers(k)
            .context("selecting the student's layers")?,
        None => student,
    };
    if student.config().vocab_size != teacher.config().vocab_size {
        bail!(
            "student vocabulary ({}) differs from the teacher's ({})",
            student.config().vocab_size,
            teacher.config().vocab_size
        );
    }
    let mut student = student.untie_cache();
    let pad = data::pad_id(&tok);
    let (train_rows, val_rows, data_report) =
        data::build_rows(&splits, &tok, pad, &cfg.data, common.seed)?;
    let probe = if val_rows.is_empty() {
        &train_rows[..train_rows.len().min(8)]
    } else {
        &val_rows[..]
    };
    let (agree_before, kl_before) = agreement(&student, &teacher, probe, cfg.train.micro_batch)?;
    tracing::info!(
        layers = student.layers.len(),
        agreement = format!("{agree_before:.3}"),
        "student ready"
    );
    let ckpt = CheckpointPlan {
        dir: Some(output::checkpoint_dir(common, "model", writer.id())),
        resume: !args.loop_args.no_resume,
    };
    let bar = cogumi_cli::progress_bar(cfg.train.total_steps(train_rows.len()), "distill");
    let objective = Objective::Distill {
        teacher: &teacher,
        config: cfg.distill.clone(),
    };
    let report = train(
        &mut student,
        &train_rows,
        &val_rows,
        &cfg.train,
        &objective,
        &ckpt,
        &mut |m| {
            bar.set_position(m.step);
            bar.set_message(format!("loss {:.4} · {:.0} tok/s", m.loss, m.tokens_per_s));
        },
    )?;
    bar.finish_and_clear();
    let (agree_after, kl_after) = agreement(&student, &teacher, probe, cfg.train.micro_batch)?;
    let outs = RunOutputs {
        report: &report,
        data: &data_report,
        adapters: None,
        before: None,
        after: None,
    };
    output::write_training_outputs(&mut writer, &outs)?;
    writer.set_metric("student_layers", student.layers.len());
    writer.set_metric("teacher_layers", n);
    writer.set_metric("top1_agreement_before", agree_before);
    writer.set_metric("top1_agreement_after", agree_after);
    writer.set_metric("kl_before", kl_before);
    writer.set_metric("kl_after", kl_after);
    model_io::write_model(&mut writer, &student, &args.teacher)?;
    let artifact = writer.commit()?;
    output::remove_checkpoints(common, "model", artifact.id());
    Ok(Some(artifact))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_spread_with_both_ends() {
        assert_eq!(spread_layers(4, 30).unwrap(), vec![0, 10, 19, 29]);
        assert_eq!(spread_layers(1, 30).unwrap(), vec![0]);
        assert_eq!(spread_layers(30, 30).unwrap(), (0..30).collect::<Vec<_>>());
        assert!(spread_layers(31, 30).is_err());
    }
}
