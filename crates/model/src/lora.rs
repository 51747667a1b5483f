//! LoRA (Hu et al. 2021) as a wrapper of a frozen projection, following PEFT 0.21's
//! `tuners/lora/layer.py::Linear`: `y = base(x) + s · dropout(x) · A · B`, `s = α/r` (or
//! `α/√r` with rsLoRA, Kalajdzievski 2023).
//!
//! The update is never materialised as a dense `W + s·A·B` (burn's own `apply_lora` does that
//! every step, with a weight-sized gradient): only `x·A` (`[…, r]`) and its product with `B` are
//! computed, so gradients are `A`- and `B`-sized. The base may be dense or NF4 (QLoRA).

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{DType, Tensor};

use crate::error::{Error, Result};
use crate::linear::{DenseLinear, Linear};
use crate::nf4::Nf4Linear;

/// The frozen weight under a LoRA update.
#[derive(Module, Debug)]
pub enum LoraBase {
    /// Dense, gradients disabled.
    Dense(DenseLinear),
    /// NF4 (QLoRA).
    Nf4(Nf4Linear),
}

impl LoraBase {
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            LoraBase::Dense(d) => d.forward(x),
            LoraBase::Nf4(q) => q.forward(x),
        }
    }

    fn dims(&self) -> (usize, usize) {
        match self {
            LoraBase::Dense(d) => d.dims(),
            LoraBase::Nf4(q) => q.dims(),
        }
    }

    /// HF layout `[d_out, d_in]`, f32.
    fn hf_weight(&self) -> Tensor<2> {
        match self {
            LoraBase::Dense(d) => d.weight.val().transpose().cast(DType::F32),
            LoraBase::Nf4(q) => q.dequantize_hf(),
        }
    }
}

/// A frozen projection plus a trainable rank-`r` update.
#[derive(Module, Debug)]
pub struct LoraLinear {
    /// The frozen weight.
    pub base: LoraBase,
    /// `[d_in, r]` (PEFT stores its transpose, `lora_A.weight: [r, d_in]`).
    pub lora_a: Param<Tensor<2>>,
    /// `[r, d_out]` (PEFT: `lora_B.weight: [d_out, r]`).
    pub lora_b: Param<Tensor<2>>,
    /// Dropout on the adapter's input only (PEFT's `lora_dropout`); inactive outside training.
    pub dropout: Dropout,
    #[module(skip)]
    scale: f64,
}

impl LoraLinear {
    /// Wraps `base` (dense or NF4; its gradients are switched off) with `a: [d_in, r]`,
    /// `b: [r, d_out]`, scaling `scale` and input dropout `dropout`.
    pub fn new(base: Linear, a: Tensor<2>, b: Tensor<2>, scale: f64, dropout: f64) -> Result<Self> {
        let base = match base {
            Linear::Dense(d) => LoraBase::Dense(DenseLinear {
                weight: d.weight.set_require_grad(false),
            }),
            Linear::Nf4(q) => LoraBase::Nf4(q),
            Linear::Lora(_) => {
                return Err(Error::Input(
                    "LoRA over a LoRA layer: merge the first adapter before adding another".into(),
                ));
            }
        };
        let (d_in, d_out) = base.dims();
        let [a_in, r] = a.dims();
        let [b_r, b_out] = b.dims();
        if a_in != d_in || b_out != d_out || b_r != r || r == 0 {
            return Err(Error::Input(format!(
                "LoRA shapes A {:?} / B {:?} do not fit a [{d_in} -> {d_out}] projection (expected A [{d_in}, r], B [r, {d_out}], r > 0)",
                a.dims(),
                b.dims()
            )));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(Error::Input(format!(
                "LoRA dropout {dropout} is outside [0, 1)"
            )));
        }
        Ok(LoraLinear {
            base,
            lora_a: Param::from_tensor(a),
            lora_b: Param::from_tensor(b),
            dropout: DropoutConfig::new(dropout).init(),
            scale,
        })
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        self.base.dims()
    }

    /// The rank `r`.
    pub fn rank(&self) -> usize {
        self.lora_a.shape().dims::<2>()[1]
    }

    /// The scaling `s` applied to `x·A·B`.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// # Shapes
    /// - `x`: `[..., d_in]` → `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let base = self.base.forward(x.clone());
        let a = self.lora_a.val();
        // Adapters may be kept in f32 over a bf16 base: compute the update in their dtype.
        let h = self.dropout.forward(x);
        let h = if h.dtype() == a.dtype() {
            h
        } else {
            h.cast(a.dtype())
        };
        // x·A is [..., r]: scale the small tensor, never the weight.
        let xa = burn::tensor::module::linear(h, a, None).mul_scalar(self.scale);
        let update = burn::tensor::module::linear(xa, self.lora_b.val(), None);
        let update = if update.dtype() == base.dtype() {
            update
        } else {
            update.cast(base.dtype())
        };
        base + update
    }

    /// `s · (A·B)ᵀ`, the update in HF layout `[d_out, d_in]`, f32.
    pub fn delta_hf(&self) -> Tensor<2> {
        let a = self.lora_a.val().cast(DType::F32);
        let b = self.lora_b.val().cast(DType::F32);
        a.matmul(b).mul_scalar(self.scale).transpose()
    }

    /// `W + s·(A·B)ᵀ` in HF layout `[d_out, d_in]`, f32.
    pub fn merged_hf_weight(&self) -> Tensor<2> {
        self.base.hf_weight() + self.delta_hf()
    }

    /// Folds the update into a dense layer of the base's dtype (an NF4 base is dequantised).
    pub fn merge(&self) -> DenseLinear {
        let dtype = match &self.base {
            LoraBase::Dense(d) => d.weight.val().dtype(),
            LoraBase::Nf4(_) => DType::F32,
        };
        let w = self.merged_hf_weight().transpose();
        let data = w.cast(dtype).into_data();
        DenseLinear::from_data(data, &self.lora_a.val().device())
    }

    /// Drops the adapter and returns the frozen base as a plain projection.
    pub fn into_base(self) -> Linear {
        match self.base {
            LoraBase::Dense(d) => Linear::Dense(d),
            LoraBase::Nf4(q) => Linear::Nf4(q),
        }
    }
}
