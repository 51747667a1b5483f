//! Answer checkers that run or parse model output: sandboxed Python execution for HumanEval and
//! MBPP with the unbiased pass@k estimator, and BFCL-style tool-call AST matching.
//!
//! - [`sandbox`]: [`run_python`] / [`run_many`] run a complete program in a child `python3 -I`
//!   with rlimits, a wall-clock timeout, a process-group kill and, where `unshare(1)` works,
//!   fresh user/network/PID namespaces. It is a reliability guard, not a security sandbox.
//! - [`humaneval`] / [`mbpp`]: problem records and check programs assembled as the reference
//!   harnesses assemble them; [`extract_code`] cuts the code out of a generation.
//! - [`passk`]: pass@k (Chen et al. 2021).
//! - [`bfcl`]: decode `[f(a=1), g(b="x")]` (or JSON) tool calls and check them against BFCL
//!   ground truth with bfcl_eval's `ast_checker` rules.

#![warn(missing_docs)]

pub mod bfcl;
mod error;
mod extract;
pub mod humaneval;
pub mod mbpp;
pub mod passk;
pub mod sandbox;

pub use error::{Error, Result};
pub use extract::{HUMANEVAL_STOP, MBPP_STOP, extract_code};
pub use passk::{mean_pass_at_k, pass_at_k};
pub use sandbox::{Limits, Outcome, Status, run_many, run_python};
