//! phase1_training.
