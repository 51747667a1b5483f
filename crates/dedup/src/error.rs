//! The error type of `cogumi-dedup`.

use std::path::PathBuf;

/// Errors of the deduplication engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range.
    #[error("invalid dedup config: {0}")]
    InvalidConfig(String),
    /// Reading or writing a spill file failed.
    #[error("spill file {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Row indices are `u32`.
    #[error("too many rows: {0} (at most 4294967295)")]
    TooManyRows(usize),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
