//! The crate's error type: every variant names the file it is about.

use std::path::PathBuf;

/// What went wrong while packing or unpacking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The packed data is malformed: a bad index, a frame that does not decompress, a size
    /// that does not match.
    #[error("{}: {reason}", path.display())]
    Corrupt {
        /// The original file (or index) concerned.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A restored file's SHA-256 differs from the one recorded when packing.
    #[error("{}: SHA-256 {actual} does not match the recorded {expected}", path.display())]
    Digest {
        /// The restored file.
        path: PathBuf,
        /// Recorded at pack time.
        expected: String,
        /// Of the restored bytes.
        actual: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
