//! The linear-layer abstraction every projection of the model goes through.
//!
//! The model file (`llama.rs`) only ever names [`Linear`]. Adapters (LoRA, QLoRA/NF4, fake-quantised
//! and pruned weights) are added as variants here, wrapping a [`DenseLinear`], so the model file is
//! never forked — the mistral.rs anti-pattern `STYLE.md` warns about.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

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
}

/// A projection of the model. New variants wrap [`DenseLinear`]; `llama.rs` does not change.
#[derive(Module, Debug)]
pub enum Linear {
    /// A plain dense weight.
    Dense(DenseLinear),
}

impl Linear {
    /// Applies the projection over the last dimension.
    ///
    /// # Shapes
    /// - `x`: `[..., d_in]`
    /// - returns `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Linear::Dense(d) => burn::tensor::module::linear(x, d.weight.val(), None),
        }
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            Linear::Dense(d) => {
                let [i, o] = d.weight.shape().dims();
                (i, o)
            }
        }
    }

    /// The effective dense weight in HF layout `[d_out, d_in]`, for saving and export.
    pub fn hf_weight(&self) -> Tensor<2> {
        match self {
            Linear::Dense(d) => d.weight.val().transpose(),
        }
    }
}
