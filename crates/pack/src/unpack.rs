//! Unpacking and verification: frames decompressed in index order, planes merged, every file's
//! SHA-256 recomputed and compared with the one recorded at pack time. Files are written into
//! a temporary directory that is renamed to the destination only when all of them verified.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::format::{DICT, FileEntry, Index, TAG_RANS, TAG_RAW, TAG_ZSTD, index_path};
use crate::planes;

/// What [`unpack`] restored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnpackReport {
    /// Files restored (each verified by SHA-256).
    pub files: usize,
    /// Bytes restored.
    pub bytes: u64,
}

fn read_index(packed: &Path) -> Result<(Index, Option<Vec<u8>>)> {
    let p = index_path(packed);
    let text = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    let index: Index = serde_json::from_slice(&text)
        .map_err(|e| Error::corrupt(&p, format!("not a pack index: {e}")))?;
    if index.format != "cogumi-pack" || index.version != 2 {
        return Err(Error::corrupt(
            &p,
            format!("unknown format {} v{}", index.format, index.version),
        ));
    }
    let dict = match &index.dict {
        Some(name) if name == DICT => {
            let d = packed.join(DICT);
            Some(std::fs::read(&d).map_err(|e| Error::io(&d, e))?)
        }
        Some(other) => return Err(Error::corrupt(&p, format!("unexpected dictionary {other}"))),
        None => None,
    };
    Ok((index, dict))
}

/// Decompresses one file's frames into `out`, returning its SHA-256.
fn restore(
    packed: &Path,
    f: &FileEntry,
    dict: Option<&[u8]>,
    out: &mut dyn Write,
) -> Result<String> {
    let orig = PathBuf::from(&f.path);
    if f.data.contains("..") || !f.data.starts_with("data/") {
        return Err(Error::corrupt(&orig, format!("bad data path {}", f.data)));
    }
    let data = packed.join(&f.data);
    let mut r = BufReader::new(File::open(&data).map_err(|e| Error::io(&data, e))?);
    let mut sha = Sha256::new();
    let mut total = 0u64;
    let frame =
        |r: &mut BufReader<File>, len: u64, cap: usize, dict: Option<&[u8]>| -> Result<Vec<u8>> {
            if len > (1 << 31) {
                return Err(Error::corrupt(&orig, format!("frame of {len} bytes")));
            }
            let mut buf = vec![0u8; len as usize];
            r.read_exact(&mut buf)
                .map_err(|e| Error::corrupt(&orig, format!("truncated data ({e})")))?;
            let out = match dict {
                Some(d) => zstd::bulk::Decompressor::with_dictionary(d)
                    .and_then(|mut z| z.decompress(&buf, cap)),
                None => zstd::bulk::decompress(&buf, cap),
            };
            out.map_err(|e| Error::corrupt(&orig, format!("a frame does not decompress: {e}")))
        };
    // A tagged plane frame: stored, zstd or rANS.
    let plane = |r: &mut BufReader<File>, len: u64, want: usize| -> Result<Vec<u8>> {
        if len == 0 || len > (1 << 31) {
            return Err(Error::corrupt(&orig, format!("plane frame of {len} bytes")));
        }
        let mut buf = vec![0u8; len as usize];
        r.read_exact(&mut buf)
            .map_err(|e| Error::corrupt(&orig, format!("truncated data ({e})")))?;
        let body = &buf[1..];
        let out = match buf[0] {
            TAG_RAW => Some(body.to_vec()),
            TAG_ZSTD => zstd::bulk::decompress(body, want).ok(),
            TAG_RANS => crate::rans::decode(body),
            _ => None,
        };
        out.ok_or_else(|| Error::corrupt(&orig, "a plane frame does not decode"))
    };
    for seg in &f.segments {
        for c in &seg.chunks {
            let n = c.bytes as usize;
            let bytes = match seg.layout {
                Some(l) => {
                    let w = l.width();
                    if c.frames.len() != w || !n.is_multiple_of(w) {
                        return Err(Error::corrupt(&orig, "chunk does not match its layout"));
                    }
                    let ps = c
                        .frames
                        .iter()
                        .map(|&len| plane(&mut r, len, n / w))
                        .collect::<Result<Vec<_>>>()?;
                    if ps.iter().any(|p| p.len() != n / w) {
                        return Err(Error::corrupt(&orig, "a plane has the wrong length"));
                    }
                    let mut v = Vec::with_capacity(n);
                    planes::merge(l, &ps, &mut v);
                    v
                }
                None => {
                    let [len] = c.frames[..] else {
                        return Err(Error::corrupt(&orig, "raw chunk with several frames"));
                    };
                    frame(&mut r, len, n, dict)?
                }
            };
            if bytes.len() != n {
                return Err(Error::corrupt(&orig, "chunk has the wrong length"));
            }
            sha.update(&bytes);
            out.write_all(&bytes).map_err(|e| Error::io(&orig, e))?;
            total += n as u64;
        }
    }
    if total != f.bytes {
        return Err(Error::corrupt(
            &orig,
            format!("{total} bytes restored, {} recorded", f.bytes),
        ));
    }
    let actual = hex::encode(sha.finalize());
    if actual != f.sha256 {
        return Err(Error::Digest {
            path: orig,
            expected: f.sha256.clone(),
            actual,
        });
    }
    Ok(actual)
}

/// Restores every file of the packed directory `packed` into `dest` (which must not exist),
/// verifying each file's SHA-256; nothing appears at `dest` unless all verify.
pub fn unpack(packed: &Path, dest: &Path) -> Result<UnpackReport> {
    let _span = tracing::info_span!("unpack", packed = %packed.display()).entered();
    let (index, dict) = read_index(packed)?;
    if dest.exists() {
        return Err(Error::corrupt(dest, "destination already exists"));
    }
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = parent.join(format!(
        ".{}.unpacking-{}",
        dest.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        let mut bytes = 0;
        for f in &index.files {
            if f.path.split('/').any(|c| c == ".." || c.is_empty()) || f.path.starts_with('/') {
                return Err(Error::corrupt(&f.path, "unsafe path in the index"));
            }
            let out = tmp.join(&f.path);
            if let Some(p) = out.parent() {
                std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))?;
            }
            let mut w = BufWriter::new(File::create(&out).map_err(|e| Error::io(&out, e))?);
            restore(packed, f, dict.as_deref(), &mut w)?;
            w.flush().map_err(|e| Error::io(&out, e))?;
            bytes += f.bytes;
        }
        Ok(UnpackReport {
            files: index.files.len(),
            bytes,
        })
    })();
    match result {
        Ok(r) => {
            std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))?;
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}

/// Decompresses everything and checks every SHA-256 without writing anything.
pub fn verify(packed: &Path) -> Result<UnpackReport> {
    let (index, dict) = read_index(packed)?;
    let mut bytes = 0;
    for f in &index.files {
        restore(packed, f, dict.as_deref(), &mut std::io::sink())?;
        bytes += f.bytes;
    }
    Ok(UnpackReport {
        files: index.files.len(),
        bytes,
    })
}
