//! AdamW with decoupled weight decay (Loshchilov & Hutter 2019) in PyTorch's exact operation
//! order (`torch/optim/adamw.py`, single-tensor path), global-norm gradient clipping as
//! `torch.nn.utils.clip_grad_norm_`, and gradient accumulation — over parameters named as HF
//! names them, so the state can be checkpointed and resumed bit-exactly.
//!
//! burn's own optimisers key state by per-process `ParamId`s and clip per tensor; both are
//! wrong for resumable, PyTorch-conformant training, hence this module.

use std::collections::BTreeMap;

use burn::tensor::{Gradients, Tensor, TensorData};
use cogumi_model::Llama;
use cogumi_model::params::ParamKind;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// AdamW hyper-parameters (PyTorch defaults except `weight_decay`, which follows HF Trainer).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWConfig {
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε added to `√v̂`.
    pub eps: f64,
    /// Decoupled weight decay λ (the update multiplies the weight by `1 − lr·λ`).
    pub weight_decay: f64,
    /// Decay norm weights and 1-D parameters too (plain `torch.optim.AdamW` over all parameters
    /// does; HF Trainer exempts them, which is the default here).
    pub decay_norms: bool,
    /// Clip the global gradient norm to this value (`None` = no clipping).
    pub max_grad_norm: Option<f64>,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decay_norms: false,
            max_grad_norm: Some(1.0),
        }
    }
}

/// Gradients summed over micro-batches, flattened, by parameter name.
#[derive(Debug, Default)]
pub struct GradBuffer {
    grads: BTreeMap<String, Tensor<1>>,
}

impl GradBuffer {
    /// Adds `scale ·` the gradient of every trainable parameter of `model` found in `grads`.
    pub fn accumulate(&mut self, model: &mut Llama, grads: &Gradients, scale: f64) {
        model.visit_params_mut(&mut |name, _kind, p| {
            if let Some(g) = p.grad_flat(grads) {
                let g = if scale == 1.0 { g } else { g.mul_scalar(scale) };
                let entry = match self.grads.remove(name) {
                    Some(prev) => prev + g,
                    None => g,
                };
                self.grads.insert(name.to_string(), entry);
            }
        });
    }

    /// Adds `scale ·` host gradients (`(name, flattened values)`, as
    /// `Llama::lora_loss_grads` returns them) for the parameters of `model` they name.
    pub fn accumulate_host(
        &mut self,
        model: &mut Llama,
        grads: Vec<(String, Vec<f32>)>,
        scale: f64,
    ) {
        let mut grads: BTreeMap<String, Vec<f32>> = grads.into_iter().collect();
        model.visit_params_mut(&mut |name, _kind, p| {
            if let Some(mut g) = grads.remove(name) {
                if scale != 1.0 {
                    g.iter_mut().for_each(|v| *v *= scale as f32);
                }
                let len = g.len();
                let g = Tensor::<1>::from_data(TensorData::new(g, [len]), &p.flat().device());
                let entry = match self.grads.remove(name) {
                    Some(prev) => prev + g,
                    None => g,
                };
                self.grads.insert(name.to_string(), entry);
            }
        });
    }

    /// `√Σ‖g‖²` over all buffered gradients.
    pub fn global_norm(&self) -> f64 {
        let mut total = 0.0f64;
        for g in self.grads.values() {
            let s: f32 = g.clone().square().sum().into_scalar();
            total += s as f64;
        }
        total.sqrt()
    }

    /// Number of parameters with a gradient.
    pub fn len(&self) -> usize {
        self.grads.len()
    }

    /// True when no gradient was collected.
    pub fn is_empty(&self) -> bool {
        self.grads.is_empty()
    }

    /// The buffered gradient of `name`, flattened.
    pub fn get(&self, name: &str) -> Option<&Tensor<1>> {
        self.grads.get(name)
    }
}

/// First and second moments of one parameter, flattened.
#[derive(Debug, Clone)]
pub struct Moments {
    /// `m`
    pub m: Tensor<1>,
    /// `v`
    pub v: Tensor<1>,
}

/// AdamW over named parameters.
#[derive(Debug)]
pub struct AdamW {
    /// Hyper-parameters.
    pub config: AdamWConfig,
    /// Optimiser steps taken (PyTorch's per-parameter `step`, shared).
    pub step: u64,
    /// Moments by parameter name.
    pub state: BTreeMap<String, Moments>,
}

/// What one optimiser step did.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Learning rate used.
    pub lr: f64,
}

impl AdamW {
    /// A fresh optimiser.
    pub fn new(config: AdamWConfig) -> Self {
        AdamW {
            config,
            step: 0,
            state: BTreeMap::new(),
        }
    }

    /// Clips, updates every parameter that has a buffered gradient, and empties the buffer.
    pub fn step(
        &mut self,
        model: &mut Llama,
        buffer: &mut GradBuffer,
        lr: f64,
    ) -> Result<StepReport> {
        let norm = buffer.global_norm();
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                step: self.step,
                value: norm,
            });
        }
        // torch.nn.utils.clip_grad_norm_: coef = max/(norm+1e-6), applied only when < 1.
        let clip = match self.config.max_grad_norm {
            Some(max) => (max / (norm + 1e-6)).min(1.0),
            None => 1.0,
        };
        self.step += 1;
        let t = self.step as i32;
        let cfg = self.config.clone();
        let bc1 = 1.0 - cfg.beta1.powi(t);
        let bc2_sqrt = (1.0 - cfg.beta2.powi(t)).sqrt();
        let step_size = lr / bc1;
        let grads = std::mem::take(&mut buffer.grads);
        let state = &mut self.state;
        let mut missing = None;
        model.visit_params_mut(&mut |name, kind, mut p| {
            let Some(g) = grads.get(name) else { return };
            let g = if clip < 1.0 {
                g.clone().mul_scalar(clip)
            } else {
                g.clone()
            };
            let decay = match kind {
                ParamKind::Norm => cfg.decay_norms,
                _ => true,
            };
            let wd = if decay { cfg.weight_decay } else { 0.0 };
            let update = |w: Tensor<1>, st: &mut Option<Moments>| -> Tensor<1> {
                let (m, v) = match st.take() {
                    Some(s) => (s.m, s.v),
                    None => (g.zeros_like(), g.zeros_like()),
                };
                // Same order as torch: decay, moments, bias-corrected step.
                let w = if wd != 0.0 {
                    w.mul_scalar(1.0 - lr * wd)
                } else {
                    w
                };
                let m = m.mul_scalar(cfg.beta1) + g.clone().mul_scalar(1.0 - cfg.beta1);
                let v = v.mul_scalar(cfg.beta2) + g.clone().square().mul_scalar(1.0 - cfg.beta2);
                let denom = v.clone().sqrt().div_scalar(bc2_sqrt).add_scalar(cfg.eps);
                let w = w - m.clone().div(denom).mul_scalar(step_size);
                *st = Some(Moments { m, v });
                w
            };
            let mut st = state.remove(name);
            let new = update(p.flat(), &mut st);
            p.set_flat(new.autodiff());
            match st {
                Some(s) => {
                    state.insert(name.to_string(), s);
                }
                None => missing = Some(name.to_string()),
            }
        });
        if let Some(name) = missing {
            return Err(Error::Missing {
                name,
                path: "the optimiser state".into(),
            });
        }
        Ok(StepReport {
            grad_norm: norm,
            lr,
        })
    }
}
