//! The linear-layer abstraction every projection of the model goes through.
//!
//! The model file (`llama.rs`) only ever names [`Linear`]. Adapters wrap a frozen base here —
//! LoRA ([`crate::lora`], Hu et al. 2021, as PEFT's `lora.Linear`) over a dense or an NF4
//! ([`crate::nf4`], QLoRA) weight — so the model file is never forked, the mistral.rs
//! anti-pattern `STYLE.md` warns about.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

use crate::lora::LoraLinear;
use crate::nf4::Nf4Linear;

/// A bias-free dense projection `y = x · W`, stored as burn does, `W: [d_in, d_out]`.
///
/// HF stores the same weight as `[d_out, d_in]`; loading and saving transpose it.
#[derive(Module, Debug)]
pub struct DenseLinear {
    /// `[d_in, d_out]`
    pub weight: Param<Tensor<2>>,
}

impl DenseLinear {
    /// Wraps host data already in burn layout `[d_in, d_out]`, keeping its dtype.
    pub fn from_data(data: TensorData, device: &Device) -> Self {
        let dtype = data.dtype();
        DenseLinear {
            weight: Param::from_tensor(Tensor::from_data(data, (device, dtype))),
        }
    }

    /// # Shapes
    /// - `x`: `[..., d_in]` → `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::linear(x, self.weight.val(), None)
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        let [i, o] = self.weight.shape().dims();
        (i, o)
    }
}

/// A projection of the model. New variants wrap a frozen base; `llama.rs` does not change.
// A model holds a few hundred of these; boxing the LoRA variant would buy nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Linear {
    /// A plain dense weight (trainable unless frozen).
    Dense(DenseLinear),
    /// A frozen NF4 weight, dequantised on the fly.
    Nf4(Nf4Linear),
    /// A frozen base plus a trainable low-rank update.
    Lora(LoraLinear),
}

impl Linear {
    /// Applies the projection over the last dimension.
    ///
    /// # Shapes
    /// - `x`: `[..., d_in]`
    /// - returns `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Linear::Dense(d) => d.forward(x),
            Linear::Nf4(q) => q.forward(x),
            Linear::Lora(l) => l.forward(x),
        }
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Linear::Dense(d) => d.dims(),
            Linear::Nf4(q) => q.dims(),
            Linear::Lora(l) => l.dims(),
        }
    }

    /// The effective dense weight in HF layout `[d_out, d_in]`, for saving and export. For a
    /// LoRA layer this is the merged weight `W + s·(A·B)ᵀ` (in f32 when the base is NF4).
    pub fn hf_weight(&self) -> Tensor<2> {
        match self {
            Linear::Dense(d) => d.weight.val().transpose(),
            Linear::Nf4(q) => q.dequantize_hf(),
            Linear::Lora(l) => l.merged_hf_weight(),
        }
    }
}
