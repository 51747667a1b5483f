//! The artifact store: `<root>/<kind>/<id>/` lookup, reuse of complete artifacts, creation of
//! writers in temporary directories and cleanup of temporaries left by killed processes.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::artifact::{Artifact, Verify};
use crate::error::{Error, Result};
use crate::manifest::{InputRef, Plan, Producer, check_id, check_name, compute_id};
use crate::writer::ArtifactWriter;

/// A directory of artifacts, laid out as `<root>/<kind>/<id>/`.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    force: bool,
}

/// What [`Store::begin`] found.
#[derive(Debug)]
pub enum Begin {
    /// A complete, verified artifact with the same id already exists: reuse it.
    Exists(Artifact),
    /// Nothing complete exists (or `force` was set): write a new artifact.
    New(ArtifactWriter),
}

impl Begin {
    /// Whether work has to be done.
    pub fn is_new(&self) -> bool {
        matches!(self, Begin::New(_))
    }
}

impl Store {
    /// A store rooted at `root` (created lazily).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store {
            root: root.into(),
            force: false,
        }
    }

    /// With `force`, [`Store::begin`] always returns a writer and its commit replaces any
    /// existing artifact with the same id.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the artifact `kind/id` lives (whether or not it exists).
    pub fn artifact_dir(&self, kind: &str, id: &str) -> PathBuf {
        self.root.join(kind).join(id)
    }

    /// The id a step with these parameters produces; see [`compute_id`].
    pub fn compute_id(
        kind: &str,
        producer: &Producer,
        inputs: &[InputRef],
        config: &Value,
    ) -> String {
        compute_id(kind, producer, inputs, config)
    }

    /// Starts producing an artifact: returns the existing one if a complete artifact with the
    /// same id exists (unless the store is in force mode), else a writer in a fresh temporary
    /// directory.
    pub fn begin(
        &self,
        kind: &str,
        producer: Producer,
        inputs: Vec<InputRef>,
        config: Value,
    ) -> Result<Begin> {
        self.begin_with(kind, producer, inputs, config, self.force)
    }

    /// [`Store::begin`] with an explicit `force` flag.
    pub fn begin_with(
        &self,
        kind: &str,
        producer: Producer,
        inputs: Vec<InputRef>,
        config: Value,
        force: bool,
    ) -> Result<Begin> {
        check_name("kind", kind)?;
        let id = compute_id(kind, &producer, &inputs, &config);
        let kind_dir = self.root.join(kind);
        std::fs::create_dir_all(&kind_dir).map_err(Error::io("creating directory", &kind_dir))?;
        clean_stale(&kind_dir);
        if !force && let Some(artifact) = self.find(kind, &id)? {
            tracing::info!(%kind, %id, dir = %artifact.dir().display(), "reusing complete artifact");
            return Ok(Begin::Exists(artifact));
        }
        let tmp = kind_dir.join(temp_name(&id, "tmp"));
        std::fs::create_dir(&tmp).map_err(Error::io("creating directory", &tmp))?;
        tracing::debug!(%kind, %id, tmp = %tmp.display(), "writing new artifact");
        Ok(Begin::New(ArtifactWriter::new(
            kind_dir, kind, id, producer, inputs, config, tmp, force,
        )))
    }

    /// The complete artifact `kind/id`, fully verified, or `None` if nothing was committed
    /// there. Temporary directories are never looked at. A directory that exists but fails
    /// verification is an error, not `None`.
    pub fn find(&self, kind: &str, id: &str) -> Result<Option<Artifact>> {
        check_name("kind", kind)?;
        check_id(id)?;
        let dir = self.artifact_dir(kind, id);
        if !dir.try_exists().map_err(Error::io("checking", &dir))? {
            return Ok(None);
        }
        let artifact = Artifact::open(&dir)?;
        check_identity(&artifact, kind, id)?;
        Ok(Some(artifact))
    }

    /// Whether `kind/id` is committed, checking only the manifest and file sizes (cheap even
    /// for multi-gigabyte artifacts).
    pub fn is_complete(&self, kind: &str, id: &str) -> Result<bool> {
        check_name("kind", kind)?;
        check_id(id)?;
        let dir = self.artifact_dir(kind, id);
        if !dir.try_exists().map_err(Error::io("checking", &dir))? {
            return Ok(false);
        }
        let artifact = Artifact::open_with(&dir, Verify::Sizes)?;
        check_identity(&artifact, kind, id)?;
        Ok(true)
    }

    /// What [`Store::begin`] would do, without doing it: the id and final path of the artifact
    /// and whether it is already complete (never complete in force mode).
    pub fn plan(
        &self,
        kind: &str,
        producer: &Producer,
        inputs: &[InputRef],
        config: &Value,
    ) -> Result<Plan> {
        check_name("kind", kind)?;
        let id = compute_id(kind, producer, inputs, config);
        let dir = self.artifact_dir(kind, &id);
        let path = std::path::absolute(&dir).map_err(Error::io("resolving", &dir))?;
        let complete = !self.force && self.is_complete(kind, &id)?;
        Ok(Plan {
            kind: kind.to_owned(),
            id,
            path,
            complete,
        })
    }
}

