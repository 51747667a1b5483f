//! phase1_training: phase 1 of the pipeline as verbs over artifacts — `train` (LoRA, QLoRA with
//! an NF4 base, full fine-tune) → `adapter` or `model` artifact; `merge` (adapter + base → HF
//! model); `distill` (teacher → draft/student model with top-1 agreement). The engine is
//! `cogumi-train`; this crate reads configs and data, drives it and writes artifacts.
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod data;
pub mod distill_cmd;
pub mod merge;
pub mod model_io;
pub mod output;
pub mod speed;
pub mod tasks;
pub mod train_cmd;
