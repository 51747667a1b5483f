//! HF safetensors checkpoints: single-file or sharded (`model.safetensors.index.json`),
//! memory-mapped, f32/f16/bf16, with every tensor's shape checked before use; and the writer
//! that saves them back in the same layout.
//!
//! Follows the safetensors format spec and transformers' `save_pretrained` naming
//! (`model.safetensors`, `{"format": "pt"}` metadata).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use burn::tensor::{DType, TensorData};
use half::{bf16, f16};
use memmap2::Mmap;
use safetensors::tensor::{Dtype as StDtype, Metadata, SafeTensors};
use serde::Deserialize;

use crate::error::{Error, Result};

/// One mapped shard.
struct Shard {
    path: PathBuf,
    mmap: Mmap,
    header_len: usize,
    metadata: Metadata,
}

/// An opened checkpoint directory; tensors are read lazily from the mapped files.
pub struct Checkpoint {
    shards: Vec<Shard>,
    /// tensor name → shard index
    index: HashMap<String, usize>,
    /// What errors about missing tensors name: the single file or the index.
    origin: PathBuf,
}

impl std::fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoint")
            .field("origin", &self.origin)
            .field("tensors", &self.index.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct ShardIndex {
    weight_map: BTreeMap<String, String>,
}

fn map_file(path: &Path) -> Result<Shard> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY-free: memmap2's `Mmap::map` is `unsafe` because another process could truncate the
    // file; we map read-only files we were pointed at, as every safetensors loader does.
    #[allow(unsafe_code)]
    let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let (n, metadata) = SafeTensors::read_metadata(&mmap).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(Shard {
        path: path.to_path_buf(),
        mmap,
        header_len: 8 + n,
        metadata,
    })
}

