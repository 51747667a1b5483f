//! Opening model artifacts for training (verified, loaded on the autodiff device) and writing
//! trained or merged models back as HF-format `model` artifacts with their tokenizer files.

use std::path::Path;

use anyhow::{Context, Result, bail};
use cogumi_artifact::{Artifact, ArtifactWriter};
use cogumi_model::{DType, DeviceSpec, Llama, LoadOptions};
use cogumi_tokenizer::Tokenizer;

/// Files copied from the base model next to a trained or merged checkpoint.
pub const SIDE_FILES: [&str; 5] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "chat_template.jinja",
];

/// Verifies `dir` when it is an artifact (`None` for a plain HF directory).
pub fn open_model_artifact(dir: &Path) -> Result<Option<Artifact>> {
    if dir.join("manifest.json").exists() {
        let a = Artifact::open(dir)
            .with_context(|| format!("verifying model artifact {}", dir.display()))?;
        a.expect_kind("model")
            .with_context(|| format!("{} is not a model artifact", dir.display()))?;
        Ok(Some(a))
    } else if dir.join("config.json").exists() {
        Ok(None)
    } else {
        bail!(
            "{} has neither manifest.json nor config.json (pass a model artifact, e.g. from `cargo xtask fetch-model smollm2`)",
            dir.display()
        )
    }
}

/// Parses `--dtype`.
pub fn parse_dtype(s: &str) -> Result<DType> {
    Ok(match s {
        "f32" | "float32" => DType::F32,
        "bf16" | "bfloat16" => DType::BF16,
        other => bail!("unknown training dtype `{other}` (f32 or bf16)"),
    })
}

/// Loads a model (inference device) and its tokenizer.
pub fn load(dir: &Path, device: &str, dtype: &str) -> Result<(Llama, Tokenizer)> {
    let opts = LoadOptions {
        device: device.parse::<DeviceSpec>()?,
        dtype: Some(parse_dtype(dtype)?),
    };
    let model = cogumi_model::load(dir, &opts)
        .with_context(|| format!("loading model {}", dir.display()))?;
    let tok = Tokenizer::from_dir(dir)
        .with_context(|| format!("loading the tokenizer of {}", dir.display()))?;
    Ok((model, tok))
}

/// Loads a model onto the autodiff version of the device (every parameter trainable until an
/// adapter freezes the base).
pub fn load_for_training(dir: &Path, device: &str, dtype: &str) -> Result<(Llama, Tokenizer)> {
    let (model, tok) = load(dir, device, dtype)?;
    Ok((cogumi_train::for_training(model), tok))
}

/// Writes `model` as `config.json` + `model.safetensors` into the artifact, plus the base's
/// tokenizer and generation files.
pub fn write_model(writer: &mut ArtifactWriter, model: &Llama, base_dir: &Path) -> Result<()> {
    cogumi_model::save(model, writer.dir()).context("saving the model")?;
    for f in SIDE_FILES {
        let src = base_dir.join(f);
        if src.exists() {
            std::fs::copy(&src, writer.path(f))
                .with_context(|| format!("copying {}", src.display()))?;
        }
    }
    Ok(())
}
