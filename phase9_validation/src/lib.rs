//! Phase 9 — validation: run any model artifact through the same task engine (logits, generation,
//! perplexity now; benchmark suites, gates and reports later).

pub mod cli;
pub mod generate;
pub mod logits;
pub mod model_dir;
pub mod perplexity;
pub mod speed;
