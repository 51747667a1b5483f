//! GGUF v3 writer: metadata, tensor infos, then the tensor blobs, contiguous and in info order.
//!
//! Follows `gguf_write_to_buf` / `gguf_writer_base::write` in llama.cpp `ggml/src/gguf.cpp` and
//! gguf-py `gguf_writer.py`: little-endian, blobs zero-padded to the alignment (32 unless a
//! `general.alignment` entry says otherwise), offsets relative to the data section and equal to
//! the running padded sum, which is what the strict current llama.cpp reader requires
//! (gguf.md §1).

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use cogumi_quant::GgmlType;

use crate::error::{Error, Result};
use crate::reader::{DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS, MAX_NAME_LEN};
use crate::value::{Array, Value};

struct PendingTensor {
    name: String,
    ty: GgmlType,
    ne: Vec<u64>,
    /// The encoded blocks, or `None` for a tensor whose bytes are produced while writing
    /// ([`GgufWriter::write_streaming`]).
    data: Option<Vec<u8>>,
    n_bytes: u64,
}

/// Collects metadata and tensors, then writes a GGUF v3 file.
#[derive(Default)]
pub struct GgufWriter {
    kvs: Vec<(String, Value)>,
    keys: HashSet<String>,
    tensors: Vec<PendingTensor>,
    names: HashSet<String>,
}

impl std::fmt::Debug for GgufWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufWriter")
            .field("n_kv", &self.kvs.len())
            .field("n_tensors", &self.tensors.len())
            .finish()
    }
}

