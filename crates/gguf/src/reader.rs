//! GGUF v2/v3 reader: header, metadata, tensor infos and memory-mapped tensor data.
//!
//! Follows the format in llama.cpp `ggml/include/gguf.h` and the checks of
//! `gguf_init_from_file_impl` (`ggml/src/gguf.cpp`); gguf-py `gguf_reader.py` is the Python
//! twin. Like candle's `quantized/gguf_file.rs` it treats the file as hostile: every count is
//! checked against the bytes left before anything is allocated, sizes are overflow-checked and
//! every tensor must lie inside the file, so corrupt input gives an [`Error`], never a panic.

use std::collections::HashMap;
use std::path::Path;

use cogumi_quant::GgmlType;

use crate::error::{Error, Result};
use crate::metadata::Metadata;
use crate::value::{Array, Value, ValueType};

/// The `GGUF` magic.
pub const MAGIC: [u8; 4] = *b"GGUF";
/// Alignment used when `general.alignment` is absent (`GGUF_DEFAULT_ALIGNMENT`).
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// Most dimensions a tensor may have (`GGML_MAX_DIMS`).
pub const MAX_DIMS: usize = 4;
/// Longest tensor name, in bytes, excluding the NUL ggml adds (`GGML_MAX_NAME` - 1).
pub const MAX_NAME_LEN: usize = 63;

/// Sanity limits applied on top of "it must fit in the file".
#[derive(Clone, Debug)]
pub struct Limits {
    /// Most tensor infos.
    pub max_tensors: u64,
    /// Most metadata entries.
    pub max_kv: u64,
    /// Longest string, in bytes.
    pub max_string: u64,
    /// Most elements in one array.
    pub max_array: u64,
    /// Deepest array nesting (1 = arrays of scalars only).
    pub max_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tensors: 1 << 20,
            max_kv: 1 << 20,
            max_string: 1 << 26,
            max_array: 1 << 30,
            max_depth: 4,
        }
    }
}

/// One tensor info, with the sizes derived from it.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    /// Tensor name (`blk.0.attn_q.weight`).
    pub name: String,
    /// Dimensions in ggml order: `ne[0]` is the row length (the reverse of the torch shape).
    pub ne: Vec<u64>,
    /// Element type.
    pub ty: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Element count (product of `ne`).
    pub n_elements: u64,
    /// Data bytes.
    pub n_bytes: u64,
}

impl TensorInfo {
    /// The shape in torch / HF order (`ne` reversed).
    pub fn shape(&self) -> Vec<u64> {
        self.ne.iter().rev().copied().collect()
    }

    /// Row length (`ne[0]`), 1 for a scalar.
    pub fn row_len(&self) -> u64 {
        self.ne.first().copied().unwrap_or(1)
    }
}

/// Bytes behind a [`GgufFile`]: a read-only map of the file, or an owned buffer.
enum Backing {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A parsed GGUF file whose tensor data stays in the (mapped) file.
pub struct GgufFile {
    backing: Backing,
    /// Format version (2 or 3).
    pub version: u32,
    /// Metadata in file order.
    pub metadata: Metadata,
    /// Tensor infos in file order.
    pub tensors: Vec<TensorInfo>,
    /// Data alignment (`general.alignment` or 32).
    pub alignment: u64,
    /// Absolute offset of the data section.
    pub data_offset: u64,
    by_name: HashMap<String, usize>,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("version", &self.version)
            .field("n_kv", &self.metadata.len())
            .field("n_tensors", &self.tensors.len())
            .field("alignment", &self.alignment)
            .field("data_offset", &self.data_offset)
            .finish()
    }
}

