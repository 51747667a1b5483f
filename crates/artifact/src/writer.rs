//! Writing an artifact: files go into a temporary directory; `commit` hashes them, writes
//! `manifest.json` last (write + fsync) and renames the directory into place. The rename is
//! the commit point, so a killed writer never leaves a partial artifact at the final path.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::hash::sha256_reader;
use crate::manifest::{
    FileEntry, InputRef, MANIFEST_FILE, Manifest, Producer, SCHEMA_VERSION, check_rel_path,
    compute_id,
};
use crate::store::temp_name;

/// An artifact being written. Dropping it without [`ArtifactWriter::commit`] removes the
/// temporary directory.
#[derive(Debug)]
pub struct ArtifactWriter {
    kind_dir: PathBuf,
    kind: String,
    id: String,
    producer: Producer,
    inputs: Vec<InputRef>,
    config: Value,
    tmp: PathBuf,
    force: bool,
    metrics: Map<String, Value>,
    /// First metric that failed to serialise; reported by `commit`.
    metric_error: Option<Error>,
    committed: bool,
}

impl ArtifactWriter {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        kind_dir: PathBuf,
        kind: &str,
        id: String,
        producer: Producer,
        inputs: Vec<InputRef>,
        config: Value,
        tmp: PathBuf,
        force: bool,
    ) -> Self {
        ArtifactWriter {
            kind_dir,
            kind: kind.to_owned(),
            id,
            producer,
            inputs,
            config,
            tmp,
            force,
            metrics: Map::new(),
            metric_error: None,
            committed: false,
        }
    }

    /// The id the artifact will have.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The artifact kind.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The temporary directory to write files into.
    pub fn dir(&self) -> &Path {
        &self.tmp
    }

    /// `dir()/rel`. Parent directories are not created; see [`ArtifactWriter::create`].
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.join(rel)
    }

    /// Where the artifact will live once committed.
    pub fn final_dir(&self) -> PathBuf {
        self.kind_dir.join(&self.id)
    }

    /// The resolved config recorded in the manifest.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The inputs recorded in the manifest.
    pub fn inputs(&self) -> &[InputRef] {
        &self.inputs
    }

    /// Creates (truncating) the file `rel` and its parent directories.
    pub fn create(&self, rel: &str) -> Result<File> {
        let path = self.prepare(rel)?;
        File::create(&path).map_err(Error::io("creating", &path))
    }

    /// Writes `bytes` to the file `rel`, creating parent directories.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.prepare(rel)?;
        std::fs::write(&path, bytes).map_err(Error::io("writing", &path))?;
        Ok(path)
    }

    /// Writes `value` as pretty JSON (with a trailing newline) to the file `rel`.
    pub fn write_json(&self, rel: &str, value: &impl Serialize) -> Result<PathBuf> {
        let mut json = serde_json::to_vec_pretty(value).map_err(|source| Error::Serialize {
            what: rel.to_owned(),
            source,
        })?;
        json.push(b'\n');
        self.write(rel, &json)
    }

    /// Records a metric in the manifest. A value that cannot be serialised makes `commit` fail.
    pub fn set_metric(&mut self, key: &str, value: impl Serialize) {
        match serde_json::to_value(value) {
            Ok(value) => {
                self.metrics.insert(key.to_owned(), value);
            }
            Err(source) => {
                self.metric_error.get_or_insert(Error::Serialize {
                    what: format!("metric {key}"),
                    source,
                });
            }
        }
    }

    /// Adds an input discovered after `begin`. Inputs are part of the id, so the id changes;
    /// prefer passing inputs to `begin`, which can then reuse a complete artifact before any
    /// work is done. If the new id is already complete at commit time, that artifact is kept.
    pub fn add_input(&mut self, input: InputRef) {
        self.inputs.push(input);
        self.id = compute_id(&self.kind, &self.producer, &self.inputs, &self.config);
    }

    /// Validates `rel` and creates its parent directories.
    fn prepare(&self, rel: &str) -> Result<PathBuf> {
        check_rel_path(rel)?;
        let path = self.tmp.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("creating directory", parent))?;
        }
        Ok(path)
    }

    /// Hashes every file, writes `manifest.json` and atomically moves the directory to
    /// `<root>/<kind>/<id>/`. If another writer committed the same id first (and this one is not
    /// forcing), the existing artifact is returned and this one is discarded.
    pub fn commit(mut self) -> Result<Artifact> {
        let _span = tracing::info_span!("commit", kind = %self.kind, id = %self.id).entered();
        if let Some(err) = self.metric_error.take() {
            return Err(err);
        }
        let mut rels = Vec::new();
        list_files(&self.tmp, &self.tmp, &mut rels)?;
        rels.sort();
        let files = rels
            .par_iter()
            .map(|rel| hash_and_sync(&self.tmp, rel))
            .collect::<Result<Vec<FileEntry>>>()?;
        failpoint("commit:before-manifest");

        let manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            kind: self.kind.clone(),
            id: self.id.clone(),
            producer: self.producer.clone(),
            inputs: self.inputs.clone(),
            config: self.config.clone(),
            files,
            metrics: std::mem::take(&mut self.metrics),
            created_at: now_rfc3339(),
        };
        let manifest_path = self.tmp.join(MANIFEST_FILE);
        let mut file =
            File::create(&manifest_path).map_err(Error::io("creating", &manifest_path))?;
        file.write_all(manifest.to_json_pretty()?.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(Error::io("writing", &manifest_path))?;
        drop(file);
        sync_dir(&self.tmp)?;
        failpoint("commit:after-manifest");

        let final_dir = self.final_dir();
        if final_dir.exists() {
            if !self.force {
                return self.keep_existing(&final_dir);
            }
            self.replace(&final_dir)?;
        } else if let Err(e) = std::fs::rename(&self.tmp, &final_dir) {
            if final_dir.exists() && !self.force {
                // Lost a race against a concurrent writer of the same id.
                return self.keep_existing(&final_dir);
            }
            return Err(Error::Io {
                op: "renaming temporary directory to",
                path: final_dir,
                source: e,
            });
        }
        self.committed = true;
        sync_dir(&self.kind_dir)?;
        tracing::info!(dir = %final_dir.display(), files = manifest.files.len(), "artifact committed");
        Ok(Artifact::from_parts(final_dir, manifest))
    }

    /// Discards this writer's output in favour of the complete artifact at `final_dir`.
    fn keep_existing(self, final_dir: &Path) -> Result<Artifact> {
        let artifact = Artifact::open(final_dir)?;
        tracing::info!(dir = %final_dir.display(), "an identical artifact was committed meanwhile; keeping it");
        Ok(artifact) // Drop removes our temporary directory.
    }

    /// Force mode: moves the old artifact aside, moves ours in, deletes the old one.
    fn replace(&mut self, final_dir: &Path) -> Result<()> {
        let old = self.kind_dir.join(temp_name(&self.id, "old"));
        std::fs::rename(final_dir, &old).map_err(Error::io("moving aside", final_dir))?;
        std::fs::rename(&self.tmp, final_dir)
            .map_err(Error::io("renaming temporary directory to", final_dir))?;
        std::fs::remove_dir_all(&old).map_err(Error::io("removing", &old))?;
        tracing::info!(dir = %final_dir.display(), "replaced existing artifact (force)");
        Ok(())
    }
}

