//! Attaching LoRA / QLoRA adapters to a loaded model: target selection by module name (PEFT's
//! `target_modules` suffix rule), PEFT's initialisation (A Kaiming-uniform with `a = √5`, i.e.
//! bound `1/√d_in`; B zero — `tuners/lora/layer.py::reset_lora_parameters`), scaling `α/r` or
//! rsLoRA's `α/√r`, and an optional NF4 base (QLoRA).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use cogumi_model::Llama;
use cogumi_model::linear::Linear;
use cogumi_model::lora::LoraLinear;
use cogumi_model::nf4::Nf4Linear;
use cogumi_model::params::PROJECTIONS;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// The seven projections a Llama block has, as PEFT names them.
pub const ALL_LINEARS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyper-parameters (names follow PEFT's `LoraConfig`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoraConfig {
    /// Rank `r`.
    pub rank: usize,
    /// `lora_alpha`.
    pub alpha: f64,
    /// rsLoRA scaling `α/√r` instead of `α/r`.
    pub rslora: bool,
    /// Dropout on the adapter input.
    pub dropout: f64,
    /// Module names (suffix match, `q_proj` or `self_attn.q_proj`), the short forms
    /// `q,k,v,o,gate,up,down`, or `all-linear`.
    pub targets: Vec<String>,
    /// Only these layer indices (`None` = every layer).
    pub layers: Option<Vec<usize>>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 16,
            alpha: 32.0,
            rslora: false,
            dropout: 0.05,
            targets: vec!["all-linear".into()],
            layers: None,
        }
    }
}

impl LoraConfig {
    /// The scaling applied to `x·A·B`.
    pub fn scale(&self) -> f64 {
        if self.rslora {
            self.alpha / (self.rank as f64).sqrt()
        } else {
            self.alpha / self.rank as f64
        }
    }

    /// The projection names targeted, expanded and validated (HF short names, sorted as in a block).
    pub fn target_projections(&self) -> Result<Vec<&'static str>> {
        let mut out = Vec::new();
        for t in &self.targets {
            let t = t.trim();
            let hits: Vec<&'static str> = match t {
                "all-linear" | "all_linear" | "all" => ALL_LINEARS.to_vec(),
                // `q_proj`, the short `q`, `self_attn.q_proj`, or any longer dotted suffix.
                _ => PROJECTIONS
                    .iter()
                    .filter(|(group, p)| {
                        let full = format!("{group}.{p}");
                        *p == t
                            || p.strip_suffix("_proj") == Some(t)
                            || full == t
                            || full.ends_with(&format!(".{t}"))
                    })
                    .map(|&(_, p)| p)
                    .collect(),
            };
            if hits.is_empty() {
                return Err(Error::Config(format!(
                    "LoRA target `{t}` matches no projection (known: {}, or all-linear)",
                    ALL_LINEARS.join(", ")
                )));
            }
            for h in hits {
                if !out.contains(&h) {
                    out.push(h);
                }
            }
        }
        out.sort_by_key(|p| ALL_LINEARS.iter().position(|q| q == p));
        Ok(out)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 {
            return Err(Error::Config("LoRA rank must be at least 1".into()));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            return Err(Error::Config(format!(
                "LoRA alpha {} must be positive",
                self.alpha
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "LoRA dropout {} must be in [0, 1)",
                self.dropout
            )));
        }
        self.target_projections().map(|_| ())
    }
}

/// How the frozen base of each adapted projection is stored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "format")]
pub enum BaseFormat {
    /// Keep the dense weight (LoRA).
    Dense,
    /// Quantise to NF4 (QLoRA).
    Nf4 {
        /// Values per absmax block (64 in QLoRA).
        blocksize: usize,
        /// Quantise the absmax values too (blocks of 256).
        double_quant: bool,
    },
}

/// What [`attach_lora`] did.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterSummary {
    /// Adapted module names (`model.layers.0.self_attn.q_proj`, …).
    pub modules: Vec<String>,
    /// Trainable parameters (A and B).
    pub trainable_params: usize,
    /// Frozen base bytes of the adapted projections as stored (NF4 or dense).
    pub base_bytes: usize,
    /// Parameters in the adapted projections.
    pub base_params: usize,
}