impl GgufFile {
    /// Maps and parses `path` with the default [`Limits`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, &Limits::default())
    }

    /// Maps and parses `path`.
    pub fn open_with(path: &Path, limits: &Limits) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mmap = map(&file).map_err(|e| Error::io(path, e))?;
        Self::parse(Backing::Mmap(mmap), limits)
    }

    /// Parses an in-memory file (tests, small files) with the default [`Limits`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::parse(Backing::Owned(bytes), &Limits::default())
    }

    /// Parses an in-memory file with explicit limits.
    pub fn from_bytes_with(bytes: Vec<u8>, limits: &Limits) -> Result<Self> {
        Self::parse(Backing::Owned(bytes), limits)
    }

    fn parse(backing: Backing, limits: &Limits) -> Result<Self> {
        let header = parse_header(backing.bytes(), limits)?;
        let by_name = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(GgufFile {
            backing,
            version: header.version,
            metadata: header.metadata,
            tensors: header.tensors,
            alignment: header.alignment,
            data_offset: header.data_offset,
            by_name,
        })
    }

    /// The tensor info named `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.by_name.get(name).map(|&i| &self.tensors[i])
    }

    /// The raw block bytes of a tensor of this file.
    pub fn tensor_data(&self, info: &TensorInfo) -> &[u8] {
        // Bounds were checked against the file length while parsing.
        let start = (self.data_offset + info.offset) as usize;
        &self.backing.bytes()[start..start + info.n_bytes as usize]
    }

    /// The tensor dequantised to `f32`, in ggml element order.
    pub fn tensor_f32(&self, info: &TensorInfo) -> Result<Vec<f32>> {
        cogumi_quant::dequantize_to_vec(info.ty, self.tensor_data(info), info.n_elements as usize)
            .map_err(|source| Error::Quant {
                tensor: info.name.clone(),
                source,
            })
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }
}

#[allow(unsafe_code)]
pub(crate) fn map(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this process. As with every mmap-based model
    // loader (candle, llama.cpp), truncating the file underneath it while mapped is undefined
    // behaviour that callers must avoid; nothing in this crate writes to files it maps.
    unsafe { memmap2::Mmap::map(file) }
}

struct Header {
    version: u32,
    metadata: Metadata,
    tensors: Vec<TensorInfo>,
    alignment: u64,
    data_offset: u64,
}

/// A bounds-checked little-endian cursor.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated {
                what: what(),
                offset: self.pos as u64,
                need: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N as u64, what)?);
        Ok(a)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn string(&mut self, limits: &Limits, what: &dyn Fn() -> String) -> Result<String> {
        let len = self.u64(what)?;
        if len > limits.max_string {
            return Err(Error::Limit {
                what: format!("length of {}", what()),
                value: len,
                max: limits.max_string,
            });
        }
        let offset = self.pos as u64;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Utf8 { offset })
    }

    /// Checks that `count` elements of at least `min` bytes each can fit in what is left.
    fn check_count(&self, count: u64, min: u64, what: &dyn Fn() -> String) -> Result<()> {
        let need = count.saturating_mul(min);
        if need > self.remaining() {
            return Err(Error::Truncated {
                what: what(),
                offset: self.pos as u64,
                need,
                available: self.remaining(),
            });
        }
        Ok(())
    }
}

