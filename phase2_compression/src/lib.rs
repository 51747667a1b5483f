//! Phase 2 — compression: pruning, AWQ 4-bit, GGUF k-quant export, zstd packing, recovery, calibration (next wave).
//!
//! An empty library crate for now: the phase has no binary until its issue lands, so nothing
//! here pretends to work. It exists so the workspace has the layout every later issue fills.
