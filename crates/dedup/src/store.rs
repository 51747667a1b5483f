//! Storage of per-group band keys and shingle sets, in memory or spilled to
//! temporary files once a memory budget is exceeded.
//!
//! In memory, band keys are kept band-major (`keys[band][node]`) and shingle sets
//! as one flat array with offsets. On disk, band keys are `(key, node)` records
//! partitioned by band and by the key's top bits, so all members of one bucket land
//! in one partition and each partition can be sorted on its own; shingle sets are
//! appended to one file and read back with positioned reads. Both layouts yield the
//! same buckets, hence the same candidate pairs and the same result.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Sub-partitions per band on disk, selected by the key's top bits.
const SUB_PARTITIONS: usize = 16;
const SUB_SHIFT: u32 = 64 - SUB_PARTITIONS.trailing_zeros();
/// Bytes of one on-disk band-key record: `key: u64` then `node: u32`, little-endian.
const RECORD: usize = 12;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

struct Spill {
    dir: tempfile::TempDir,
    parts: Vec<BufWriter<File>>,
    shingles: BufWriter<File>,
}

impl Spill {
    fn part_path(dir: &Path, i: usize) -> PathBuf {
        dir.join(format!("bands-{i:05}.bin"))
    }

    fn shingle_path(dir: &Path) -> PathBuf {
        dir.join("shingles.bin")
    }
}

/// Band keys and shingle sets of every node (exact-duplicate group).
pub(crate) struct Store {
    bands: usize,
    budget: Option<u64>,
    spill_root: Option<PathBuf>,
    /// Memory mode: `keys[band][node]`.
    keys: Vec<Vec<u64>>,
    /// Memory mode: all shingle sets back to back.
    shingles: Vec<u64>,
    /// Offsets (in `u64` units) of each node's set; always in memory.
    offsets: Vec<u64>,
    spill: Option<Spill>,
    /// Nodes pushed so far.
    nodes: u32,
}

impl Store {
    pub(crate) fn new(bands: usize, budget: Option<u64>, spill_root: Option<PathBuf>) -> Self {
        Self {
            bands,
            budget,
            spill_root,
            keys: vec![Vec::new(); bands],
            shingles: Vec::new(),
            offsets: vec![0],
            spill: None,
            nodes: 0,
        }
    }

    pub(crate) fn spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// Bytes held in memory by keys and shingle sets (the part the budget limits).
    pub(crate) fn memory_bytes(&self) -> u64 {
        let keys: usize = self.keys.iter().map(Vec::len).sum();
        ((keys + self.shingles.len()) * 8) as u64
    }

    /// Appends node `self.nodes`: its band keys (empty when it has no shingles)
    /// and its shingle set.
    pub(crate) fn push(&mut self, keys: &[u64], set: &[u64]) -> Result<()> {
        let node = self.nodes;
        self.nodes += 1;
        let end = self.offsets[self.offsets.len() - 1] + set.len() as u64;
        self.offsets.push(end);
        match &mut self.spill {
            None => {
                if keys.is_empty() {
                    // Keep band-major arrays dense: no shingles, no bucket.
                    for band in &mut self.keys {
                        band.push(NO_KEY);
                    }
                } else {
                    for (band, &k) in self.keys.iter_mut().zip(keys) {
                        band.push(k);
                    }
                }
                self.shingles.extend_from_slice(set);
            }
            Some(spill) => {
                write_keys(spill, keys, node)?;
                write_set(spill, set)?;
            }
        }
        Ok(())
    }