fn parse_header(buf: &[u8], limits: &Limits) -> Result<Header> {
    let mut c = Cursor { buf, pos: 0 };
    let magic: [u8; 4] = c.array(&|| "magic".into())?;
    if magic != MAGIC {
        return Err(Error::BadMagic(magic));
    }
    let version = c.u32(&|| "version".into())?;
    if version != 2 && version != 3 {
        return Err(Error::UnsupportedVersion(version));
    }
    let n_tensors = c.u64(&|| "tensor count".into())?;
    let n_kv = c.u64(&|| "metadata count".into())?;
    if n_tensors > limits.max_tensors {
        return Err(Error::Limit {
            what: "tensor count".into(),
            value: n_tensors,
            max: limits.max_tensors,
        });
    }
    if n_kv > limits.max_kv {
        return Err(Error::Limit {
            what: "metadata count".into(),
            value: n_kv,
            max: limits.max_kv,
        });
    }
    // A KV entry takes at least 8 (key length) + 4 (type) + 1 bytes.
    c.check_count(n_kv, 13, &|| format!("{n_kv} metadata entries"))?;

    let mut metadata = Metadata::default();
    for i in 0..n_kv {
        let key = c.string(limits, &|| format!("key of metadata entry {i}"))?;
        let type_id = c.u32(&|| format!("type of key {key}"))?;
        let ty = ValueType::from_id(type_id).ok_or_else(|| Error::ValueType {
            key: key.clone(),
            type_id,
        })?;
        let value = read_value(&mut c, ty, &key, limits, 0)?;
        metadata.insert(key, value)?;
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(Value::U32(a)) if a.is_power_of_two() => u64::from(*a),
        Some(v) => return Err(Error::Alignment(v.to_string())),
    };

    // A tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
    c.check_count(n_tensors, 24, &|| format!("{n_tensors} tensor infos"))?;
    let mut tensors: Vec<TensorInfo> = Vec::with_capacity(n_tensors as usize);
    let mut names = HashMap::with_capacity(n_tensors as usize);
    for i in 0..n_tensors {
        let info = read_tensor_info(&mut c, i, limits)?;
        if names.insert(info.name.clone(), i).is_some() {
            return Err(Error::DuplicateTensor(info.name));
        }
        tensors.push(info);
    }

    let data_offset = (c.pos as u64).next_multiple_of(alignment);
    let file_len = buf.len() as u64;
    for t in &tensors {
        if t.offset % alignment != 0 {
            return Err(Error::tensor(
                &t.name,
                format!(
                    "offset {} is not a multiple of the alignment {alignment}",
                    t.offset
                ),
            ));
        }
        let end = data_offset
            .checked_add(t.offset)
            .and_then(|s| s.checked_add(t.n_bytes));
        match end {
            Some(end) if end <= file_len => {}
            _ => {
                return Err(Error::tensor(
                    &t.name,
                    format!(
                        "data [{} + {}, {} bytes) lies outside the {file_len}-byte file",
                        data_offset, t.offset, t.n_bytes
                    ),
                ));
            }
        }
    }
    Ok(Header {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
    })
}

fn read_value(
    c: &mut Cursor<'_>,
    ty: ValueType,
    key: &str,
    limits: &Limits,
    depth: u32,
) -> Result<Value> {
    let what = || format!("value of key {key}");
    Ok(match ty {
        ValueType::U8 => Value::U8(c.array::<1>(&what)?[0]),
        ValueType::I8 => Value::I8(c.array::<1>(&what)?[0] as i8),
        ValueType::U16 => Value::U16(u16::from_le_bytes(c.array(&what)?)),
        ValueType::I16 => Value::I16(i16::from_le_bytes(c.array(&what)?)),
        ValueType::U32 => Value::U32(c.u32(&what)?),
        ValueType::I32 => Value::I32(i32::from_le_bytes(c.array(&what)?)),
        ValueType::F32 => Value::F32(f32::from_le_bytes(c.array(&what)?)),
        ValueType::Bool => Value::Bool(c.array::<1>(&what)?[0] != 0),
        ValueType::String => Value::String(c.string(limits, &what)?),
        ValueType::Array => Value::Array(read_array(c, key, limits, depth + 1)?),
        ValueType::U64 => Value::U64(c.u64(&what)?),
        ValueType::I64 => Value::I64(i64::from_le_bytes(c.array(&what)?)),
        ValueType::F64 => Value::F64(f64::from_le_bytes(c.array(&what)?)),
    })
}

