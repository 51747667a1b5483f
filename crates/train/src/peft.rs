//! LoRA adapters in PEFT's on-disk format (peft 0.21 `save_pretrained`): `adapter_config.json`
//! plus `adapter_model.safetensors` with `base_model.model.<module>.lora_A.weight: [r, d_in]`
//! and `….lora_B.weight: [d_out, r]` — export, import onto a base, and merge into dense weights
//! (PEFT's `merge_and_unload`: `W ← W + s·B·A`).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::DType;
use cogumi_model::Llama;
use cogumi_model::linear::Linear;
use cogumi_model::params::PROJECTIONS;
use cogumi_model::weights::{self, OwnedTensor, write_safetensors};
use serde_json::{Value, json};

use crate::adapter::{BaseFormat, LoraConfig, attach_lora, param_tensor};
use crate::error::{Error, Result};

/// File names PEFT uses.
pub const ADAPTER_CONFIG: &str = "adapter_config.json";
/// Weights file PEFT writes with `safe_serialization=True`.
pub const ADAPTER_WEIGHTS: &str = "adapter_model.safetensors";
/// PEFT's prefix for a causal-LM adapter's keys.
const PREFIX: &str = "base_model.model.";

/// Every LoRA factor of `model` under PEFT's key names, in PEFT's layout, f32.
pub fn adapter_tensors(model: &Llama) -> BTreeMap<String, OwnedTensor> {
    let mut out = BTreeMap::new();
    for i in 0..model.layers.len() {
        for (group, proj) in PROJECTIONS {
            if let Some(Linear::Lora(l)) = model.projection(i, proj) {
                let name = format!("{PREFIX}model.layers.{i}.{group}.{proj}");
                let a = l.lora_a.val().cast(DType::F32).transpose().into_data();
                let b = l.lora_b.val().cast(DType::F32).transpose().into_data();
                out.insert(format!("{name}.lora_A.weight"), OwnedTensor::from_data(&a));
                out.insert(format!("{name}.lora_B.weight"), OwnedTensor::from_data(&b));
            }
        }
    }
    out
}

/// The `adapter_config.json` PEFT 0.21.2 writes for `cfg` (every key it writes, defaults
/// included; targets sorted, as PEFT stores a set).
pub fn adapter_config_json(cfg: &LoraConfig, base_model: &str) -> Result<Value> {
    let mut targets = cfg.target_projections()?;
    targets.sort_unstable();
    // Integral alphas are written as integers, as PEFT's own configs carry them.
    let alpha = if cfg.alpha.fract() == 0.0 && cfg.alpha.abs() < 1e15 {
        json!(cfg.alpha as i64)
    } else {
        json!(cfg.alpha)
    };
    Ok(json!({
        "alora_invocation_tokens": null,
        "alpha_pattern": {},
        "arrow_config": null,
        "auto_mapping": null,
        "base_model_name_or_path": base_model,
        "bias": "none",
        "corda_config": null,
        "ensure_weight_tying": false,
        "eva_config": null,
        "exclude_modules": null,
        "fan_in_fan_out": false,
        "inference_mode": true,
        "init_lora_weights": true,
        "kasa_config": null,
        "layer_replication": null,
        "layers_pattern": null,
        "layers_to_transform": cfg.layers,
        "loftq_config": {},
        "lora_alpha": alpha,
        "lora_bias": false,
        "lora_dropout": cfg.dropout,
        "lora_ga_config": null,
        "megatron_config": null,
        "megatron_core": "megatron.core",
        "modules_to_save": null,
        "monteclora_config": null,
        "peft_type": "LORA",
        "peft_version": "0.21.2",
        "qalora_group_size": 16,
        "r": cfg.rank,
        "rank_pattern": {},
        "revision": null,
        "target_modules": targets,
        "target_parameters": null,
        "task_type": "CAUSAL_LM",
        "trainable_token_indices": null,
        "use_bdlora": null,
        "use_dora": false,
        "use_qalora": false,
        "use_rslora": cfg.rslora,
        "velora_config": null,
    }))
}

/// Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors`.
pub fn export_adapter(model: &Llama, cfg: &LoraConfig, base_model: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tensors = adapter_tensors(model);
    if tensors.is_empty() {
        return Err(Error::Config(
            "the model has no LoRA layers to export".into(),
        ));
    }
    write_safetensors(&dir.join(ADAPTER_WEIGHTS), &tensors)?;
    let cfg_json = adapter_config_json(cfg, base_model)?;
    let path = dir.join(ADAPTER_CONFIG);
    let text =
        serde_json::to_string_pretty(&cfg_json).map_err(|e| Error::format(&path, e.to_string()))?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))?;
    Ok(())
}

