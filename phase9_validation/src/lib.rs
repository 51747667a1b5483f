//! Phase 9 — validation: every model variant through one task engine (`cogumi-eval`): offline
//! benchmark import, task runs on the burn model or an OpenAI-compatible endpoint, quality gates,
//! reports, speed, and the low-level logits/generation/perplexity tools.

pub mod burn_backend;
pub mod cli;
pub mod generate;
pub mod import_cmd;
pub mod logits;
pub mod model_dir;
pub mod openai_backend;
pub mod perplexity;
pub mod report_cmd;
pub mod run_cmd;
pub mod speed;
