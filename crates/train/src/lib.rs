//! cogumi-train: the training engine every phase that trains shares (phase 1 fine-tuning and
//! distillation, later recovery LoRAs, modifiers, routers and meta-learning).
//!
//! * [`adapter`] — LoRA / QLoRA (NF4 base) attached to the model's projections, PEFT's init.
//! * [`optim`] — AdamW in PyTorch's operation order, global-norm clipping, accumulation.
//! * [`schedule`] — constant / linear / cosine with warm-up (transformers' formulas).
//! * [`loss`] — masked next-token cross-entropy, distillation KL, top-1 agreement.
//! * [`trainer`] — the loop: validation, early stopping, checkpoints with exact resume.
//! * [`peft`] — adapters in PEFT's format (export, import) and merging into dense weights.
//! * [`distill`] — student initialisation by layer selection and the KD loop.
//!
//! With `cogumi-model`, the only crate that names burn types.
#![warn(missing_docs)]

pub mod adapter;
pub mod checkpoint;
pub mod data;
pub mod distill;
pub mod error;
pub mod loss;
pub mod optim;
pub mod peft;
pub mod plot;
pub mod rng;
pub mod schedule;
pub mod trainer;

pub use adapter::{AdapterSummary, BaseFormat, LoraConfig, attach_lora};
pub use data::Row;
pub use error::{Error, Result};
pub use trainer::{CheckpointPlan, LoopConfig, StepMetrics, TrainReport, evaluate, train};

/// Moves a loaded model onto the autodiff version of its device with every parameter
/// trainable (burn's `Module::train`); adapters then freeze what they wrap.
pub fn for_training(model: cogumi_model::Llama) -> cogumi_model::Llama {
    use burn::module::Module;
    model.train()
}

/// A view of a training model without autodiff or dropout (burn's `Module::valid`), for
/// generation and scoring: running those on the autodiff device would record a graph per token.
pub fn for_inference(model: &cogumi_model::Llama) -> cogumi_model::Llama {
    use burn::module::Module;
    model.valid()
}
