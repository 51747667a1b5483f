//! PEFT LoRA adapter → GGUF LoRA adapter (`general.type = adapter`), as llama.cpp's
//! `convert_lora_to_gguf.py` writes it and `llama_adapter_lora_init` loads it.
//!
//! Follows gguf.md §4 and llama.cpp `convert_lora_to_gguf.py` (`LoraModel`): keys
//! `general.architecture = llama`, `general.type = adapter`, `adapter.type = lora`,
//! `adapter.lora.alpha`; per adapted weight `{base}.lora_a` = PEFT `lora_A` (r, n_in) as is and
//! `{base}.lora_b` = PEFT `lora_B` (n_out, r) with the base's Q/K row permutation on attn_q /
//! attn_k. One improvement over the converter: llama.cpp scales by `alpha / r`, so an rsLoRA
//! adapter (PEFT scale `alpha / sqrt(r)`) is written with `alpha · sqrt(r)`, which gives the
//! scale PEFT trained with; the converter writes `alpha` and silently changes the scale.

use std::collections::BTreeMap;
use std::path::Path;

use cogumi_quant::GgmlType;
use serde_json::Value as Json;

use super::source::read_json;
use crate::error::{Error, Result};
use crate::names::{LlamaTensor, permute_rows};
use crate::value::Value;
use crate::writer::GgufWriter;

/// What [`export_lora_adapter`] wrote.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterReport {
    /// Adapted base tensors (each gives a `.lora_a` / `.lora_b` pair).
    pub n_adapted: usize,
    /// LoRA rank.
    pub rank: u64,
    /// `adapter.lora.alpha` as written (rsLoRA already folded in).
    pub alpha: f32,
    /// File size in bytes.
    pub bytes: u64,
}

/// One adapted weight: its GGUF base name and the PEFT tensor names of A and B.
struct Pair {
    base: LlamaTensor,
    a: Option<String>,
    b: Option<String>,
}

