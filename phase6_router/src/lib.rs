//! Phase 6 — domain and confidence routing between base and modifiers (next wave).
//!
//! An empty library crate for now: the phase has no binary until its issue lands, so nothing
//! here pretends to work. It exists so the workspace has the layout every later issue fills.
