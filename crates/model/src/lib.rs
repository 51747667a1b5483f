//! The Llama-family model core on burn 0.22: configuration, HF checkpoint loading and saving,
//! the decoder with KV cache, sampling and generation.
//!
//! With `crates/train`, this is the only crate that names burn types; phases call its API.
#![warn(missing_docs)]

pub mod batch;
pub mod calib;
pub mod config;
pub mod device;
pub mod error;
pub mod generate;
mod host;
mod host_train;
pub mod kv_cache;
pub mod linear;
pub mod llama;
pub mod loader;
pub mod lora;
pub mod nf4;
pub mod params;
pub mod rope;
pub mod sampling;
pub mod text;
pub mod weights;

#[cfg(test)]
mod layer_tests;

pub use batch::TokenBatch;
pub use calib::{Calibrator, Proj, Site};
pub use config::{LlamaConfig, RopeScaling};
pub use device::DeviceSpec;
pub use error::{Error, Result};
pub use generate::{Control, FinishReason, GenerateConfig, Generation, generate};
pub use host_train::HostGrads;
pub use kv_cache::KvCache;
pub use llama::{HostLogits, Llama};
pub use loader::{LoadOptions, load, save};
pub use sampling::{Sampler, SamplingConfig};
pub use text::{Prompt, TextGeneration, generate_text};

/// burn's float dtype, re-exported so callers never import burn themselves.
pub use burn::tensor::DType;
