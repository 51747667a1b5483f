//! `logits`: one forward pass over given token ids, written as safetensors (`logits`, f32 [T, vocab])
//! so any reference implementation can be compared against it.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use cogumi_cli::CommonArgs;
use cogumi_model::TokenBatch;
use cogumi_model::weights::{OwnedTensor, write_safetensors};

use crate::cli::LogitsArgs;

/// Runs the subcommand; prints the output path on stdout.
pub fn run(args: &LogitsArgs, common: &CommonArgs) -> Result<()> {
    // `--out` is the common output flag; for this tool it names the file to write.
    let out_file = &common.out;
    if out_file.extension().and_then(|e| e.to_str()) != Some("safetensors") {
        bail!(
            "logits writes one file: pass `--out FILE.safetensors` (got `{}`)",
            out_file.display()
        );
    }
    let loaded = crate::model_dir::open(&args.model, &common.device)?;
    let batch = TokenBatch::single(&args.ids)?;
    let logits = loaded.model.forward_host(&batch, None)?; // (1, T, vocab)
    let (t, v) = (logits.seq, logits.vocab);
    let mut tensors = BTreeMap::new();
    tensors.insert(
        "logits".to_string(),
        OwnedTensor::f32(vec![t, v], &logits.data),
    );
    if let Some(parent) = out_file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_safetensors(out_file, &tensors)
        .with_context(|| format!("writing {}", out_file.display()))?;
    if common.json {
        println!(
            "{}",
            serde_json::json!({"path": out_file, "tokens": t, "vocab": v})
        );
    } else {
        println!("{}", out_file.display());
    }
    Ok(())
}
