//! CPU kernels for transformer inference on f32 host memory: matrix products for linear
//! layers (streaming kernels for few rows, the `gemm` crate for many), RMSNorm, RoPE, SwiGLU
//! and causal grouped-query attention over a KV cache.
//!
//! Knows nothing of burn: `cogumi-model` hands it slices of the flex backend's buffers. Each
//! kernel follows the transformers function named in its file's header, and is tested against
//! a direct f64 evaluation of that definition here and against the burn path in
//! `cogumi-model`.
#![warn(missing_docs)]

mod act;
mod attention;
mod attention_grad;
mod matmul;
mod norm;
mod rope;
mod simd;

pub use act::{add_inplace, cross_entropy_grad, exp_inplace, silu_mul, silu_mul_backward};
pub use attention::{AttentionDims, KeyMask, attention};
pub use attention_grad::{AttentionGrads, attention_backward};
pub use matmul::{MatMut, MatRef, SMALL_M, WeightLayout, gemm, matmul};
pub use norm::{rms_norm, rms_norm_backward};
pub use rope::{rope, rope_backward};
