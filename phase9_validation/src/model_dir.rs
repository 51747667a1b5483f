//! Opening a model directory: a verified model artifact (manifest + sha256 of every file) or a
//! plain HF-format directory, loaded onto the requested device and dtype.

use std::path::Path;

use anyhow::{Context, Result, bail};
use cogumi_model::{DType, DeviceSpec, Llama, LoadOptions};
use cogumi_tokenizer::Tokenizer;

use crate::cli::ModelArgs;

/// A loaded model with its tokenizer (when the directory has one).
pub struct LoadedModel {
    /// The decoder.
    pub model: Llama,
    /// `tokenizer.json` + `tokenizer_config.json`, if present.
    pub tokenizer: Option<Tokenizer>,
}

/// Parses `--dtype`.
pub fn parse_dtype(s: &str) -> Result<Option<DType>> {
    Ok(match s {
        "f32" | "float32" => Some(DType::F32),
        "bf16" | "bfloat16" => Some(DType::BF16),
        "f16" | "float16" => Some(DType::F16),
        "checkpoint" => None,
        other => bail!("unknown dtype `{other}` (f32, bf16, f16, checkpoint)"),
    })
}

/// Verifies (when it is an artifact) and loads the model in `args.model`.
pub fn open(args: &ModelArgs, device: &str) -> Result<LoadedModel> {
    let dir = &args.model;
    if dir.join("manifest.json").exists() {
        let artifact = cogumi_artifact::Artifact::open(dir)
            .with_context(|| format!("verifying model artifact {}", dir.display()))?;
        artifact
            .expect_kind("model")
            .with_context(|| format!("{} is not a model artifact", dir.display()))?;
    } else if !dir.join("config.json").exists() {
        bail!(
            "{} has neither manifest.json nor config.json; pass a model artifact \
             (e.g. from `cargo xtask fetch-model smollm2`)",
            dir.display()
        );
    }
    let opts = LoadOptions {
        device: device.parse::<DeviceSpec>()?,
        dtype: parse_dtype(&args.dtype)?,
    };
    let model = cogumi_model::load(dir, &opts)
        .with_context(|| format!("loading model {}", dir.display()))?;
    let tokenizer = load_tokenizer(dir)?;
    Ok(LoadedModel { model, tokenizer })
}

fn load_tokenizer(dir: &Path) -> Result<Option<Tokenizer>> {
    if !dir.join("tokenizer.json").exists() {
        return Ok(None);
    }
    let t = Tokenizer::from_dir(dir)
        .with_context(|| format!("loading tokenizer from {}", dir.display()))?;
    Ok(Some(t))
}
