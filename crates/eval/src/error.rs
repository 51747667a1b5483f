//! The crate's error type (STYLE.md §2.3): one `thiserror` enum whose variants name the task,
//! the file and line, or the document that went wrong, and why.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while defining, building, running or judging an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A TOML or JSON file is malformed.
    #[error("{}: {reason}", path.display())]
    Parse {
        /// The file (with `:line` when known).
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A task definition is inconsistent (unknown field value, bad template, bad regex…).
    #[error("task `{task}`: {reason}")]
    Task {
        /// The task.
        task: String,
        /// What is wrong.
        reason: String,
    },
    /// A document does not fit its task (missing field, choice index out of range…).
    #[error("task `{task}`, document {doc}: {reason}")]
    Doc {
        /// The task.
        task: String,
        /// Index of the document in its split.
        doc: usize,
        /// What is wrong.
        reason: String,
    },
    /// The backend failed or cannot serve a request type.
    #[error("backend {backend}: {reason}")]
    Backend {
        /// The backend's name.
        backend: String,
        /// What went wrong.
        reason: String,
    },
    /// A gate file or results file does not fit together.
    #[error("gates: {reason}")]
    Gate {
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A task-definition error.
    pub fn task(task: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Task {
            task: task.into(),
            reason: reason.to_string(),
        }
    }
}