impl Checkpoint {
    /// Opens `dir/model.safetensors`, or the shards listed in `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let single = dir.join("model.safetensors");
        let index_path = dir.join("model.safetensors.index.json");
        if index_path.exists() {
            let text =
                std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
            let idx: ShardIndex = serde_json::from_str(&text).map_err(|source| Error::Json {
                path: index_path.clone(),
                source,
            })?;
            let mut files: Vec<String> = idx.weight_map.values().cloned().collect();
            files.sort();
            files.dedup();
            let mut shards = Vec::new();
            let mut by_file = HashMap::new();
            for f in &files {
                if f.contains("..") || f.starts_with('/') {
                    return Err(Error::config(
                        &index_path,
                        format!("shard path `{f}` escapes the directory"),
                    ));
                }
                by_file.insert(f.clone(), shards.len());
                shards.push(map_file(&dir.join(f))?);
            }
            let mut index = HashMap::new();
            for (name, f) in &idx.weight_map {
                let s = by_file[f];
                if shards[s].metadata.info(name).is_none() {
                    return Err(Error::MissingTensor {
                        path: shards[s].path.clone(),
                        tensor: name.clone(),
                    });
                }
                index.insert(name.clone(), s);
            }
            Ok(Checkpoint {
                shards,
                index,
                origin: index_path,
            })
        } else if single.exists() {
            let shard = map_file(&single)?;
            let index = shard
                .metadata
                .tensors()
                .keys()
                .map(|k| (k.clone(), 0))
                .collect();
            Ok(Checkpoint {
                shards: vec![shard],
                index,
                origin: single,
            })
        } else {
            Err(Error::io(
                &single,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "neither model.safetensors nor model.safetensors.index.json found",
                ),
            ))
        }
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.index.keys().cloned().collect();
        v.sort();
        v
    }

    /// Whether the checkpoint holds `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The file `name` lives in (or the checkpoint origin when absent).
    pub fn path_of(&self, name: &str) -> &Path {
        self.index
            .get(name)
            .map_or(self.origin.as_path(), |&s| self.shards[s].path.as_path())
    }

    /// Reads tensor `name`, checking its shape equals `expected`, converting to `dtype`
    /// (`None` keeps the stored float dtype).
    pub fn read(&self, name: &str, expected: &[usize], dtype: Option<DType>) -> Result<TensorData> {
        let &s = self.index.get(name).ok_or_else(|| Error::MissingTensor {
            path: self.origin.clone(),
            tensor: name.into(),
        })?;
        let shard = &self.shards[s];
        let info = shard
            .metadata
            .info(name)
            .ok_or_else(|| Error::MissingTensor {
                path: shard.path.clone(),
                tensor: name.into(),
            })?;
        if info.shape != expected {
            return Err(Error::Shape {
                path: shard.path.clone(),
                tensor: name.into(),
                expected: expected.to_vec(),
                actual: info.shape.clone(),
            });
        }
        let (a, b) = info.data_offsets;
        let bytes = shard
            .mmap
            .get(shard.header_len + a..shard.header_len + b)
            .ok_or_else(|| Error::Safetensors {
                path: shard.path.clone(),
                message: format!("tensor `{name}` data lies outside the file"),
            })?;
        let shape = info.shape.clone();
        let target = dtype.unwrap_or(match info.dtype {
            StDtype::BF16 => DType::BF16,
            StDtype::F16 => DType::F16,
            _ => DType::F32,
        });
        let bad_dtype = || Error::Dtype {
            path: shard.path.clone(),
            tensor: name.into(),
            dtype: format!("{:?}", info.dtype),
        };
        let data = match (info.dtype, target) {
            (StDtype::F32, DType::F32) => TensorData::new(le_f32(bytes), shape),
            (StDtype::BF16, DType::BF16) => TensorData::new(
                le_u16(bytes)
                    .into_iter()
                    .map(bf16::from_bits)
                    .collect::<Vec<_>>(),
                shape,
            ),
            (StDtype::F16, DType::F16) => TensorData::new(
                le_u16(bytes)
                    .into_iter()
                    .map(f16::from_bits)
                    .collect::<Vec<_>>(),
                shape,
            ),
            (src, DType::F32) => TensorData::new(to_f32(bytes, src).ok_or_else(bad_dtype)?, shape),
            (src, DType::BF16) => TensorData::new(
                to_f32(bytes, src)
                    .ok_or_else(bad_dtype)?
                    .into_iter()
                    .map(bf16::from_f32)
                    .collect::<Vec<_>>(),
                shape,
            ),
            (src, DType::F16) => TensorData::new(
                to_f32(bytes, src)
                    .ok_or_else(bad_dtype)?
                    .into_iter()
                    .map(f16::from_f32)
                    .collect::<Vec<_>>(),
                shape,
            ),
            _ => return Err(bad_dtype()),
        };
        Ok(data)
    }
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn le_u16(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Little-endian safetensors bytes of an F32, BF16 or F16 tensor as `f32` (`None` for other
/// dtypes).
pub fn to_f32(bytes: &[u8], dtype: StDtype) -> Option<Vec<f32>> {
    Some(match dtype {
        StDtype::F32 => le_f32(bytes),
        StDtype::BF16 => le_u16(bytes)
            .into_iter()
            .map(|b| bf16::from_bits(b).to_f32())
            .collect(),
        StDtype::F16 => le_u16(bytes)
            .into_iter()
            .map(|b| f16::from_bits(b).to_f32())
            .collect(),
        _ => return None,
    })
}

/// Transposes a row-major 2-D host tensor (`[r, c]` → `[c, r]`), keeping its dtype.
pub fn transpose_2d(data: TensorData) -> TensorData {
    let shape = data.shape().to_vec();
    let (r, c) = (shape[0], shape[1]);
    match data.dtype() {
        DType::BF16 => TensorData::new(
            transpose(data.as_slice::<bf16>().unwrap_or(&[]), r, c),
            [c, r],
        ),
        DType::F16 => TensorData::new(
            transpose(data.as_slice::<f16>().unwrap_or(&[]), r, c),
            [c, r],
        ),
        _ => TensorData::new(
            transpose(data.as_slice::<f32>().unwrap_or(&[]), r, c),
            [c, r],
        ),
    }
}

/// Row-major `[rows, cols]` → `[cols, rows]`, in cache-sized tiles.
pub fn transpose<E: Copy + Default>(src: &[E], rows: usize, cols: usize) -> Vec<E> {
    const TILE: usize = 32;
    let mut dst = vec![E::default(); src.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
    dst
}

/// A tensor ready to be written: HF name, safetensors dtype, shape and little-endian bytes.
#[derive(Debug, Clone)]
pub struct OwnedTensor {
    /// Stored dtype.
    pub dtype: StDtype,
    /// Shape.
    pub shape: Vec<usize>,
    /// Little-endian bytes.
    pub bytes: Vec<u8>,
}

impl safetensors::View for &OwnedTensor {
    fn dtype(&self) -> StDtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

impl OwnedTensor {
    /// An f32 tensor from host values.
    pub fn f32(shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        OwnedTensor {
            dtype: StDtype::F32,
            shape,
            bytes,
        }
    }

    /// Converts host data (f32/bf16/f16) to an owned safetensors tensor of the same dtype.
    pub fn from_data(data: &TensorData) -> Self {
        let shape = data.shape().to_vec();
        let (dtype, bytes) = match data.dtype() {
            DType::BF16 => (StDtype::BF16, data.as_bytes().to_vec()),
            DType::F16 => (StDtype::F16, data.as_bytes().to_vec()),
            _ => {
                let v = data.clone().convert::<f32>();
                (StDtype::F32, v.as_bytes().to_vec())
            }
        };
        OwnedTensor {
            dtype,
            shape,
            bytes,
        }
    }
}

/// Writes tensors to `path` as one safetensors file with transformers' `{"format": "pt"}` metadata.
pub fn write_safetensors(path: &Path, tensors: &BTreeMap<String, OwnedTensor>) -> Result<()> {
    let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
    safetensors::serialize_to_file(
        tensors.iter().map(|(k, v)| (k.as_str(), v)),
        Some(meta),
        path,
    )
    .map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_is_an_involution_and_moves_elements() {
        let src: Vec<f32> = (0..(37 * 70)).map(|i| i as f32).collect();
        let t = transpose(&src, 37, 70);
        assert_eq!(t[5 * 37 + 3], src[3 * 70 + 5]);
        assert_eq!(transpose(&t, 70, 37), src);
    }
}
