//! Packing: the index format (`pack.json`), segmentation of safetensors files, chunked and
//! parallel zstd compression, the optional dictionary, and the comparison with plain zstd.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::planes::{self, Layout};

/// Original bytes per chunk (each chunk's planes are separate frames).
pub(crate) const CHUNK: usize = 4 << 20;
/// Chunks compressed at once (bounds memory to about `BATCH · CHUNK · 2`).
const BATCH: usize = 8;
/// Plane frame tags (first byte): stored, zstd, rANS.
pub(crate) const TAG_RAW: u8 = 0;
/// See [`TAG_RAW`].
pub(crate) const TAG_ZSTD: u8 = 1;
/// See [`TAG_RAW`].
pub(crate) const TAG_RANS: u8 = 2;
/// Index file name.
pub(crate) const INDEX: &str = "pack.json";
/// Dictionary file name.
pub(crate) const DICT: &str = "dict.zstd";

/// Packing settings.
#[derive(Debug, Clone, Serialize)]
pub struct PackOptions {
    /// zstd level (1–22).
    pub level: i32,
    /// Train a dictionary (`dict_size` bytes) on the non-tensor bytes and use it for them.
    pub dict: bool,
    /// Dictionary size in bytes.
    pub dict_size: usize,
    /// Also compress every file with plain zstd at the same level, for the report.
    pub compare_plain: bool,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            level: 3,
            dict: false,
            dict_size: 128 << 10,
            compare_plain: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Index {
    pub format: String,
    pub version: u32,
    pub level: i32,
    pub dict: Option<String>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    pub data: String,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Segment {
    pub layout: Option<Layout>,
    pub bytes: u64,
    pub chunks: Vec<Chunk>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Chunk {
    pub bytes: u64,
    pub frames: Vec<u64>,
}

/// What packing did to one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Path relative to the packed directory.
    pub path: String,
    /// Original bytes.
    pub bytes: u64,
    /// Packed bytes (its data file).
    pub packed: u64,
    /// `bytes / packed`.
    pub ratio: f64,
    /// Plain zstd at the same level, when compared.
    pub plain_zstd: Option<u64>,
    /// `bytes / plain_zstd`.
    pub plain_ratio: Option<f64>,
    /// Bytes that went through byte-plane grouping.
    pub plane_bytes: u64,
}

/// What [`pack_dir`] did.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// Per file.
    pub files: Vec<FileReport>,
    /// Original bytes in all.
    pub bytes: u64,
    /// Packed bytes in all (data, index and dictionary).
    pub packed: u64,
    /// `bytes / packed`.
    pub ratio: f64,
    /// Plain zstd of every file at the same level, when compared.
    pub plain_zstd: Option<u64>,
    /// `bytes / plain_zstd`.
    pub plain_ratio: Option<f64>,
    /// Dictionary size, when one was trained.
    pub dict_bytes: Option<u64>,
}

/// The segments of one file: `(layout, offset, length)` in file order.
fn segments_of(path: &Path, len: u64) -> Result<Vec<(Option<Layout>, u64, u64)>> {
    let raw = vec![(None, 0, len)];
    if path.extension().is_none_or(|e| e != "safetensors") || len < 8 {
        return Ok(raw);
    }
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut n = [0u8; 8];
    f.read_exact(&mut n).map_err(|e| Error::io(path, e))?;
    let hlen = u64::from_le_bytes(n);
    if hlen > len - 8 || hlen > 100 << 20 {
        return Ok(raw);
    }
    let mut header = vec![0u8; hlen as usize];
    f.read_exact(&mut header).map_err(|e| Error::io(path, e))?;
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&header) else {
        return Ok(raw);
    };
    let start = 8 + hlen;
    let mut tensors: Vec<(Option<Layout>, u64, u64)> = Vec::new();
    for (name, v) in &map {
        if name == "__metadata__" {
            continue;
        }
        let (Some(dtype), Some(off)) = (
            v.get("dtype").and_then(|d| d.as_str()),
            v.get("data_offsets").and_then(|o| o.as_array()),
        ) else {
            return Ok(raw);
        };
        let (Some(a), Some(b)) = (
            off.first().and_then(|x| x.as_u64()),
            off.get(1).and_then(|x| x.as_u64()),
        ) else {
            return Ok(raw);
        };
        let layout = match dtype {
            "BF16" => Some(Layout::Bf16),
            "F16" => Some(Layout::F16),
            "F32" => Some(Layout::F32),
            _ => None,
        };
        tensors.push((layout, start + a, b.saturating_sub(a)));
    }
    tensors.sort_by_key(|t| t.1);
    // Header, then tensors, with any gap or tail as raw bytes; give up on overlaps.
    let mut out = vec![(None, 0, start)];
    let mut at = start;
    for (layout, off, n) in tensors {
        if off < at || off + n > len {
            return Ok(raw);
        }
        if off > at {
            out.push((None, at, off - at));
        }
        let layout = layout.filter(|l| n % l.width() as u64 == 0);
        out.push((layout, off, n));
        at = off + n;
    }
    if at < len {
        out.push((None, at, len - at));
    }
    Ok(out)
}