/// Exports the PEFT adapter in `adapter_dir` (adapter_config.json, adapter_model.safetensors)
/// for the base whose `config.json` is `base_config`, to `out`, with tensors of type `ty`
/// (F32, F16 or BF16).
pub fn export_lora_adapter(
    adapter_dir: &Path,
    base_config: &Path,
    out: &Path,
    ty: GgmlType,
    name: Option<&str>,
) -> Result<AdapterReport> {
    if !matches!(ty, GgmlType::F32 | GgmlType::F16 | GgmlType::BF16) {
        return Err(Error::Unsupported(format!(
            "adapter tensors as {ty} (F32, F16, BF16 are exported)"
        )));
    }
    let cfg_path = adapter_dir.join("adapter_config.json");
    let cfg = read_json(&cfg_path)?;
    let base = read_json(base_config)?;
    let n_head = base
        .get("num_attention_heads")
        .and_then(Json::as_u64)
        .ok_or_else(|| Error::checkpoint(base_config, "no num_attention_heads"))?;
    let n_head_kv = base
        .get("num_key_value_heads")
        .and_then(Json::as_u64)
        .unwrap_or(n_head);
    if cfg.get("peft_type").and_then(Json::as_str) != Some("LORA") {
        return Err(Error::checkpoint(&cfg_path, "peft_type is not LORA"));
    }
    for key in ["alpha_pattern", "rank_pattern"] {
        if cfg
            .get(key)
            .and_then(Json::as_object)
            .is_some_and(|m| !m.is_empty())
        {
            return Err(Error::checkpoint(
                &cfg_path,
                format!("{key} is set: llama.cpp adapters carry one alpha and rank"),
            ));
        }
    }
    let r = cfg
        .get("r")
        .and_then(Json::as_u64)
        .ok_or_else(|| Error::checkpoint(&cfg_path, "no integer r"))?;
    let alpha = cfg
        .get("lora_alpha")
        .and_then(Json::as_f64)
        .ok_or_else(|| Error::checkpoint(&cfg_path, "no lora_alpha"))?;
    let rslora = cfg
        .get("use_rslora")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let alpha = if rslora {
        alpha * (r as f64).sqrt()
    } else {
        alpha
    } as f32;

    // Read the adapter weights (small: one file in memory is fine).
    let st_path = adapter_dir.join("adapter_model.safetensors");
    let bytes = std::fs::read(&st_path).map_err(|e| Error::io(&st_path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
        path: st_path.clone(),
        source: e,
    })?;
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut pairs: BTreeMap<String, Pair> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for n in &names {
        let (module, is_a) = if let Some(m) = n.strip_suffix(".lora_A.weight") {
            (m, true)
        } else if let Some(m) = n.strip_suffix(".lora_B.weight") {
            (m, false)
        } else {
            return Err(Error::checkpoint(
                &st_path,
                format!("{n}: not a lora_A / lora_B weight (only LoRA on linear layers exports)"),
            ));
        };
        let hf = format!("{}.weight", module.trim_start_matches("base_model.model."));
        let kind = LlamaTensor::from_hf(&hf)
            .filter(|k| !matches!(k, LlamaTensor::TokenEmbd | LlamaTensor::Output))
            .ok_or_else(|| {
                Error::checkpoint(&st_path, format!("{n}: no llama.cpp adapter slot for {hf}"))
            })?;
        let gname = kind.gguf_name();
        let p = pairs.entry(gname.clone()).or_insert_with(|| {
            order.push(gname.clone());
            Pair {
                base: kind,
                a: None,
                b: None,
            }
        });
        if is_a {
            p.a = Some(n.clone());
        } else {
            p.b = Some(n.clone());
        }
    }

    let mut w = GgufWriter::new();
    w.add_kv("general.architecture", "llama")?;
    w.add_kv("general.type", "adapter")?;
    w.add_kv("adapter.type", "lora")?;
    if let Some(name) = name {
        w.add_kv("general.name", name)?;
    }
    w.add_kv("adapter.lora.alpha", Value::F32(alpha))?;
    w.add_kv("general.quantization_version", Value::U32(2))?;
    let load = |n: &str| -> Result<(Vec<u64>, Vec<f32>)> {
        let v = st.tensor(n).map_err(|e| Error::Safetensors {
            path: st_path.clone(),
            source: e,
        })?;
        let shape: Vec<u64> = v.shape().iter().map(|&d| d as u64).collect();
        let data = v.data();
        let vals: Vec<f32> = match v.dtype() {
            safetensors::Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            safetensors::Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
                .collect(),
            safetensors::Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
                .collect(),
            other => {
                return Err(Error::checkpoint(&st_path, format!("{n}: dtype {other:?}")));
            }
        };
        if shape.len() != 2 {
            return Err(Error::checkpoint(
                &st_path,
                format!("{n}: shape {shape:?} is not 2-D"),
            ));
        }
        Ok((shape, vals))
    };
    let encode = |n: &str, vals: &[f32]| -> Result<Vec<u8>> {
        cogumi_quant::quantize_to_vec(ty, vals).map_err(|source| Error::Quant {
            tensor: n.to_string(),
            source,
        })
    };
    for g in &order {
        let p = &pairs[g];
        let (Some(a), Some(b)) = (&p.a, &p.b) else {
            return Err(Error::checkpoint(
                &st_path,
                format!("{g}: lora_A without lora_B or the reverse"),
            ));
        };
        let (sa, va) = load(a)?;
        let (sb, mut vb) = load(b)?;
        if sa[0] != sb[1] {
            return Err(Error::checkpoint(
                &st_path,
                format!("{g}: lora_A {sa:?} and lora_B {sb:?} ranks differ"),
            ));
        }
        match p.base {
            LlamaTensor::AttnQ(_) => vb = permute_rows(&vb, sb[0] as usize, n_head as usize)?,
            LlamaTensor::AttnK(_) => vb = permute_rows(&vb, sb[0] as usize, n_head_kv as usize)?,
            _ => {}
        }
        w.add_tensor(format!("{g}.lora_a"), ty, &[sa[1], sa[0]], encode(a, &va)?)?;
        w.add_tensor(format!("{g}.lora_b"), ty, &[sb[1], sb[0]], encode(b, &vb)?)?;
    }
    let size = super::write_atomically(&w, out, |_, _| Ok(()), |_| {})?;
    Ok(AdapterReport {
        n_adapted: order.len(),
        rank: r,
        alpha,
        bytes: size,
    })
}
