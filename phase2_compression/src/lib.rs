//! phase2_compression: phase 2 of the pipeline as verbs over artifacts — `gguf` (HF checkpoint
//! or `model` artifact → GGUF v3 in llama.cpp's converter layout for F32/F16/BF16 and
//! llama-quantize's for Q8_0/Q6_K/Q5_K_M/Q4_K_M, byte for byte). The work lives in the
//! libraries (`cogumi-gguf`, `cogumi-quant`); this crate resolves inputs, drives them and writes
//! artifacts.
#![warn(missing_docs)]

pub mod calibrate_cmd;
pub mod cli;
pub mod gguf_cmd;
pub mod heldout;
pub mod model_io;
pub mod pack_cmd;
pub mod prune_cmd;
pub mod recover_cmd;
pub mod report_cmd;
pub mod structured;
