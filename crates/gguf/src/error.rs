//! The error type of `cogumi-gguf`: every variant names the file offset, key or tensor at fault.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong reading, writing or importing a GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing to a stream failed.
    #[error("writing gguf: {0}")]
    Write(#[source] std::io::Error),
    /// The file ends before a field it announces.
    #[error("truncated gguf: {what} needs {need} bytes at offset {offset}, {available} left")]
    Truncated {
        /// The field being read.
        what: String,
        /// Its byte offset.
        offset: u64,
        /// Bytes it needs.
        need: u64,
        /// Bytes left in the file.
        available: u64,
    },
    /// The file does not start with `GGUF`.
    #[error("not a gguf file: magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// A GGUF version this reader does not handle.
    #[error("unsupported gguf version {0} (expected 2 or 3{hint})", hint = if *.0 >= 1 << 24 { "; big-endian files are not supported" } else { "" })]
    UnsupportedVersion(u32),
    /// A count or size is above a sanity limit.
    #[error("{what} is {value}, above the limit of {max}")]
    Limit {
        /// What was counted.
        what: String,
        /// The announced value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// A string is not UTF-8.
    #[error("string at offset {offset} is not valid utf-8")]
    Utf8 {
        /// Byte offset of the string's bytes.
        offset: u64,
    },
    /// A metadata value type id outside `gguf_type`.
    #[error("key {key}: unknown value type {type_id}")]
    ValueType {
        /// The key.
        key: String,
        /// The type id read.
        type_id: u32,
    },
    /// A key appears twice.
    #[error("duplicate key {0}")]
    DuplicateKey(String),
    /// `general.alignment` is not a power of two `u32`.
    #[error("general.alignment must be a non-zero power-of-two u32, got {0}")]
    Alignment(String),
    /// A tensor info that cannot describe a tensor in this file.
    #[error("tensor {tensor}: {reason}")]
    TensorInfo {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor name appears twice.
    #[error("duplicate tensor {0}")]
    DuplicateTensor(String),
    /// A required metadata key is missing.
    #[error("missing metadata key {0}")]
    MissingKey(String),
    /// A metadata key has an unusable type or value.
    #[error("metadata key {key}: {reason}")]
    BadKey {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A tensor the model needs is absent.
    #[error("missing tensor {0}")]
    MissingTensor(String),
    /// A tensor the importer does not know.
    #[error("unexpected tensor {0} (not part of a llama checkpoint)")]
    UnexpectedTensor(String),
    /// A tensor shape disagrees with the metadata-derived config.
    #[error("tensor {tensor}: shape {actual:?} does not match the config's {expected:?}")]
    Shape {
        /// Tensor name (GGUF name, with the HF name in parentheses when known).
        tensor: String,
        /// Shape the config implies (HF order).
        expected: Vec<u64>,
        /// Shape in the file (HF order).
        actual: Vec<u64>,
    },
    /// Decoding a tensor's blocks failed.
    #[error("tensor {tensor}: {source}")]
    Quant {
        /// Tensor name.
        tensor: String,
        /// The block-format error.
        source: cogumi_quant::Error,
    },
    /// Something this importer does not support (architecture, tokenizer model, ...).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The tokenizer metadata is inconsistent.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Writing `model.safetensors` failed.
    #[error("{}: {source}", path.display())]
    Safetensors {
        /// The output file.
        path: PathBuf,
        /// The safetensors error.
        source: safetensors::SafeTensorError,
    },
    /// An HF checkpoint file is missing, malformed or inconsistent with its config.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The file (or directory) at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Serialising a JSON file failed.
    #[error("{}: {source}", path.display())]
    Json {
        /// The output file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn tensor(tensor: &str, reason: impl Into<String>) -> Self {
        Error::TensorInfo {
            tensor: tensor.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn bad_key(key: &str, reason: impl Into<String>) -> Self {
        Error::BadKey {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}