fn read_array(c: &mut Cursor<'_>, key: &str, limits: &Limits, depth: u32) -> Result<Array> {
    if depth > limits.max_depth {
        return Err(Error::Limit {
            what: format!("array nesting of key {key}"),
            value: depth.into(),
            max: limits.max_depth.into(),
        });
    }
    let type_id = c.u32(&|| format!("array type of key {key}"))?;
    let ty = ValueType::from_id(type_id).ok_or_else(|| Error::ValueType {
        key: key.to_string(),
        type_id,
    })?;
    let n = c.u64(&|| format!("array length of key {key}"))?;
    if n > limits.max_array {
        return Err(Error::Limit {
            what: format!("array length of key {key}"),
            value: n,
            max: limits.max_array,
        });
    }
    let what = || format!("{n} array elements of key {key}");
    c.check_count(n, ty.min_size(), &what)?;
    let n = n as usize;
    macro_rules! fixed {
        ($t:ty, $v:ident) => {{
            const W: usize = std::mem::size_of::<$t>();
            let bytes = c.take((n * W) as u64, &what)?;
            Array::$v(
                bytes
                    .chunks_exact(W)
                    .map(|b| <$t>::from_le_bytes(b.try_into().unwrap_or([0; W])))
                    .collect(),
            )
        }};
    }
    Ok(match ty {
        ValueType::U8 => Array::U8(c.take(n as u64, &what)?.to_vec()),
        ValueType::I8 => Array::I8(c.take(n as u64, &what)?.iter().map(|&b| b as i8).collect()),
        ValueType::Bool => Array::Bool(c.take(n as u64, &what)?.iter().map(|&b| b != 0).collect()),
        ValueType::U16 => fixed!(u16, U16),
        ValueType::I16 => fixed!(i16, I16),
        ValueType::U32 => fixed!(u32, U32),
        ValueType::I32 => fixed!(i32, I32),
        ValueType::F32 => fixed!(f32, F32),
        ValueType::U64 => fixed!(u64, U64),
        ValueType::I64 => fixed!(i64, I64),
        ValueType::F64 => fixed!(f64, F64),
        ValueType::String => {
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(c.string(limits, &|| format!("element {i} of key {key}"))?);
            }
            Array::String(v)
        }
        ValueType::Array => {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(read_array(c, key, limits, depth + 1)?);
            }
            Array::Array(v)
        }
    })
}

fn read_tensor_info(c: &mut Cursor<'_>, i: u64, limits: &Limits) -> Result<TensorInfo> {
    let name = c.string(limits, &|| format!("name of tensor {i}"))?;
    if name.len() > MAX_NAME_LEN {
        return Err(Error::tensor(
            &name,
            format!(
                "name is {} bytes long, the limit is {MAX_NAME_LEN}",
                name.len()
            ),
        ));
    }
    let n_dims = c.u32(&|| format!("n_dims of tensor {name}"))? as usize;
    if n_dims > MAX_DIMS {
        return Err(Error::tensor(
            &name,
            format!("{n_dims} dimensions, at most {MAX_DIMS} allowed"),
        ));
    }
    let mut ne = Vec::with_capacity(n_dims);
    for d in 0..n_dims {
        let v = i64::from_le_bytes(c.array(&|| format!("ne[{d}] of tensor {name}"))?);
        let v = u64::try_from(v)
            .map_err(|_| Error::tensor(&name, format!("negative dimension ne[{d}] = {v}")))?;
        ne.push(v);
    }
    let type_id = c.u32(&|| format!("type of tensor {name}"))?;
    let ty = GgmlType::from_id(type_id)
        .ok_or_else(|| Error::tensor(&name, format!("unknown ggml type {type_id}")))?;
    let offset = c.u64(&|| format!("offset of tensor {name}"))?;

    // ggml keeps element counts in int64_t.
    let n_elements = ne
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or_else(|| Error::tensor(&name, format!("element count of shape {ne:?} overflows")))?;
    let row = ne.first().copied().unwrap_or(1);
    let block = ty.block_size() as u64;
    if row % block != 0 {
        return Err(Error::tensor(
            &name,
            format!("row length {row} is not a multiple of the {ty} block size {block}"),
        ));
    }
    let n_bytes = (n_elements / block)
        .checked_mul(ty.type_size() as u64)
        .ok_or_else(|| Error::tensor(&name, format!("byte size of shape {ne:?} overflows")))?;
    Ok(TensorInfo {
        name,
        ne,
        ty,
        offset,
        n_elements,
        n_bytes,
    })
}
