//! An HF Llama checkpoint directory as the exporter reads it: `config.json`, memory-mapped
//! `model.safetensors` (or the shards of `model.safetensors.index.json`), tensors widened to f32.
//!
//! Tensor order and dtype handling follow llama.cpp `conversion/base.py` (`index_tensors`,
//! `prepare_tensors`): shards in sorted file-name order, each shard's tensors in sorted name
//! order; BF16 and F16 are widened to f32 exactly before any conversion.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

use crate::error::{Error, Result};

/// One memory-mapped safetensors shard.
struct Shard {
    path: PathBuf,
    map: Mmap,
}

/// An opened HF checkpoint directory.
pub struct HfCheckpoint {
    dir: PathBuf,
    config: Value,
    shards: Vec<Shard>,
    /// Tensor name -> (shard index, dtype, shape), in conversion order.
    order: Vec<String>,
    index: BTreeMap<String, (usize, Dtype, Vec<usize>)>,
}

impl std::fmt::Debug for HfCheckpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfCheckpoint")
            .field("dir", &self.dir)
            .field("shards", &self.shards.len())
            .field("tensors", &self.order.len())
            .finish()
    }
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::checkpoint(path, format!("invalid JSON: {e}")))
}

impl HfCheckpoint {
    /// Opens `dir`: parses `config.json` and every shard's header (no tensor data is read).
    pub fn open(dir: &Path) -> Result<Self> {
        let config = read_json(&dir.join("config.json"))?;
        let index_path = dir.join("model.safetensors.index.json");
        let mut files: Vec<PathBuf> = if index_path.is_file() {
            let index = read_json(&index_path)?;
            let map = index
                .get("weight_map")
                .and_then(Value::as_object)
                .ok_or_else(|| Error::checkpoint(&index_path, "no weight_map object"))?;
            let mut parts: Vec<String> = map
                .values()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        Error::checkpoint(&index_path, "weight_map values must be file names")
                    })
                })
                .collect::<Result<_>>()?;
            parts.sort();
            parts.dedup();
            parts.iter().map(|p| dir.join(p)).collect()
        } else {
            vec![dir.join("model.safetensors")]
        };
        files.sort();
        let mut shards = Vec::new();
        let mut order = Vec::new();
        let mut index = BTreeMap::new();
        for path in files {
            let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
            let map = map_file(&file, &path)?;
            let st = SafeTensors::deserialize(&map).map_err(|e| Error::Safetensors {
                path: path.clone(),
                source: e,
            })?;
            let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
            names.sort();
            for name in names {
                let view = st.tensor(&name).map_err(|e| Error::Safetensors {
                    path: path.clone(),
                    source: e,
                })?;
                if index
                    .insert(
                        name.clone(),
                        (shards.len(), view.dtype(), view.shape().to_vec()),
                    )
                    .is_some()
                {
                    return Err(Error::checkpoint(
                        &path,
                        format!("tensor {name} appears in more than one shard"),
                    ));
                }
                order.push(name);
            }
            shards.push(Shard { path, map });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            shards,
            order,
            index,
        })
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed `config.json`.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Tensor names in conversion order (shards sorted, names sorted within a shard).
    pub fn names(&self) -> &[String] {
        &self.order
    }

    /// The HF shape of tensor `name`, if present.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.index.get(name).map(|(_, _, s)| s.as_slice())
    }

    /// The source dtype of tensor `name`, if present.
    pub fn dtype(&self, name: &str) -> Option<Dtype> {
        self.index.get(name).map(|(_, d, _)| *d)
    }

    /// Tensor `name` widened to f32 (exact for F16 and BF16), row-major in its HF shape.
    pub fn tensor_f32(&self, name: &str) -> Result<Vec<f32>> {
        let (shard, _, _) = self
            .index
            .get(name)
            .ok_or_else(|| Error::MissingTensor(name.to_string()))?;
        let shard = &self.shards[*shard];
        let st = SafeTensors::deserialize(&shard.map).map_err(|e| Error::Safetensors {
            path: shard.path.clone(),
            source: e,
        })?;
        let view = st.tensor(name).map_err(|e| Error::Safetensors {
            path: shard.path.clone(),
            source: e,
        })?;
        let bytes = view.data();
        let widen16 = |f: fn(u16) -> f32| -> Vec<f32> {
            bytes
                .chunks_exact(2)
                .map(|b| f(u16::from_le_bytes([b[0], b[1]])))
                .collect()
        };
        Ok(match view.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::BF16 => widen16(|b| half::bf16::from_bits(b).to_f32()),
            Dtype::F16 => widen16(|b| half::f16::from_bits(b).to_f32()),
            other => {
                return Err(Error::checkpoint(
                    &shard.path,
                    format!("tensor {name} has dtype {other:?}; only F32, F16 and BF16 export"),
                ));
            }
        })
    }
}

fn map_file(file: &File, path: &Path) -> Result<Mmap> {
    crate::reader::map(file).map_err(|e| Error::io(path, e))
}
