//! phase3_modifiers.
