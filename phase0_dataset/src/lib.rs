//! phase0_dataset: heterogeneous instruction datasets → one clean, deduplicated, domain-tagged
//! training set, as verbs over artifacts (STYLE.md §2.2): `synth` (verifiable synthetic
//! curriculum) → `ingest` (schema detection, normalisation, quarantine) → `lang` (English
//! verification) → `dedup` (exact + MinHash LSH) → `domains` (rule-based tags) → `stats`
//! (report with plots) → `split` (stratified train/validation/test). See README.md.
#![warn(missing_docs)]

pub use cogumi_dataset::check;
pub mod cli;
pub mod config;
pub mod dedup;
pub mod domains;
pub mod ingest;
pub mod io;
pub mod lang;
pub mod report;
pub use cogumi_dataset::schema;
pub mod split;
pub mod stats;
pub mod synth;
