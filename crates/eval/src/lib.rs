//! The evaluation engine: task definitions in TOML with lm-evaluation-harness' keys, prompt
//! building and the three lm-eval request types against any [`Backend`], metrics, per-sample
//! records, judging (exact match, sandboxed code, BFCL tool calls), gates and reports.
//!
//! It names no burn type and opens no socket: backends (the burn model in `phase9_validation`,
//! OpenAI-compatible endpoints through `cogumi-teacher`) implement [`Backend`].
#![warn(missing_docs)]

pub mod backend;
pub mod calibration;
pub mod code;
pub mod docs;
pub mod engine;
pub mod error;
pub mod gate;
pub mod judge;
pub mod metrics;
pub mod prompt;
pub mod pyrandom;
pub mod records;
pub mod report;
pub mod results;
pub mod task;
pub mod template;

pub use backend::{
    Backend, GeneratePrompt, GenerateRequest, Loglikelihood, LoglikelihoodRequest,
    RollingLoglikelihood,
};
pub use engine::{Prepared, RunOptions, prepare, run_task};
pub use error::{Error, Result};
pub use results::{MetricValue, ModelInfo, RunResults, SpeedResult, TaskResult};
pub use task::TaskDef;
