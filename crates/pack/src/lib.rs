//! Lossless artifact packing: zstd over byte-plane-grouped float tensors (ZipNN's idea,
//! Hershcovitch et al. 2024), an optional trained dictionary for the other bytes, bounded memory,
//! and unpacking that proves bit-perfect restoration with every original file's SHA-256.
//!
//! A packed directory holds `pack.json` (the index: per original file its path, size, SHA-256
//! and segments; per segment its layout and chunks; per chunk the compressed frame lengths) and
//! `data/<n>.bin` (the frames of file `n`, concatenated in index order), plus `dict.zstd` when a
//! dictionary was trained. A safetensors file is cut into its header and one segment per tensor;
//! F32/F16/BF16 tensors are split into byte planes ([`planes`]) chunk by chunk (4 MiB of original
//! bytes), each plane one frame (rANS, zstd or stored, whichever is smallest); everything else
//! is one zstd frame per chunk. Chunks are
//! compressed in parallel in bounded batches, so memory does not grow with file size.

#![warn(missing_docs)]

mod error;
mod format;
pub mod planes;
mod rans;
mod unpack;

pub use error::{Error, Result};
pub use format::{FileReport, PackOptions, PackReport, pack_dir};
pub use unpack::{UnpackReport, unpack, verify};
