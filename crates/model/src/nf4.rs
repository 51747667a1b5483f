//! A frozen projection stored as NF4 (QLoRA, Dettmers et al. 2023, §3 "4-bit NormalFloat"),
//! dequantised on the fly in every forward; the codes and scales follow bitsandbytes'
//! `quantize_4bit(quant_type="nf4")` layout, implemented in `cogumi-quant` (no burn there).
//!
//! The packed codes live on the host (`Arc`, shared by clones) at ≈ 4.13 bits per weight with
//! double quantisation. Each forward dequantises into a transient dense weight, which autodiff
//! keeps until backward like any matmul operand; no gradient ever reaches it.

use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{DType, Device, Tensor, TensorData};
use cogumi_quant::nf4::Nf4Tensor;

use crate::error::{Error, Result};
use crate::linear::DenseLinear;
use crate::weights::transpose;

/// A frozen `y = x · W` whose `W` is NF4, quantised in HF layout `[d_out, d_in]` (blocks run
/// along `d_in`, as bitsandbytes quantises a `torch.nn.Linear` weight).
#[derive(Module, Debug)]
pub struct Nf4Linear {
    #[module(skip)]
    weight: Arc<Nf4Tensor>,
    #[module(skip)]
    d_in: usize,
    #[module(skip)]
    d_out: usize,
    /// Compute dtype of the dequantised weight (the dtype the dense layer had).
    #[module(skip)]
    dtype: DType,
    #[module(skip)]
    device: Device,
}

impl Nf4Linear {
    /// Quantises a dense layer (`blocksize` 64 and double quantisation are QLoRA's defaults).
    pub fn quantize(dense: &DenseLinear, blocksize: usize, double_quant: bool) -> Result<Self> {
        let (d_in, d_out) = dense.dims();
        let w = dense.weight.val();
        let device = w.device();
        let dtype = w.dtype();
        let host = w
            .cast(DType::F32)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Input(format!("NF4: reading a dense weight failed: {e:?}")))?;
        // burn layout [d_in, d_out] -> HF layout [d_out, d_in].
        let hf = transpose(&host, d_in, d_out);
        let weight = Nf4Tensor::quantize(&hf, blocksize, double_quant).map_err(|e| {
            Error::Input(format!(
                "NF4 quantisation of a [{d_out}, {d_in}] weight: {e}"
            ))
        })?;
        Ok(Nf4Linear {
            weight: Arc::new(weight),
            d_in,
            d_out,
            dtype,
            device,
        })
    }

    /// Wraps codes quantised elsewhere (HF layout `[d_out, d_in]`).
    pub fn from_nf4(
        weight: Nf4Tensor,
        d_in: usize,
        d_out: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        if weight.numel != d_in * d_out {
            return Err(Error::Input(format!(
                "NF4 weight holds {} values, a [{d_out}, {d_in}] projection needs {}",
                weight.numel,
                d_in * d_out
            )));
        }
        Ok(Nf4Linear {
            weight: Arc::new(weight),
            d_in,
            d_out,
            dtype,
            device: device.clone(),
        })
    }

    /// `(d_in, d_out)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.d_in, self.d_out)
    }

    /// The packed weight.
    pub fn nf4(&self) -> &Nf4Tensor {
        &self.weight
    }

    /// Bytes the frozen weight occupies (codes + scales).
    pub fn storage_bytes(&self) -> usize {
        self.weight.storage_bytes()
    }

    /// The dequantised weight in burn layout `[d_in, d_out]`, contiguous, on `device`.
    fn dense_weight(&self, device: &Device) -> Tensor<2> {
        let hf = self.weight.dequantize();
        let burn_layout = transpose(&hf, self.d_out, self.d_in);
        let w = Tensor::<2>::from_data(
            TensorData::new(burn_layout, [self.d_in, self.d_out]),
            device,
        );
        if self.dtype == DType::F32 {
            w
        } else {
            w.cast(self.dtype)
        }
    }

    /// # Shapes
    /// - `x`: `[..., d_in]` → `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let w = self.dense_weight(&x.device());
        burn::tensor::module::linear(x, w, None)
    }

    /// The dequantised weight in HF layout `[d_out, d_in]`, f32.
    pub fn dequantize_hf(&self) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(self.weight.dequantize(), [self.d_out, self.d_in]),
            &self.device,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nf4_forward_matches_dense_forward_with_the_dequantised_weight() {
        let device = Device::flex();
        let (d_in, d_out) = (128, 24);
        let w: Vec<f32> = (0..d_in * d_out)
            .map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.05)
            .collect();
        let dense = DenseLinear::from_data(TensorData::new(w, [d_in, d_out]), &device);
        let q = Nf4Linear::quantize(&dense, 64, true).unwrap();
        // NF4 storage: 4 bits per code + double-quantised scales.
        assert!(
            q.nf4().bits_per_param() < 4.2,
            "{}",
            q.nf4().bits_per_param()
        );
        let x = Tensor::<2>::from_data(
            TensorData::new(
                (0..3 * d_in)
                    .map(|i| (i % 13) as f32 / 13.0)
                    .collect::<Vec<_>>(),
                [3, d_in],
            ),
            &device,
        );
        let deq = q.dequantize_hf().transpose();
        let want = x
            .clone()
            .matmul(deq)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let got = q
            .forward(x.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
        }
        // And the quantisation error is small relative to the weights' scale.
        let dense_out = dense.forward(x).into_data().try_into_vec::<f32>().unwrap();
        let err: f32 = dense_out
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.05, "NF4 forward error {err}");
    }
}
