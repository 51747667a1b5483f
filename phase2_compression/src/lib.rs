//! phase2_compression.
