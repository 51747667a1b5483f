//! The crate's error type: every variant names what it is about (interpreter, path and line, or
//! sample id) and, where a fix is known, says it (STYLE.md §2.3).
//!
//! A candidate program that fails, times out or crashes is *not* an error: that is an
//! [`Outcome`](crate::Outcome). Likewise a model output that does not parse is a failed BFCL
//! [`Verdict`](crate::bfcl::Verdict). Errors are for things the caller must fix: no Python, an
//! unreadable dataset, a malformed ground-truth row.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while running or checking answers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Python interpreter could not be started at all.
    #[error(
        "python interpreter `{interpreter}` could not be started: {source}; install Python 3 \
         or set COGUMI_PYTHON to an interpreter's path"
    )]
    PythonMissing {
        /// The interpreter as given (`python3`, `$COGUMI_PYTHON` or `Limits::python`).
        interpreter: String,
        /// The spawn error.
        #[source]
        source: std::io::Error,
    },
    /// The interpreter started but is not a usable Python 3 on a Unix system.
    #[error("python interpreter `{interpreter}` is unusable: {reason}")]
    PythonBroken {
        /// The interpreter as given.
        interpreter: String,
        /// What the probe saw (exit status and stderr).
        reason: String,
    },
    /// The sandbox bootstrap could not set a limit or fork (the candidate never ran).
    #[error("sandbox bootstrap failed: {reason}")]
    Bootstrap {
        /// What the bootstrap reported.
        reason: String,
    },
    /// A filesystem operation on a path failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done, e.g. "creating sandbox directory".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Spawning, waiting for or killing a sandboxed process failed.
    #[error("sandbox: {op}")]
    Process {
        /// What was being done, e.g. "spawning python".
        op: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A dataset file has a malformed line.
    #[error("{}:{line}: {reason}", path.display())]
    Dataset {
        /// The dataset file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A sample's reference data (BFCL function docs or ground truth) is malformed or unsupported.
    #[error("sample {id}: {reason}")]
    Sample {
        /// The sample id, e.g. `simple_python_0`.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Sample`].
    pub(crate) fn sample(id: &str, reason: impl Into<String>) -> Self {
        Error::Sample {
            id: id.to_owned(),
            reason: reason.into(),
        }
    }
}
