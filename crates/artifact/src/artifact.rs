//! Opening a committed artifact: parse `manifest.json`, check its schema version and verify
//! every listed file's size and sha256 (in parallel across files).

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::hash::sha256_file;
use crate::manifest::{FileEntry, InputRef, MANIFEST_FILE, Manifest};

/// How much of an artifact [`Artifact::open_with`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Size and sha256 of every file (what [`Artifact::open`] does).
    Full,
    /// Only that every file exists with the listed size: cheap, used for `--plan`.
    Sizes,
}

/// A committed, verified artifact directory.
#[derive(Clone, Debug)]
pub struct Artifact {
    dir: PathBuf,
    manifest: Manifest,
}

impl Artifact {
    /// Opens the artifact in `dir`, verifying the size and sha256 of every file in its manifest.
    /// A missing or altered file is an error naming that file.
    pub fn open(dir: &Path) -> Result<Artifact> {
        Artifact::open_with(dir, Verify::Full)
    }

    /// Opens the artifact in `dir` and checks that it is of `kind` (the "check inputs first" rule).
    pub fn open_expect(dir: &Path, kind: &str) -> Result<Artifact> {
        // Check the kind before hashing, so a wrong input fails fast even for large artifacts.
        let manifest = read_manifest(dir)?;
        if manifest.kind != kind {
            return Err(Error::KindMismatch {
                dir: dir.to_owned(),
                found: manifest.kind,
                expected: kind.to_owned(),
            });
        }
        Artifact::open(dir)
    }

    /// Opens the artifact in `dir` with the chosen level of verification.
    pub fn open_with(dir: &Path, verify: Verify) -> Result<Artifact> {
        let _span = tracing::debug_span!("open_artifact", dir = %dir.display()).entered();
        let manifest = read_manifest(dir)?;
        let results: Vec<Result<()>> = manifest
            .files
            .par_iter()
            .map(|entry| verify_file(dir, entry, verify))
            .collect();
        // Report the first failure in manifest order, so the error is deterministic.
        results.into_iter().collect::<Result<()>>()?;
        tracing::debug!(kind = %manifest.kind, id = %manifest.id, files = manifest.files.len(), "artifact verified");
        Ok(Artifact {
            dir: dir.to_owned(),
            manifest,
        })
    }

    /// Builds an already-verified artifact (used by the writer right after commit).
    pub(crate) fn from_parts(dir: PathBuf, manifest: Manifest) -> Artifact {
        Artifact { dir, manifest }
    }

    /// The artifact directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The artifact kind.
    pub fn kind(&self) -> &str {
        &self.manifest.kind
    }

    /// The artifact id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// `dir/rel`, whether or not the manifest lists it.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `dir/rel` if the manifest lists `rel`, else an error naming the missing file.
    pub fn file(&self, rel: &str) -> Result<PathBuf> {
        if self.manifest.files.iter().any(|f| f.path == rel) {
            Ok(self.dir.join(rel))
        } else {
            Err(Error::MissingFile {
                dir: self.dir.clone(),
                file: rel.to_owned(),
            })
        }
    }

    /// A metric recorded by the producer.
    pub fn metric(&self, key: &str) -> Option<&Value> {
        self.manifest.metrics.get(key)
    }

    /// Errors unless the artifact is of `kind`.
    pub fn expect_kind(&self, kind: &str) -> Result<()> {
        if self.manifest.kind == kind {
            Ok(())
        } else {
            Err(Error::KindMismatch {
                dir: self.dir.clone(),
                found: self.manifest.kind.clone(),
                expected: kind.to_owned(),
            })
        }
    }

    /// This artifact as an input of another: `{kind, id}`.
    pub fn as_input(&self) -> InputRef {
        self.manifest.as_input()
    }
}

/// The input references of several opened artifacts, in order.
pub fn input_refs<'a>(artifacts: impl IntoIterator<Item = &'a Artifact>) -> Vec<InputRef> {
    artifacts.into_iter().map(Artifact::as_input).collect()
}

/// Reads `dir/manifest.json`, telling "not an artifact" apart from "unreadable".
fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    match std::fs::metadata(&path) {
        Ok(_) => Manifest::read(&path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::NoManifest {
            dir: dir.to_owned(),
        }),
        Err(source) => Err(Error::Io {
            op: "reading manifest",
            path,
            source,
        }),
    }
}

/// Checks one file's presence, size and (for [`Verify::Full`]) sha256.
fn verify_file(dir: &Path, entry: &FileEntry, verify: Verify) -> Result<()> {
    let path = dir.join(&entry.path);
    let meta = match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => meta,
        Ok(_) => {
            return Err(Error::MissingFile {
                dir: dir.to_owned(),
                file: entry.path.clone(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingFile {
                dir: dir.to_owned(),
                file: entry.path.clone(),
            });
        }
        Err(source) => {
            return Err(Error::Io {
                op: "reading metadata of",
                path,
                source,
            });
        }
    };
    let size_mismatch = |actual| Error::SizeMismatch {
        dir: dir.to_owned(),
        file: entry.path.clone(),
        expected: entry.bytes,
        actual,
    };
    if meta.len() != entry.bytes {
        return Err(size_mismatch(meta.len()));
    }
    if verify == Verify::Full {
        let (sha256, bytes) = sha256_file(&path)?;
        if bytes != entry.bytes {
            return Err(size_mismatch(bytes));
        }
        if sha256 != entry.sha256 {
            return Err(Error::HashMismatch {
                dir: dir.to_owned(),
                file: entry.path.clone(),
                expected: entry.sha256.clone(),
                actual: sha256,
            });
        }
    }
    Ok(())
}
