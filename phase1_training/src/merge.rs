//! `phase1_training merge`: fold a PEFT-format LoRA adapter into its base model (PEFT's
//! `merge_and_unload`) and write a plain HF-format `model` artifact that transformers, llama.cpp's
//! converter and every later phase load without knowing about adapters.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use cogumi_artifact::{Artifact, InputRef};
use cogumi_cli::CommonArgs;
use cogumi_train::BaseFormat;
use serde_json::json;

use crate::model_io;

/// `merge` flags.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Base model the adapter was trained on (a `model` artifact or HF directory).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// The adapter: an `adapter` artifact or any PEFT adapter directory.
    #[arg(long, value_name = "DIR")]
    pub adapter: PathBuf,
    /// Dtype of the merged checkpoint (f32, bf16).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

/// Runs `merge`.
pub fn run(args: &MergeArgs, common: &CommonArgs) -> Result<Option<Artifact>> {
    let base = model_io::open_model_artifact(&args.model)?;
    let adapter = if args.adapter.join("manifest.json").exists() {
        let a = Artifact::open(&args.adapter)
            .with_context(|| format!("verifying adapter {}", args.adapter.display()))?;
        a.expect_kind(crate::train_cmd::ADAPTER_KIND)?;
        Some(a)
    } else {
        None
    };
    let mut inputs: Vec<InputRef> = base.iter().map(Artifact::as_input).collect();
    inputs.extend(adapter.iter().map(Artifact::as_input));
    let mut config = json!({ "dtype": args.dtype });
    if adapter.is_none() {
        let (sha, _) =
            cogumi_artifact::sha256_file(&args.adapter.join(cogumi_train::peft::ADAPTER_WEIGHTS))?;
        config["adapter_sha256"] = json!(sha);
    }
    if base.is_none() {
        config["model_dir"] = json!(args.model);
    }
    let mut writer = match cogumi_cli::begin(
        common,
        "model",
        cogumi_artifact::producer!("merge"),
        inputs,
        &config,
    )?
    .into_writer()
    {
        Ok(w) => w,
        Err(done) => return Ok(done),
    };
    let (model, _) = model_io::load(&args.model, &common.device, &args.dtype)?;
    let (model, cfg) = cogumi_train::peft::load_adapter(model, &args.adapter, BaseFormat::Dense)
        .with_context(|| format!("loading adapter {}", args.adapter.display()))?;
    let merged = cogumi_train::peft::merge_adapters(model)?;
    model_io::write_model(&mut writer, &merged, &args.model)?;
    writer.set_metric("lora_rank", cfg.rank);
    writer.set_metric("lora_alpha", cfg.alpha);
    Ok(Some(writer.commit()?))
}
