//! GGUF files for Cogumi: a hardened reader, a streaming writer, the HF <-> GGUF tensor-name
//! table, the GGUF -> HF checkpoint importer and the HF -> GGUF exporter (llama.cpp's converter
//! and llama-quantize layouts, byte for byte).
//!
//! The container follows llama.cpp `ggml/include/gguf.h` / `ggml/src/gguf.cpp` (v3, also v2);
//! names and the Q/K permutation follow llama.cpp `convert_hf_to_gguf.py` and gguf-py
//! `tensor_mapping.py`; the importer reproduces transformers 4.57's GGUF loading
//! (`modeling_gguf_pytorch_utils.py`) with the tokenizer llama.cpp runs (`llama-vocab.cpp`).
//! Block formats live in `cogumi-quant`; nothing here knows about burn.

#![warn(missing_docs)]

pub mod config;
mod error;
pub mod export;
mod import;
mod metadata;
pub mod names;
mod reader;
pub mod rope;
pub mod tokenizer;
mod value;
mod writer;

pub use cogumi_quant::GgmlType;
pub use error::{Error, Result};
pub use export::{
    AdapterReport, ExportOptions, ExportReport, FileType, HfCheckpoint, export_hf,
    export_lora_adapter, quantize_gguf,
};
pub use import::{Dtype, ImportOptions, ImportReport, import_hf};
pub use metadata::Metadata;
pub use reader::{DEFAULT_ALIGNMENT, GgufFile, Limits, MAX_DIMS, MAX_NAME_LEN, TensorInfo};
pub use value::{Array, Value, ValueType};
pub use writer::GgufWriter;