/// Reads a PEFT `adapter_config.json` into a [`LoraConfig`]. Features PEFT supports but this
/// engine does not (DoRA, biases, per-module rank patterns, …) are refused by name.
pub fn read_adapter_config(dir: &Path) -> Result<LoraConfig> {
    let path = dir.join(ADAPTER_CONFIG);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| Error::format(&path, e.to_string()))?;
    let bad = |why: &str| Error::format(&path, why.to_string());
    if v.get("peft_type").and_then(Value::as_str) != Some("LORA") {
        return Err(bad("peft_type is not LORA"));
    }
    for (key, ok) in [
        ("use_dora", Value::Bool(false)),
        ("fan_in_fan_out", Value::Bool(false)),
        ("bias", Value::String("none".into())),
    ] {
        if let Some(val) = v.get(key)
            && *val != ok
            && !val.is_null()
        {
            return Err(bad(&format!("unsupported `{key}`: {val}")));
        }
    }
    for key in ["rank_pattern", "alpha_pattern"] {
        if v.get(key)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return Err(bad(&format!("unsupported non-empty `{key}`")));
        }
    }
    let rank = v
        .get("r")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("missing `r`"))? as usize;
    let alpha = v
        .get("lora_alpha")
        .and_then(Value::as_f64)
        .ok_or_else(|| bad("missing `lora_alpha`"))?;
    let targets = match v.get("target_modules") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        Some(Value::String(s)) if s == "all-linear" => vec!["all-linear".to_string()],
        Some(Value::String(s)) => {
            return Err(bad(&format!(
                "regex target_modules `{s}` is not supported; list the module names"
            )));
        }
        _ => return Err(bad("missing `target_modules`")),
    };
    let layers = match v.get("layers_to_transform") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_u64)
                .map(|x| x as usize)
                .collect(),
        ),
        Some(Value::Number(n)) => n.as_u64().map(|x| vec![x as usize]),
        _ => None,
    };
    Ok(LoraConfig {
        rank,
        alpha,
        rslora: v
            .get("use_rslora")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        dropout: v.get("lora_dropout").and_then(Value::as_f64).unwrap_or(0.0),
        targets,
        layers,
    })
}

/// Loads a PEFT adapter directory onto `model` (which must not have adapters yet): attaches
/// LoRA per the adapter's config, then copies every factor, checking names and shapes.
pub fn load_adapter(model: Llama, dir: &Path, base: BaseFormat) -> Result<(Llama, LoraConfig)> {
    let cfg = read_adapter_config(dir)?;
    let (mut model, _) = attach_lora(model, &cfg, base, 0)?;
    let path = dir.join(ADAPTER_WEIGHTS);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::format(&path, e.to_string()))?;
    let device = model.device();
    let mut used = 0usize;
    for i in 0..model.layers.len() {
        for (group, proj) in PROJECTIONS {
            let Some(Linear::Lora(l)) = model.projection_mut(i, proj) else {
                continue;
            };
            let name = format!("{PREFIX}model.layers.{i}.{group}.{proj}");
            let (d_in, d_out) = l.dims();
            let r = l.rank();
            let a = read_f32(&st, &format!("{name}.lora_A.weight"), &[r, d_in], &path)?;
            let b = read_f32(&st, &format!("{name}.lora_B.weight"), &[d_out, r], &path)?;
            // PEFT stores A as [r, d_in] and B as [d_out, r]; ours are their transposes.
            let a = param_tensor(weights::transpose(&a, r, d_in), [d_in, r], &device);
            let b = param_tensor(weights::transpose(&b, d_out, r), [r, d_out], &device);
            l.lora_a = l.lora_a.clone().map(|_| a);
            l.lora_b = l.lora_b.clone().map(|_| b);
            used += 2;
        }
    }
    let total = st.names().len();
    if used != total {
        let known: std::collections::HashSet<String> =
            adapter_tensors(&model).into_keys().collect();
        let extra: Vec<&str> = st
            .names()
            .into_iter()
            .filter(|n| !known.contains(*n))
            .take(3)
            .collect();
        return Err(Error::format(
            &path,
            format!(
                "{} tensors were not used by the adapter config (e.g. {extra:?})",
                total - used
            ),
        ));
    }
    Ok((model, cfg))
}

fn read_f32(
    st: &safetensors::SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<Vec<f32>> {
    let t = st.tensor(name).map_err(|_| Error::Missing {
        name: name.to_string(),
        path: path.display().to_string(),
    })?;
    if t.shape() != shape {
        return Err(Error::Shape {
            name: name.to_string(),
            expected: shape.to_vec(),
            found: t.shape().to_vec(),
        });
    }
    weights::to_f32(t.data(), t.dtype()).ok_or_else(|| {
        Error::format(
            path,
            format!("tensor `{name}` has unsupported dtype {:?}", t.dtype()),
        )
    })
}

/// Folds every LoRA layer into a dense weight (`W + s·(A·B)ᵀ`; an NF4 base is dequantised
/// first), leaving a plain model that `cogumi_model::save` writes as an HF checkpoint.
pub fn merge_adapters(mut model: Llama) -> Result<Llama> {
    model.map_projections(|_, _, _, lin| -> Result<Linear> {
        Ok(match lin {
            Linear::Lora(l) => Linear::Dense(l.merge()),
            other => other,
        })
    })?;
    Ok(model)
}
