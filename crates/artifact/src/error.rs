//! The crate's error type: every variant names the artifact directory or file it is about
//! (candle's `WithPath` idea, STYLE.md §2.3).

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while writing, committing or opening an artifact.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done, e.g. "creating directory".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `manifest.json` is missing: the directory is not a committed artifact.
    #[error("{} is not a complete artifact: manifest.json is missing", dir.display())]
    NoManifest {
        /// The artifact directory.
        dir: PathBuf,
    },
    /// `manifest.json` is not valid JSON or does not match the manifest schema.
    #[error("parsing manifest {}", path.display())]
    ManifestParse {
        /// Path of the manifest.
        path: PathBuf,
        /// The JSON error (carries line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The manifest was written by an incompatible version of this crate.
    #[error("manifest {} has schema_version {found}, this build reads {expected}", path.display())]
    SchemaVersion {
        /// Path of the manifest.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build understands.
        expected: u32,
    },
    /// A file listed in the manifest does not exist.
    #[error("artifact {}: file {file} listed in the manifest is missing", dir.display())]
    MissingFile {
        /// The artifact directory.
        dir: PathBuf,
        /// The file's path relative to the artifact directory.
        file: String,
    },
    /// A file's size differs from the manifest.
    #[error("artifact {}: file {file} has {actual} bytes, the manifest says {expected}", dir.display())]
    SizeMismatch {
        /// The artifact directory.
        dir: PathBuf,
        /// The file's path relative to the artifact directory.
        file: String,
        /// Size recorded in the manifest.
        expected: u64,
        /// Size on disk.
        actual: u64,
    },
    /// A file's sha256 differs from the manifest.
    #[error("artifact {}: file {file} has sha256 {actual}, the manifest says {expected}", dir.display())]
    HashMismatch {
        /// The artifact directory.
        dir: PathBuf,
        /// The file's path relative to the artifact directory.
        file: String,
        /// Hash recorded in the manifest.
        expected: String,
        /// Hash of the bytes on disk.
        actual: String,
    },
    /// The artifact is of another kind than the caller expects.
    #[error("artifact {} has kind {found:?}, expected {expected:?}", dir.display())]
    KindMismatch {
        /// The artifact directory.
        dir: PathBuf,
        /// Kind in the manifest.
        found: String,
        /// Kind the caller asked for.
        expected: String,
    },
    /// The artifact at `<root>/<kind>/<id>` has a manifest for another kind or id.
    #[error("artifact {} has manifest kind/id {found}, expected {expected}", dir.display())]
    IdMismatch {
        /// The artifact directory.
        dir: PathBuf,
        /// `kind/id` in the manifest.
        found: String,
        /// `kind/id` implied by the directory.
        expected: String,
    },
    /// A kind, id or file path that cannot be used safely as a path component.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// "kind", "id" or "file path".
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The writer's directory contains something that cannot be part of an artifact.
    #[error("artifact {}: {file}: {reason}", dir.display())]
    BadEntry {
        /// The writer's directory.
        dir: PathBuf,
        /// The entry's path relative to it.
        file: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A metric or JSON file could not be serialised.
    #[error("serialising {what}")]
    Serialize {
        /// What was being serialised, e.g. "metric loss".
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Builds an [`Error::Io`] from a closure-friendly triple.
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}
