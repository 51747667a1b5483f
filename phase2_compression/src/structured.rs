//! Structured MLP-channel pruning: dropped channels are zeroed in the loaded model (a channel
//! whose gate and up rows are zero contributes `silu(0)·0 = 0`, so the model computes exactly
//! what the smaller one will), then the saved checkpoint is sliced — gate/up rows and down
//! columns of the kept channels — and `config.json` gets the new `intermediate_size`, the same
//! in every layer, so the result is a standard, smaller dense Llama.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use cogumi_compress::prune::{take_cols, take_rows};
use cogumi_model::{Llama, Proj};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// Zeroes the channels of layer `l` not in `keep` (gate and up rows, down columns).
pub fn zero_dropped(model: &mut Llama, l: usize, keep: &[usize]) -> Result<()> {
    let c = model.config().clone();
    let (h, f) = (c.hidden_size, c.intermediate_size);
    let mut kept = vec![false; f];
    for &k in keep {
        kept[k] = true;
    }
    for p in [Proj::Gate, Proj::Up] {
        let mut w = model.proj_weight(l, p)?;
        for (ch, row) in w.chunks_exact_mut(h).enumerate() {
            if !kept[ch] {
                row.fill(0.0);
            }
        }
        model.set_proj_weight(l, p, &w)?;
    }
    let mut down = model.proj_weight(l, Proj::Down)?;
    for row in down.chunks_exact_mut(f) {
        for (ch, v) in row.iter_mut().enumerate() {
            if !kept[ch] {
                *v = 0.0;
            }
        }
    }
    model.set_proj_weight(l, Proj::Down, &down)?;
    Ok(())
}

/// Slices the F32 `model.safetensors` in `dir` to the kept channels of each layer and rewrites
/// `config.json`'s `intermediate_size`.
pub fn slice_checkpoint(dir: &Path, keep: &[Vec<usize>]) -> Result<()> {
    let n = keep.first().map_or(0, Vec::len);
    if keep.iter().any(|k| k.len() != n) {
        bail!("every layer must keep the same number of channels");
    }
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .with_context(|| format!("parsing {}", path.display()))?;
    let mut out: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            bail!("{name}: expected F32 in the pruned checkpoint");
        }
        let vals: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let shape = view.shape().to_vec();
        let layer = name
            .strip_prefix("model.layers.")
            .and_then(|r| r.split('.').next())
            .and_then(|s| s.parse::<usize>().ok());
        let (shape, vals) = match layer {
            Some(l)
                if name.ends_with("mlp.gate_proj.weight")
                    || name.ends_with("mlp.up_proj.weight") =>
            {
                (vec![n, shape[1]], take_rows(&vals, shape[1], &keep[l]))
            }
            Some(l) if name.ends_with("mlp.down_proj.weight") => {
                (vec![shape[0], n], take_cols(&vals, shape[1], &keep[l]))
            }
            _ => (shape, vals),
        };
        out.insert(
            name,
            (shape, vals.iter().flat_map(|v| v.to_le_bytes()).collect()),
        );
    }
    drop(st);
    let views: BTreeMap<String, TensorView<'_>> = out
        .iter()
        .map(|(k, (s, b))| Ok((k.clone(), TensorView::new(Dtype::F32, s.clone(), b)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    safetensors::serialize_to_file(views, None, &path)
        .with_context(|| format!("writing {}", path.display()))?;
    let cfg_path = dir.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path)?)?;
    cfg["intermediate_size"] = serde_json::json!(n);
    std::fs::write(&cfg_path, serde_json::to_string_pretty(&cfg)? + "\n")?;
    Ok(())
}
