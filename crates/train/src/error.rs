//! The training engine's error type: every variant names the file, tensor or setting at fault.

use std::path::PathBuf;

/// Errors from adapters, the optimiser, checkpoints and exports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range or inconsistent.
    #[error("invalid training setting: {0}")]
    Config(String),
    /// A tensor has the wrong shape for where it goes.
    #[error("tensor `{name}`: expected shape {expected:?}, found {found:?}")]
    Shape {
        /// Parameter or file tensor name.
        name: String,
        /// What the model needs.
        expected: Vec<usize>,
        /// What was found.
        found: Vec<usize>,
    },
    /// A tensor the file or the model should hold is missing.
    #[error("tensor `{name}` is missing from {path}")]
    Missing {
        /// Tensor name.
        name: String,
        /// File (or `the model`).
        path: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's contents are not what they claim to be.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The loss became NaN or infinite.
    #[error("loss is {value} at step {step}: lower the learning rate or check the data")]
    NonFinite {
        /// Optimiser step.
        step: u64,
        /// The value.
        value: f64,
    },
    /// An error from the model crate.
    #[error(transparent)]
    Model(#[from] cogumi_model::Error),
}

/// Result alias of the training engine.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