/// A zstd compressor for byte planes, the alternative to rANS ([`crate::rans`]) for planes with
/// long repeats: exponent planes are low-entropy but have few long matches, so zstd's fast
/// strategy with a long minimum match (almost everything left to Huffman-coded literals) is
/// both faster and smaller than level 3 on them (2.80 vs 3.28 bits per exponent on SmolLM2 in
/// BF16; entropy 2.66, which rANS reaches).
fn plane_compressor() -> std::io::Result<zstd::bulk::Compressor<'static>> {
    use zstd::zstd_safe::{CParameter, Strategy};
    let mut c = zstd::bulk::Compressor::new(1)?;
    c.set_parameter(CParameter::Strategy(Strategy::ZSTD_fast))?;
    c.set_parameter(CParameter::MinMatch(7))?;
    c.set_parameter(CParameter::WindowLog(17))?;
    c.set_parameter(CParameter::HashLog(12))?;
    c.set_parameter(CParameter::SearchLog(1))?;
    Ok(c)
}

/// Compresses one chunk: a frame per plane, or one frame.
fn compress_chunk(
    layout: Option<Layout>,
    data: &[u8],
    level: i32,
    dict: Option<&[u8]>,
) -> std::io::Result<Vec<Vec<u8>>> {
    match layout {
        Some(l) => {
            let mut c = plane_compressor()?;
            planes::split(l, data)
                .iter()
                .map(|p| {
                    // The smallest of rANS, zstd and the raw plane, behind a one-byte tag.
                    let z = c.compress(p)?;
                    let r = crate::rans::encode(p);
                    let (tag, body) = if r.len() <= z.len() && r.len() < p.len() {
                        (TAG_RANS, r)
                    } else if z.len() < p.len() {
                        (TAG_ZSTD, z)
                    } else {
                        (TAG_RAW, p.clone())
                    };
                    let mut f = Vec::with_capacity(body.len() + 1);
                    f.push(tag);
                    f.extend_from_slice(&body);
                    Ok(f)
                })
                .collect()
        }
        None => match dict {
            Some(d) => Ok(vec![
                zstd::bulk::Compressor::with_dictionary(level, d)?.compress(data)?,
            ]),
            None => Ok(vec![zstd::bulk::compress(data, level)?]),
        },
    }
}

/// All files under `dir`, relative, sorted.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).expect("under root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Samples of the raw (non-plane) bytes of every file, for dictionary training.
fn dictionary_samples(src: &Path, files: &[String]) -> Result<Vec<Vec<u8>>> {
    let mut samples = Vec::new();
    for rel in files {
        let path = src.join(rel);
        let len = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        let mut f = File::open(&path).map_err(|e| Error::io(&path, e))?;
        for (layout, off, n) in segments_of(&path, len)? {
            if layout.is_some() {
                continue;
            }
            // Up to 256 KiB per segment, in 4 KiB samples.
            f.seek(SeekFrom::Start(off))
                .map_err(|e| Error::io(&path, e))?;
            let mut buf = vec![0u8; n.min(256 << 10) as usize];
            f.read_exact(&mut buf).map_err(|e| Error::io(&path, e))?;
            samples.extend(buf.chunks(4096).map(<[u8]>::to_vec));
        }
    }
    Ok(samples)
}

