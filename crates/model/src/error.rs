//! The model crate's error type: every variant names the file, tensor or field a user must look at.

use std::path::PathBuf;

/// Errors from loading, checking, running and saving models.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` (or another JSON file) is not valid JSON for its schema.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file involved.
        path: PathBuf,
        /// The parse error (it carries line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The configuration is well-formed JSON but describes something we cannot run.
    #[error("{path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A safetensors file is malformed.
    #[error("{path}: invalid safetensors file: {message}")]
    Safetensors {
        /// The file involved.
        path: PathBuf,
        /// What the safetensors parser said.
        message: String,
    },
    /// A tensor the configuration requires is absent from the checkpoint.
    #[error("{path}: missing tensor `{tensor}`")]
    MissingTensor {
        /// The checkpoint (file or index) searched.
        path: PathBuf,
        /// The HF tensor name.
        tensor: String,
    },
    /// A tensor's shape disagrees with the configuration.
    #[error("{path}: tensor `{tensor}` has shape {actual:?}, config expects {expected:?}")]
    Shape {
        /// The file holding the tensor.
        path: PathBuf,
        /// The HF tensor name.
        tensor: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape found in the file.
        actual: Vec<usize>,
    },
    /// A tensor is stored in a dtype we do not load.
    #[error("{path}: tensor `{tensor}` has unsupported dtype {dtype}")]
    Dtype {
        /// The file holding the tensor.
        path: PathBuf,
        /// The HF tensor name.
        tensor: String,
        /// The dtype found.
        dtype: String,
    },
    /// The checkpoint contains tensors the model does not use (usually a different architecture).
    #[error("{path}: unexpected tensors not used by a Llama model: {names:?}")]
    UnusedTensors {
        /// The checkpoint.
        path: PathBuf,
        /// Up to ten of the unused names.
        names: Vec<String>,
    },
    /// Bad arguments to a model call (token ids out of range, empty batch, …).
    #[error("{0}")]
    Input(String),
    /// A device string could not be parsed or the backend is not compiled in.
    #[error("device `{device}`: {message}")]
    Device {
        /// The device string as given.
        device: String,
        /// Why it cannot be used.
        message: String,
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

    pub(crate) fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Config {
            path: path.into(),
            message: message.into(),
        }
    }
}