    /// Spills to disk when over budget. Called between batches.
    pub(crate) fn maybe_spill(&mut self) -> Result<()> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        if self.spill.is_some() || self.memory_bytes() <= budget {
            return Ok(());
        }
        let root = self.spill_root.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("cogumi-dedup-")
            .tempdir_in(&root)
            .map_err(io_err(&root))?;
        let mut parts = Vec::with_capacity(self.bands * SUB_PARTITIONS);
        for i in 0..self.bands * SUB_PARTITIONS {
            let path = Spill::part_path(dir.path(), i);
            parts.push(BufWriter::new(File::create(&path).map_err(io_err(&path))?));
        }
        let spath = Spill::shingle_path(dir.path());
        let shingles = BufWriter::new(File::create(&spath).map_err(io_err(&spath))?);
        let mut spill = Spill {
            dir,
            parts,
            shingles,
        };
        tracing::info!(
            bytes = self.memory_bytes(),
            dir = %spill.dir.path().display(),
            "memory budget exceeded, spilling signatures to disk"
        );
        let mut keys = Vec::with_capacity(self.bands);
        for node in 0..self.nodes {
            keys.clear();
            keys.extend(self.keys.iter().map(|band| band[node as usize]));
            write_keys(&mut spill, &keys, node)?;
        }
        write_set(&mut spill, &self.shingles)?;
        self.keys = vec![Vec::new(); self.bands];
        self.shingles = Vec::new();
        self.spill = Some(spill);
        Ok(())
    }

    /// Calls `f` with the `(key, node)` entries of each partition, sorted by key then node,
    /// and returns its results in partition order. In memory the bands are processed in
    /// parallel; spilled partitions are loaded one at a time (each sorted in parallel), so
    /// memory stays at one partition.
    pub(crate) fn map_partitions<T: Send>(
        &mut self,
        f: impl Fn(&[(u64, u32)]) -> T + Sync,
    ) -> Result<Vec<T>> {
        use rayon::prelude::*;
        match &mut self.spill {
            None => Ok(self
                .keys
                .par_iter()
                .map(|band| {
                    let mut entries: Vec<(u64, u32)> = band
                        .iter()
                        .enumerate()
                        .filter(|&(_, &k)| k != NO_KEY)
                        .map(|(node, &k)| (k, node as u32))
                        .collect();
                    entries.sort_unstable();
                    f(&entries)
                })
                .collect()),
            Some(spill) => {
                for w in &mut spill.parts {
                    w.flush().map_err(io_err(spill.dir.path()))?;
                }
                let mut bytes = Vec::new();
                let mut entries: Vec<(u64, u32)> = Vec::new();
                let mut out = Vec::with_capacity(spill.parts.len());
                for i in 0..spill.parts.len() {
                    let path = Spill::part_path(spill.dir.path(), i);
                    bytes.clear();
                    File::open(&path)
                        .and_then(|mut file| file.read_to_end(&mut bytes))
                        .map_err(io_err(&path))?;
                    entries.clear();
                    entries.extend(bytes.chunks_exact(RECORD).map(|r| {
                        let mut k = [0u8; 8];
                        let mut n = [0u8; 4];
                        k.copy_from_slice(&r[..8]);
                        n.copy_from_slice(&r[8..]);
                        (u64::from_le_bytes(k), u32::from_le_bytes(n))
                    }));
                    sort_entries(&mut entries);
                    out.push(f(&entries));
                }
                Ok(out)
            }
        }
    }

    /// A reader of shingle sets, usable from many threads.
    pub(crate) fn reader(&mut self) -> Result<SetReader<'_>> {
        match &mut self.spill {
            None => Ok(SetReader::Memory {
                data: &self.shingles,
                offsets: &self.offsets,
            }),
            Some(spill) => {
                let path = Spill::shingle_path(spill.dir.path());
                spill.shingles.flush().map_err(io_err(&path))?;
                let file = File::open(&path).map_err(io_err(&path))?;
                Ok(SetReader::Disk {
                    file,
                    path,
                    offsets: &self.offsets,
                })
            }
        }
    }
}

/// Marks "no key" in memory mode for nodes without shingles. A real key equal to
/// it (probability 2^-64 per band) only makes that band skip one node.
const NO_KEY: u64 = u64::MAX;

/// Sorts by `(key, node)`: an unstable sort by key, then each run of equal keys (a bucket,
/// almost always tiny) by node.
fn sort_entries(entries: &mut [(u64, u32)]) {
    use rayon::slice::ParallelSliceMut;
    entries.par_sort_unstable_by_key(|e| e.0);
    for run in entries.chunk_by_mut(|a, b| a.0 == b.0) {
        if run.len() > 1 {
            run.sort_unstable();
        }
    }
}

fn write_keys(spill: &mut Spill, keys: &[u64], node: u32) -> Result<()> {
    let bands = keys.len();
    for (band, &k) in keys.iter().enumerate() {
        if k == NO_KEY {
            continue;
        }
        let part = band * SUB_PARTITIONS + (k >> SUB_SHIFT) as usize;
        debug_assert!(part < bands * SUB_PARTITIONS);
        let mut rec = [0u8; RECORD];
        rec[..8].copy_from_slice(&k.to_le_bytes());
        rec[8..].copy_from_slice(&node.to_le_bytes());
        spill.parts[part]
            .write_all(&rec)
            .map_err(io_err(spill.dir.path()))?;
    }
    Ok(())
}

fn write_set(spill: &mut Spill, set: &[u64]) -> Result<()> {
    for &h in set {
        spill
            .shingles
            .write_all(&h.to_le_bytes())
            .map_err(io_err(spill.dir.path()))?;
    }
    Ok(())
}

/// Reads shingle sets by node.
pub(crate) enum SetReader<'a> {
    Memory {
        data: &'a [u64],
        offsets: &'a [u64],
    },
    Disk {
        file: File,
        path: PathBuf,
        offsets: &'a [u64],
    },
}

impl SetReader<'_> {
    /// The set of `node`; `buf` holds it when it comes from disk.
    pub(crate) fn get<'b>(&'b self, node: u32, buf: &'b mut Vec<u64>) -> Result<&'b [u64]> {
        match self {
            Self::Memory { data, offsets } => {
                let (s, e) = (offsets[node as usize], offsets[node as usize + 1]);
                Ok(&data[s as usize..e as usize])
            }
            Self::Disk {
                file,
                path,
                offsets,
            } => {
                let (s, e) = (offsets[node as usize], offsets[node as usize + 1]);
                let mut bytes = vec![0u8; ((e - s) * 8) as usize];
                read_exact_at(file, &mut bytes, s * 8).map_err(io_err(path))?;
                buf.clear();
                buf.extend(bytes.chunks_exact(8).map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    u64::from_le_bytes(a)
                }));
                Ok(buf)
            }
        }
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}