impl Drop for ArtifactWriter {
    fn drop(&mut self) {
        if !self.committed
            && self.tmp.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.tmp)
        {
            tracing::warn!(dir = %self.tmp.display(), error = %e, "cannot remove temporary directory");
        }
    }
}

/// Collects the relative paths of all regular files under `dir`, rejecting symlinks, other
/// special files and a user-written `manifest.json`.
fn list_files(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(Error::io("listing", dir))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("listing", dir))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .map(|s| s.replace(std::path::MAIN_SEPARATOR, "/"));
        let bad = |file: String, reason| Error::BadEntry {
            dir: root.to_owned(),
            file,
            reason,
        };
        let Some(rel) = rel else {
            return Err(bad(path.display().to_string(), "file names must be UTF-8"));
        };
        let ty = entry
            .file_type()
            .map_err(Error::io("reading metadata of", &path))?;
        if ty.is_dir() {
            list_files(root, &path, out)?;
        } else if ty.is_file() {
            if rel == MANIFEST_FILE {
                return Err(bad(
                    rel,
                    "manifest.json is written by commit, not by the producer",
                ));
            }
            check_rel_path(&rel)?;
            out.push(rel);
        } else if ty.is_symlink() {
            return Err(bad(
                rel,
                "symlinks are not allowed (copy or hard-link the file)",
            ));
        } else {
            return Err(bad(rel, "only regular files and directories are allowed"));
        }
    }
    Ok(())
}

/// Hashes one file and flushes it to disk, so the manifest never describes unsynced data.
fn hash_and_sync(root: &Path, rel: &str) -> Result<FileEntry> {
    let path = root.join(rel);
    let mut file = File::open(&path).map_err(Error::io("opening", &path))?;
    let (sha256, bytes) = sha256_reader(&mut file).map_err(Error::io("reading", &path))?;
    // fsync through a read-only descriptor flushes the file's data on Linux and macOS.
    #[cfg(unix)]
    file.sync_all().map_err(Error::io("syncing", &path))?;
    Ok(FileEntry {
        path: rel.to_owned(),
        sha256,
        bytes,
    })
}

/// fsyncs a directory so renames and new entries in it are durable (no-op off unix).
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("syncing directory", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Current UTC time in RFC 3339.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// Test hook for the crash tests: when `COGUMI_ARTIFACT_FAILPOINT` equals `name`, touch the
/// file named by `COGUMI_ARTIFACT_FAILPOINT_MARKER` and wait (up to a minute) to be killed.
fn failpoint(name: &str) {
    if std::env::var_os("COGUMI_ARTIFACT_FAILPOINT").is_none_or(|v| v != name) {
        return;
    }
    if let Some(marker) = std::env::var_os("COGUMI_ARTIFACT_FAILPOINT_MARKER")
        && let Err(e) = std::fs::write(&marker, name)
    {
        tracing::warn!(error = %e, "cannot write failpoint marker");
    }
    std::thread::sleep(std::time::Duration::from_secs(60));
}
