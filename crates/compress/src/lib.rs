//! Compression algorithms on plain row-major `f32` weights and calibration statistics:
//! magnitude and Wanda masks (unstructured, N:M), SparseGPT, and MLP-channel importance for
//! structured pruning. No burn: the model crate supplies the calibration activations
//! (`cogumi_model::Calibrator`) and phase 2 applies the results.
#![warn(missing_docs)]

mod error;
pub mod prune;
pub mod sparsegpt;

pub use error::{Error, Result};
pub use prune::{FeatureNorms, Pattern, apply_mask, magnitude_mask, sparsity, wanda_mask};
pub use sparsegpt::{Hessian, SparseGptConfig, sparsegpt};
