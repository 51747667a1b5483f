//! Rotary position embeddings in HF's rotate-half layout, with linear and Llama-3.1 `llama3`
//! frequency scaling.
//!
//! Follows transformers `modeling_rope_utils.py` (`_compute_default_rope_parameters`,
//! `_compute_linear_scaling_rope_parameters`, `_compute_llama3_parameters`) and
//! `models/llama/modeling_llama.py` (`rotate_half`, `apply_rotary_pos_emb`). burn's own
//! `RotaryEncoding` pairs adjacent elements instead, which would need permuted q/k weights.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::{LlamaConfig, RopeScaling};

/// Inverse frequencies `[head_dim / 2]`, scaled as the config says.
///
/// Computed in f32 in the same order as transformers, so tables agree to the last ulp or two.
pub fn inv_freq(config: &LlamaConfig) -> Vec<f32> {
    let d = config.head_dim;
    let base = config.rope_theta as f32;
    let plain: Vec<f32> = (0..d)
        .step_by(2)
        .map(|i| 1.0 / base.powf(i as f32 / d as f32))
        .collect();
    match config.rope_scaling {
        RopeScaling::Default => plain,
        RopeScaling::Linear { factor } => plain.iter().map(|f| f / factor as f32).collect(),
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            let (factor, low, high) = (
                factor as f32,
                low_freq_factor as f32,
                high_freq_factor as f32,
            );
            let old = original_max_position_embeddings as f32;
            let low_wavelen = old / low;
            let high_wavelen = old / high;
            plain
                .iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f32::consts::PI / f;
                    let scaled = if wavelen > low_wavelen { f / factor } else { f };
                    // Wavelengths are finite and positive here, so this is transformers' `~(w < hi) & ~(w > lo)`.
                    let medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
                    if medium {
                        let smooth = (old / wavelen - low) / (high - low);
                        (1.0 - smooth) * scaled / factor + smooth * scaled
                    } else {
                        scaled
                    }
                })
                .collect()
        }
    }
}

/// Precomputed `cos`/`sin` tables `[max_positions, head_dim]` (each half repeated, as HF does).
#[derive(Debug, Clone)]
pub struct RopeTable {
    cos: Tensor<2>,
    sin: Tensor<2>,
    max_positions: usize,
}

impl RopeTable {
    /// Builds tables for positions `0..max_positions` on `device`.
    pub fn new(config: &LlamaConfig, max_positions: usize, device: &Device) -> Self {
        let inv = inv_freq(config);
        let half = inv.len();
        let d = 2 * half;
        let mut cos = Vec::with_capacity(max_positions * d);
        let mut sin = Vec::with_capacity(max_positions * d);
        for p in 0..max_positions {
            // freqs = position * inv_freq in f32, as `inv_freq @ position_ids` computes it.
            let freqs: Vec<f32> = inv.iter().map(|f| p as f32 * f).collect();
            for _ in 0..2 {
                cos.extend(freqs.iter().map(|x| x.cos()));
                sin.extend(freqs.iter().map(|x| x.sin()));
            }
        }
        RopeTable {
            cos: Tensor::from_data(TensorData::new(cos, [max_positions, d]), device),
            sin: Tensor::from_data(TensorData::new(sin, [max_positions, d]), device),
            max_positions,
        }
    }

    /// The same table stored in another float dtype (bf16/f16 models multiply in their dtype).
    pub fn cast(self, dtype: burn::tensor::DType) -> Self {
        RopeTable {
            cos: self.cos.cast(dtype),
            sin: self.sin.cast(dtype),
            max_positions: self.max_positions,
        }
    }

    /// The `cos` and `sin` tables, `[max_positions, head_dim]` each.
    pub(crate) fn tables(&self) -> (Tensor<2>, Tensor<2>) {
        (self.cos.clone(), self.sin.clone())
    }

    /// Number of positions the table covers.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Gathers `cos`, `sin` for the given positions.
    ///
    /// # Shapes
    /// - `positions`: `[B, T]` (int)
    /// - returns two tensors `[B, 1, T, head_dim]`, ready to broadcast over heads.
    pub fn gather(&self, positions: Tensor<2, Int>) -> (Tensor<4>, Tensor<4>) {
        let [b, t] = positions.dims();
        let flat = positions.reshape([b * t]);
        let d = self.cos.dims()[1];
        let cos = self
            .cos
            .clone()
            .select(0, flat.clone())
            .reshape([b, 1, t, d]);
        let sin = self.sin.clone().select(0, flat).reshape([b, 1, t, d]);
        (cos, sin)
    }
}

/// Applies RoPE: `x·cos + rotate_half(x)·sin`, with `rotate_half(x) = cat(-x₂, x₁)`.
///
/// # Shapes
/// - `x`: `[B, H, T, head_dim]`
/// - `cos`, `sin`: `[B, 1, T, head_dim]`
/// - returns `[B, H, T, head_dim]`
pub fn apply(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let half = d / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scaling: RopeScaling) -> LlamaConfig {
        LlamaConfig {
            vocab_size: 8,
            hidden_size: 64,
            intermediate_size: 8,
            num_hidden_layers: 1,
            num_attention_heads: 4,
            num_key_value_heads: 4,
            head_dim: 16,
            rms_norm_eps: 1e-5,
            rope_theta: 500000.0,
            rope_scaling: scaling,
            max_position_embeddings: 64,
            tie_word_embeddings: false,
            bos_token_id: None,
            eos_token_ids: vec![],
            pad_token_id: None,
            dtype: "float32".into(),
        }
    }

    #[test]
    fn llama3_scaling_matches_hand_derived_bands() {
        let c = config(RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 64.0,
        });
        let plain = inv_freq(&config(RopeScaling::Default));
        let scaled = inv_freq(&c);
        for (p, s) in plain.iter().zip(&scaled) {
            let wavelen = 2.0 * std::f32::consts::PI / p;
            if wavelen < 16.0 {
                assert_eq!(p, s, "high frequencies are untouched");
            } else if wavelen > 64.0 {
                assert!(
                    (p / 8.0 - s).abs() <= 1e-12,
                    "low frequencies divided by factor"
                );
            } else {
                assert!(*s < *p && *s > p / 8.0, "medium band interpolates");
            }
        }
        assert_ne!(plain, scaled);
    }

    #[test]
    fn rotation_preserves_norm_and_is_identity_at_position_zero() {
        let device = Device::flex();
        let c = config(RopeScaling::Default);
        let table = RopeTable::new(&c, 8, &device);
        let x = Tensor::<4>::random(
            [1, 2, 3, 16],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &device,
        );
        let pos = Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 5, 7], [1, 3]), &device);
        let (cos, sin) = table.gather(pos);
        let y = apply(x.clone(), &cos, &sin);
        let xv = x.clone().into_data().try_to_vec::<f32>().unwrap();
        let yv = y.into_data().try_to_vec::<f32>().unwrap();
        // Position 0 is the first 16 values of each head: unchanged.
        assert_eq!(&xv[..16], &yv[..16]);
        // Rotations preserve the norm of each (i, i + d/2) pair.
        for head in 0..2 {
            for t in 0..3 {
                let base = head * 48 + t * 16;
                for i in 0..8 {
                    let nx = xv[base + i].hypot(xv[base + i + 8]);
                    let ny = yv[base + i].hypot(yv[base + i + 8]);
                    assert!((nx - ny).abs() < 1e-5);
                }
            }
        }
    }
}
