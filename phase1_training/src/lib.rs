//! Phase 1 — training: QLoRA fine-tuning, failure analysis, distillation, draft model (next wave; see ROADMAP.md).
//!
//! An empty library crate for now: the phase has no binary until its issue lands, so nothing
//! here pretends to work. It exists so the workspace has the layout every later issue fills.