impl GgufWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a metadata entry; keys must be unique.
    pub fn add_kv(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Result<()> {
        let key = key.into();
        let value = value.into();
        if key == "general.alignment" && !matches!(value, Value::U32(a) if a.is_power_of_two()) {
            return Err(Error::Alignment(value.to_string()));
        }
        if !self.keys.insert(key.clone()) {
            return Err(Error::DuplicateKey(key));
        }
        self.kvs.push((key, value));
        Ok(())
    }

    /// Appends a tensor: `ne` in ggml order (row length first), `data` its encoded blocks.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        ty: GgmlType,
        ne: &[u64],
        data: Vec<u8>,
    ) -> Result<()> {
        let name = name.into();
        let want = self.check_tensor(&name, ty, ne)?;
        if data.len() as u64 != want {
            return Err(Error::tensor(
                &name,
                format!("{ty} {ne:?} needs {want} bytes, got {}", data.len()),
            ));
        }
        self.push(name, ty, ne, Some(data), want)
    }

    /// Declares a tensor whose bytes [`GgufWriter::write_streaming`] asks for when it reaches
    /// it, so a file larger than memory can be written. Returns the byte count it must get.
    pub fn add_tensor_info(
        &mut self,
        name: impl Into<String>,
        ty: GgmlType,
        ne: &[u64],
    ) -> Result<u64> {
        let name = name.into();
        let want = self.check_tensor(&name, ty, ne)?;
        self.push(name, ty, ne, None, want)?;
        Ok(want)
    }

    fn push(
        &mut self,
        name: String,
        ty: GgmlType,
        ne: &[u64],
        data: Option<Vec<u8>>,
        n_bytes: u64,
    ) -> Result<()> {
        if !self.names.insert(name.clone()) {
            return Err(Error::DuplicateTensor(name));
        }
        self.tensors.push(PendingTensor {
            name,
            ty,
            ne: ne.to_vec(),
            data,
            n_bytes,
        });
        Ok(())
    }

    /// Validates a tensor's name, shape and type; returns its encoded size in bytes.
    fn check_tensor(&self, name: &str, ty: GgmlType, ne: &[u64]) -> Result<u64> {
        if name.len() > MAX_NAME_LEN {
            return Err(Error::tensor(
                name,
                format!("name longer than {MAX_NAME_LEN} bytes"),
            ));
        }
        if ne.len() > MAX_DIMS {
            return Err(Error::tensor(
                name,
                format!("{} dimensions, at most {MAX_DIMS} allowed", ne.len()),
            ));
        }
        let n = ne
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .and_then(|n| usize::try_from(n).ok());
        let n =
            n.ok_or_else(|| Error::tensor(name, format!("element count of {ne:?} overflows")))?;
        if ne.first().is_some_and(|&r| r % ty.block_size() as u64 != 0) {
            return Err(Error::tensor(
                name,
                format!(
                    "row length {} is not a multiple of the {ty} block size",
                    ne[0]
                ),
            ));
        }
        let want = ty.row_bytes(n).map_err(|source| Error::Quant {
            tensor: name.to_string(),
            source,
        })?;
        Ok(want as u64)
    }

    /// Tensors declared with [`GgufWriter::add_tensor_info`] (whose bytes are streamed).
    pub fn streamed_count(&self) -> usize {
        self.tensors.iter().filter(|t| t.data.is_none()).count()
    }

    fn alignment(&self) -> u64 {
        self.kvs
            .iter()
            .find_map(|(k, v)| match (k.as_str(), v) {
                ("general.alignment", Value::U32(a)) => Some(u64::from(*a)),
                _ => None,
            })
            .unwrap_or(DEFAULT_ALIGNMENT)
    }

    /// Serialises the file into `w`; every tensor must have been given its bytes.
    pub fn write_to(&self, w: impl Write) -> Result<()> {
        self.write_streaming(w, |i, _| {
            Err(Error::tensor(
                &self.tensors[i].name,
                "declared with add_tensor_info but write_to has no bytes for it",
            ))
        })
    }

    /// Serialises the file into `w`, calling `produce(index, out)` for each tensor declared
    /// with [`GgufWriter::add_tensor_info`] (in declaration order, `out` cleared) to get its
    /// bytes, so only one tensor's encoding is in memory at a time.
    pub fn write_streaming(
        &self,
        mut w: impl Write,
        mut produce: impl FnMut(usize, &mut Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        let align = self.alignment();
        w.write_all(&self.header(align)).map_err(Error::Write)?;
        let zeros = vec![0u8; align as usize];
        let mut buf = Vec::new();
        for (i, t) in self.tensors.iter().enumerate() {
            let data = match &t.data {
                Some(d) => d.as_slice(),
                None => {
                    buf.clear();
                    produce(i, &mut buf)?;
                    if buf.len() as u64 != t.n_bytes {
                        return Err(Error::tensor(
                            &t.name,
                            format!(
                                "{} {:?} needs {} bytes, the producer gave {}",
                                t.ty,
                                t.ne,
                                t.n_bytes,
                                buf.len()
                            ),
                        ));
                    }
                    buf.as_slice()
                }
            };
            w.write_all(data).map_err(Error::Write)?;
            let pad = t.n_bytes.next_multiple_of(align) - t.n_bytes;
            w.write_all(&zeros[..pad as usize]).map_err(Error::Write)?;
        }
        w.flush().map_err(Error::Write)
    }

    /// Magic, counts, metadata and tensor infos, zero-padded to the alignment.
    fn header(&self, align: u64) -> Vec<u8> {
        let mut head = Vec::new();
        head.extend_from_slice(&MAGIC);
        head.extend_from_slice(&3u32.to_le_bytes());
        head.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        head.extend_from_slice(&(self.kvs.len() as u64).to_le_bytes());
        for (k, v) in &self.kvs {
            put_str(&mut head, k);
            head.extend_from_slice(&(v.value_type() as u32).to_le_bytes());
            put_value(&mut head, v);
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            put_str(&mut head, &t.name);
            head.extend_from_slice(&(t.ne.len() as u32).to_le_bytes());
            for &d in &t.ne {
                head.extend_from_slice(&d.to_le_bytes());
            }
            head.extend_from_slice(&t.ty.id().to_le_bytes());
            head.extend_from_slice(&offset.to_le_bytes());
            offset += t.n_bytes.next_multiple_of(align);
        }
        head.resize((head.len() as u64).next_multiple_of(align) as usize, 0);
        head
    }

    /// Writes the file to `path`.
    pub fn write_file(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = std::io::BufWriter::new(file);
        self.write_to(&mut w).map_err(|e| match e {
            Error::Write(source) => Error::io(path, source),
            other => other,
        })
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_str(out, s),
        Value::Array(a) => put_array(out, a),
        Value::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

fn put_array(out: &mut Vec<u8>, a: &Array) {
    out.extend_from_slice(&(a.elem_type() as u32).to_le_bytes());
    out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    macro_rules! each {
        ($v:expr) => {
            for x in $v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
    }
    match a {
        Array::U8(v) => out.extend_from_slice(v),
        Array::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
        Array::Bool(v) => out.extend(v.iter().map(|&x| u8::from(x))),
        Array::U16(v) => each!(v),
        Array::I16(v) => each!(v),
        Array::U32(v) => each!(v),
        Array::I32(v) => each!(v),
        Array::F32(v) => each!(v),
        Array::U64(v) => each!(v),
        Array::I64(v) => each!(v),
        Array::F64(v) => each!(v),
        Array::String(v) => v.iter().for_each(|s| put_str(out, s)),
        Array::Array(v) => v.iter().for_each(|inner| put_array(out, inner)),
    }
}
