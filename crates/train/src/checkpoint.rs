//! Training checkpoints with exact resume: the trainable parameters and AdamW moments (f32,
//! safetensors, keyed by HF parameter names) plus the loop state (`state.json`). Written to a
//! temporary directory and renamed, so a crash never leaves a half checkpoint that looks whole.
//!
//! Resuming restores the values bit for bit; with the data order and dropout seeds derived from
//! the step counter, the resumed run computes the same losses as one that never stopped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use cogumi_model::Llama;
use cogumi_model::weights::{OwnedTensor, write_safetensors};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::optim::{AdamW, Moments};

const PARAMS_FILE: &str = "trainable.safetensors";
const OPTIM_FILE: &str = "optimizer.safetensors";
const STATE_FILE: &str = "state.json";

/// Host copies of parameters by name: `(shape, values)`.
pub type Snapshot = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// The loop's own state at a checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoopState {
    /// Optimiser steps completed.
    pub step: u64,
    /// Best validation loss so far.
    pub best_val: Option<f64>,
    /// Step of the best validation loss.
    pub best_step: Option<u64>,
    /// Evaluations since the last improvement (early stopping).
    pub bad_evals: u32,
    /// Training tokens (non-padding) consumed so far.
    pub tokens: u64,
}

/// Host copies of every trainable parameter, by name: `(shape, values)`.
pub fn trainable_snapshot(model: &mut Llama) -> Snapshot {
    let mut out = BTreeMap::new();
    model.visit_params_mut(&mut |name, _, p| {
        if !p.is_require_grad() {
            return;
        }
        let shape = p.dims();
        let values = p
            .flat()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        out.insert(name.to_string(), (shape, values));
    });
    out
}

/// Overwrites trainable parameters from a snapshot; every snapshot entry must exist with the
/// same shape.
pub fn restore_snapshot(model: &mut Llama, snap: &Snapshot, origin: &str) -> Result<()> {
    let device = model.device();
    let mut seen = 0usize;
    let mut err = None;
    model.visit_params_mut(&mut |name, _, mut p| {
        let Some((shape, values)) = snap.get(name) else {
            return;
        };
        seen += 1;
        let cur = p.dims();
        if &cur != shape {
            err = Some(Error::Shape {
                name: name.into(),
                expected: cur,
                found: shape.clone(),
            });
            return;
        }
        let n = values.len();
        p.set_flat(Tensor::<1>::from_data(
            TensorData::new(values.clone(), [n]),
            &device,
        ));
    });
    if let Some(e) = err {
        return Err(e);
    }
    if seen != snap.len() {
        let mut names = std::collections::BTreeSet::new();
        model.visit_params_mut(&mut |n, _, _| {
            names.insert(n.to_string());
        });
        let missing = snap
            .keys()
            .find(|k| !names.contains(*k))
            .cloned()
            .unwrap_or_default();
        return Err(Error::Missing {
            name: missing,
            path: format!("the model (restoring {origin})"),
        });
    }
    Ok(())
}

/// Writes a checkpoint to `dir` (atomically: `dir.tmp` then rename). `log` is the caller's
/// run history, stored with the state so it is never out of step with the weights.
pub fn save(
    dir: &Path,
    model: &mut Llama,
    optim: &AdamW,
    state: &LoopState,
    log: &serde_json::Value,
) -> Result<()> {
    let tmp = tmp_path(dir);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let params: BTreeMap<String, OwnedTensor> = trainable_snapshot(model)
        .into_iter()
        .map(|(k, (shape, v))| (k, OwnedTensor::f32(shape, &v)))
        .collect();
    write_safetensors(&tmp.join(PARAMS_FILE), &params)?;
    let mut moments = BTreeMap::new();
    for (name, m) in &optim.state {
        for (tag, t) in [("m", &m.m), ("v", &m.v)] {
            let v = t
                .clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap_or_default();
            moments.insert(format!("{tag}.{name}"), OwnedTensor::f32(vec![v.len()], &v));
        }
    }
    write_safetensors(&tmp.join(OPTIM_FILE), &moments)?;
    let json = serde_json::json!({
        "loop": state,
        "optimizer_step": optim.step,
        "optimizer": optim.config,
        "log": log,
    });
    let path = tmp.join(STATE_FILE);
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap_or_default())
        .map_err(|e| Error::io(&path, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))
}

/// Restores parameters and optimiser state from `dir`; returns the loop state and the run log
/// given to [`save`].
pub fn load(
    dir: &Path,
    model: &mut Llama,
    optim: &mut AdamW,
) -> Result<(LoopState, serde_json::Value)> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| Error::format(&path, e.to_string()))?;
    let state: LoopState = serde_json::from_value(v["loop"].clone())
        .map_err(|e| Error::format(&path, e.to_string()))?;
    let opt_step = v["optimizer_step"]
        .as_u64()
        .ok_or_else(|| Error::format(&path, "missing optimizer_step"))?;
    let params = read_all(&dir.join(PARAMS_FILE))?;
    restore_snapshot(model, &params, &dir.display().to_string())?;
    let moments = read_all(&dir.join(OPTIM_FILE))?;
    let device = model.device().inner();
    optim.state.clear();
    for (key, (_, values)) in &moments {
        let Some(name) = key.strip_prefix("m.") else {
            continue;
        };
        let (_, vv) = moments
            .get(&format!("v.{name}"))
            .ok_or_else(|| Error::Missing {
                name: format!("v.{name}"),
                path: dir.join(OPTIM_FILE).display().to_string(),
            })?;
        let n = values.len();
        optim.state.insert(
            name.to_string(),
            Moments {
                m: Tensor::from_data(TensorData::new(values.clone(), [n]), &device),
                v: Tensor::from_data(TensorData::new(vv.clone(), [n]), &device),
            },
        );
    }
    optim.step = opt_step;
    Ok((state, v["log"].clone()))
}

/// Reads every f32 tensor of a safetensors file.
pub fn read_all(path: &Path) -> Result<Snapshot> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(path, e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, t) in st.tensors() {
        if t.dtype() != safetensors::Dtype::F32 {
            return Err(Error::format(
                path,
                format!("tensor `{name}` is {:?}, expected F32", t.dtype()),
            ));
        }
        let v = cogumi_model::weights::to_f32(t.data(), t.dtype()).unwrap_or_default();
        out.insert(name, (t.shape().to_vec(), v));
    }
    Ok(out)
}

/// The newest complete checkpoint (`step-<n>` with the largest `n`) under `root`.
pub fn latest(root: &Path) -> Option<(u64, PathBuf)> {
    let rd = std::fs::read_dir(root).ok()?;
    rd.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let n = name.strip_prefix("step-")?.parse::<u64>().ok()?;
            e.path().join(STATE_FILE).is_file().then(|| (n, e.path()))
        })
        .max_by_key(|(n, _)| *n)
}

fn tmp_path(dir: &Path) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}