/// Errors unless the manifest in `<root>/<kind>/<id>` really says `kind` and `id`.
fn check_identity(artifact: &Artifact, kind: &str, id: &str) -> Result<()> {
    if artifact.kind() != kind || artifact.id() != id {
        return Err(Error::IdMismatch {
            dir: artifact.dir().to_owned(),
            found: format!("{}/{}", artifact.kind(), artifact.id()),
            expected: format!("{kind}/{id}"),
        });
    }
    Ok(())
}

/// `.<id>.<tag>-<pid>-<nanos>`: hidden, unique per process and call, and parseable by
/// [`clean_stale`].
pub(crate) fn temp_name(id: &str, tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(".{id}.{tag}-{}-{nanos}", std::process::id())
}

/// The pid embedded in a temporary directory name, if `name` is one.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, suffix) = rest
        .rsplit_once(".tmp-")
        .or_else(|| rest.rsplit_once(".old-"))?;
    let (pid, nanos) = suffix.split_once('-')?;
    nanos.parse::<u128>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` is running. Only Linux (`/proc`) can tell; elsewhere every process is
/// assumed alive, so nothing is removed.
fn process_alive(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    if !proc_root.join("self").exists() {
        return true;
    }
    proc_root.join(pid.to_string()).exists()
}

/// Removes temporary directories in `kind_dir` whose writer process is gone. Best effort: a
/// directory that cannot be removed is logged and left for the next run.
fn clean_stale(kind_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(kind_dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if pid == me || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(dir = %path.display(), "removed stale temporary directory"),
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "cannot remove stale temporary directory")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_round_trip() {
        let name = temp_name("0123456789abcdef", "tmp");
        assert_eq!(temp_owner(&name), Some(std::process::id()));
        assert_eq!(temp_owner(".0123456789abcdef.old-42-17"), Some(42));
        assert_eq!(temp_owner("0123456789abcdef"), None);
        assert_eq!(temp_owner(".hidden"), None);
        assert_eq!(temp_owner(".x.tmp-notapid-1"), None);
    }

    #[test]
    fn only_dead_owners_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        // Our own pid is alive; pid 0x7fff_fff0 is above Linux's pid_max, so it is never alive.
        let mine = dir.path().join(temp_name("0123456789abcdef", "tmp"));
        let dead = dir
            .path()
            .join(format!(".0123456789abcdef.tmp-{}-1", 0x7fff_fff0u32));
        let final_dir = dir.path().join("0123456789abcdef");
        for d in [&mine, &dead, &final_dir] {
            std::fs::create_dir(d).unwrap();
        }
        clean_stale(dir.path());
        assert!(mine.exists());
        assert!(final_dir.exists());
        assert_eq!(dead.exists(), !Path::new("/proc/self").exists());
    }
}
