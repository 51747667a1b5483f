//! Phase 7 — first-order meta-learning over LoRA and the few-shot template bank (next wave).
//!
//! An empty library crate for now: the phase has no binary until its issue lands, so nothing
//! here pretends to work. It exists so the workspace has the layout every later issue fills.
