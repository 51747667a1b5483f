//! phase7_meta.