/// Freezes every parameter of `model` and wraps the targeted projections in LoRA, initialised
/// from `seed` exactly as PEFT does (A uniform in `±1/√d_in`, B = 0).
pub fn attach_lora(
    model: Llama,
    cfg: &LoraConfig,
    base: BaseFormat,
    seed: u64,
) -> Result<(Llama, AdapterSummary)> {
    cfg.validate()?;
    let targets = cfg.target_projections()?;
    let n_layers = model.layers.len();
    if let Some(layers) = &cfg.layers
        && let Some(bad) = layers.iter().find(|&&l| l >= n_layers)
    {
        return Err(Error::Config(format!(
            "LoRA layer {bad} does not exist (the model has {n_layers})"
        )));
    }
    let mut model = model.no_grad();
    let device = model.device();
    let mut summary = AdapterSummary {
        modules: Vec::new(),
        trainable_params: 0,
        base_bytes: 0,
        base_params: 0,
    };
    let mut index = 0u64;
    model.map_projections(|layer, group, proj, lin| -> Result<Linear> {
        let wanted =
            targets.contains(&proj) && cfg.layers.as_ref().is_none_or(|ls| ls.contains(&layer));
        index += 1;
        if !wanted {
            return Ok(lin);
        }
        let (d_in, d_out) = lin.dims();
        let lin = match (base, lin) {
            (
                BaseFormat::Nf4 {
                    blocksize,
                    double_quant,
                },
                Linear::Dense(d),
            ) => {
                let q = Nf4Linear::quantize(&d, blocksize, double_quant)?;
                summary.base_bytes += q.storage_bytes();
                Linear::Nf4(q)
            }
            (_, other) => {
                summary.base_bytes += d_in * d_out * dtype_bytes(&other);
                other
            }
        };
        let mut rng = SplitMix64::stream(seed, index);
        let bound = 1.0 / (d_in as f64).sqrt();
        let a: Vec<f32> = (0..d_in * cfg.rank)
            .map(|_| rng.uniform(-bound, bound) as f32)
            .collect();
        let a = param_tensor(a, [d_in, cfg.rank], &device);
        let b = param_tensor(vec![0.0; cfg.rank * d_out], [cfg.rank, d_out], &device);
        let lora = LoraLinear::new(lin, a, b, cfg.scale(), cfg.dropout)?;
        summary
            .modules
            .push(format!("model.layers.{layer}.{group}.{proj}"));
        summary.trainable_params += cfg.rank * (d_in + d_out);
        summary.base_params += d_in * d_out;
        Ok(Linear::Lora(lora))
    })?;
    Ok((model, summary))
}

/// An f32 tensor on `device` that requires gradients (on an autodiff device).
pub(crate) fn param_tensor(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    let t = Tensor::<2>::from_data(TensorData::new(values, shape), device);
    if device.is_autodiff() {
        t.require_grad()
    } else {
        t
    }
}

fn dtype_bytes(lin: &Linear) -> usize {
    match lin {
        Linear::Dense(d) => d.weight.val().dtype().size(),
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_expand_and_reject_unknown_names() {
        let mut c = LoraConfig::default();
        assert_eq!(c.target_projections().unwrap().len(), 7);
        c.targets = vec!["v".into(), "q_proj".into(), "mlp.down_proj".into()];
        assert_eq!(
            c.target_projections().unwrap(),
            vec!["q_proj", "v_proj", "down_proj"]
        );
        c.targets = vec!["self_attn.gate_proj".into()];
        assert!(c.target_projections().is_err());
        c.targets = vec!["qkv".into()];
        assert!(c.target_projections().is_err());
    }

    #[test]
    fn scaling_follows_peft() {
        let mut c = LoraConfig {
            rank: 16,
            alpha: 32.0,
            ..LoraConfig::default()
        };
        assert_eq!(c.scale(), 2.0);
        c.rslora = true;
        assert_eq!(c.scale(), 8.0);
    }
}