/// Packs every file under `src` into the directory `dst` (created; should be empty).
pub fn pack_dir(src: &Path, dst: &Path, opts: &PackOptions) -> Result<PackReport> {
    let _span = tracing::info_span!("pack", src = %src.display()).entered();
    std::fs::create_dir_all(dst.join("data")).map_err(|e| Error::io(dst, e))?;
    let files = list_files(src)?;
    let dict = if opts.dict {
        // zstd wants about 100x the dictionary size in samples; with under 10x a dictionary
        // cannot pay for itself, so the pack goes without one.
        let samples = dictionary_samples(src, &files)?;
        let total: usize = samples.iter().map(Vec::len).sum();
        let trained = if total < 10 * opts.dict_size {
            tracing::warn!(
                sample_bytes = total,
                "too few non-tensor bytes for a dictionary; packing without one"
            );
            None
        } else {
            zstd::dict::from_samples(&samples, opts.dict_size)
                .inspect_err(
                    |e| tracing::warn!(%e, "dictionary training failed; packing without one"),
                )
                .ok()
        };
        if let Some(d) = &trained {
            std::fs::write(dst.join(DICT), d).map_err(|e| Error::io(dst.join(DICT), e))?;
        }
        trained
    } else {
        None
    };
    let mut index = Index {
        format: "cogumi-pack".into(),
        version: 2,
        level: opts.level,
        dict: dict.as_ref().map(|_| DICT.to_string()),
        files: Vec::new(),
    };
    let mut reports = Vec::new();
    for (i, rel) in files.iter().enumerate() {
        let path = src.join(rel);
        let data_rel = format!("data/{i}.bin");
        let (entry, report) = pack_file(
            &path,
            rel,
            &dst.join(&data_rel),
            &data_rel,
            opts,
            dict.as_deref(),
        )?;
        index.files.push(entry);
        reports.push(report);
    }
    let json = serde_json::to_vec_pretty(&index).expect("index serialises");
    std::fs::write(dst.join(INDEX), &json).map_err(|e| Error::io(dst.join(INDEX), e))?;
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    let dict_bytes = dict.as_ref().map(|d| d.len() as u64);
    let packed: u64 =
        reports.iter().map(|r| r.packed).sum::<u64>() + json.len() as u64 + dict_bytes.unwrap_or(0);
    let plain_zstd = opts
        .compare_plain
        .then(|| reports.iter().filter_map(|r| r.plain_zstd).sum::<u64>());
    Ok(PackReport {
        bytes,
        packed,
        ratio: bytes as f64 / packed.max(1) as f64,
        plain_ratio: plain_zstd.map(|p| bytes as f64 / p.max(1) as f64),
        plain_zstd,
        dict_bytes,
        files: reports,
    })
}

fn pack_file(
    path: &Path,
    rel: &str,
    out: &Path,
    data_rel: &str,
    opts: &PackOptions,
    dict: Option<&[u8]>,
) -> Result<(FileEntry, FileReport)> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let segs = segments_of(path, len)?;
    let mut reader =
        BufReader::with_capacity(1 << 20, File::open(path).map_err(|e| Error::io(path, e))?);
    let mut writer = BufWriter::new(File::create(out).map_err(|e| Error::io(out, e))?);
    let mut sha = Sha256::new();
    let mut plain = opts
        .compare_plain
        .then(|| zstd::stream::Encoder::new(CountingSink(0), opts.level))
        .transpose()
        .map_err(|e| Error::io(path, e))?;
    let (mut packed, mut plane_bytes) = (0u64, 0u64);
    let mut segments = Vec::new();
    for (layout, _off, n) in segs {
        let width = layout.map_or(1, Layout::width);
        let chunk_len = CHUNK - CHUNK % width;
        let mut chunks = Vec::new();
        let mut left = n;
        while left > 0 {
            // Read up to BATCH chunks, compress them in parallel, write in order.
            let mut batch = Vec::new();
            while left > 0 && batch.len() < BATCH {
                let take = left.min(chunk_len as u64) as usize;
                let mut buf = vec![0u8; take];
                reader
                    .read_exact(&mut buf)
                    .map_err(|e| Error::io(path, e))?;
                sha.update(&buf);
                if let Some(enc) = plain.as_mut() {
                    enc.write_all(&buf).map_err(|e| Error::io(path, e))?;
                }
                left -= take as u64;
                batch.push(buf);
            }
            let frames: Vec<Vec<Vec<u8>>> = batch
                .par_iter()
                .map(|b| compress_chunk(layout, b, opts.level, dict))
                .collect::<std::io::Result<_>>()
                .map_err(|e| Error::io(path, e))?;
            for (b, fs) in batch.iter().zip(frames) {
                for f in &fs {
                    writer.write_all(f).map_err(|e| Error::io(out, e))?;
                    packed += f.len() as u64;
                }
                if layout.is_some() {
                    plane_bytes += b.len() as u64;
                }
                chunks.push(Chunk {
                    bytes: b.len() as u64,
                    frames: fs.iter().map(|f| f.len() as u64).collect(),
                });
            }
        }
        segments.push(Segment {
            layout,
            bytes: n,
            chunks,
        });
    }
    writer.flush().map_err(|e| Error::io(out, e))?;
    let plain_zstd = match plain {
        Some(enc) => Some(enc.finish().map_err(|e| Error::io(path, e))?.0),
        None => None,
    };
    let entry = FileEntry {
        path: rel.to_string(),
        bytes: len,
        sha256: hex::encode(sha.finalize()),
        data: data_rel.to_string(),
        segments,
    };
    let report = FileReport {
        path: rel.to_string(),
        bytes: len,
        packed,
        ratio: len as f64 / packed.max(1) as f64,
        plain_ratio: plain_zstd.map(|p| len as f64 / p.max(1) as f64),
        plain_zstd,
        plane_bytes,
    };
    tracing::debug!(file = rel, ratio = report.ratio, "packed");
    Ok((entry, report))
}

/// A writer that only counts bytes (plain zstd's output size).
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The path of a packed directory's index.
pub(crate) fn index_path(packed: &Path) -> PathBuf {
    packed.join(INDEX)
}
