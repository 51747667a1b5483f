//! Opening model inputs: a `model` artifact (verified) or a plain HF checkpoint directory, and
//! loading it in f32 — the dtype every compression algorithm here measures and edits in.

use std::path::Path;

use anyhow::{Context, Result, bail};
use cogumi_artifact::Artifact;
use cogumi_model::{DType, DeviceSpec, Llama, LoadOptions};
use cogumi_tokenizer::Tokenizer;

/// Verifies `dir` when it is a `model` artifact (`None` for a plain HF directory).
pub fn open_model(dir: &Path) -> Result<Option<Artifact>> {
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
            "{} has neither manifest.json nor config.json (pass a model artifact or an HF \
             checkpoint directory)",
            dir.display()
        )
    }
}

/// Loads a model in f32 on `device` with its tokenizer.
pub fn load(dir: &Path, device: &str) -> Result<(Llama, Tokenizer)> {
    let opts = LoadOptions {
        device: device.parse::<DeviceSpec>()?,
        dtype: Some(DType::F32),
    };
    let model = cogumi_model::load(dir, &opts)
        .with_context(|| format!("loading model {}", dir.display()))?;
    let tok = Tokenizer::from_dir(dir)
        .with_context(|| format!("loading the tokenizer of {}", dir.display()))?;
    Ok((model, tok))
}

/// Tokenizer and generation files copied next to a checkpoint a verb writes.
const SIDE_FILES: [&str; 5] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
    "chat_template.jinja",
];

/// Copies the tokenizer and generation files of the model in `src` into `dst`.
pub fn copy_side_files(src: &Path, dst: &Path) -> Result<()> {
    for f in SIDE_FILES {
        let from = src.join(f);
        if from.exists() {
            std::fs::copy(&from, dst.join(f))
                .with_context(|| format!("copying {}", from.display()))?;
        }
    }
    Ok(())
}
