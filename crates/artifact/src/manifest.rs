//! `manifest.json`: the schema of STYLE.md §2.2 (provenance, resolved config, file hashes,
//! metrics) and the content-derived artifact id.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::hash::sha256_bytes;

/// Version of the manifest schema written by this build; [`crate::Artifact::open`] rejects others.
pub const SCHEMA_VERSION: u32 = 1;

/// File name of the manifest inside an artifact directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Number of hex digits of the sha256 kept as the artifact id.
const ID_HEX_LEN: usize = 16;

/// Which program made an artifact.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Producer {
    /// Cargo package name, e.g. `phase0_dataset`.
    #[serde(alias = "crate")]
    pub crate_name: String,
    /// Cargo package version.
    pub version: String,
    /// Git commit of the source tree, when known. Not part of the id.
    pub git_sha: Option<String>,
    /// Subcommand that ran, e.g. `synth`. Not part of the id (the kind says what was made).
    pub subcommand: String,
}

impl Producer {
    /// Describes a producer; `git_sha` comes from `COGUMI_GIT_SHA` or else `git rev-parse HEAD`
    /// in the current directory (looked up once per process), and is `None` when neither works.
    pub fn new(crate_name: &str, version: &str, subcommand: &str) -> Self {
        Producer {
            crate_name: crate_name.to_owned(),
            version: version.to_owned(),
            git_sha: git_sha(),
            subcommand: subcommand.to_owned(),
        }
    }
}

/// The git commit of the working directory, cached for the process.
fn git_sha() -> Option<String> {
    static SHA: OnceLock<Option<String>> = OnceLock::new();
    SHA.get_or_init(|| {
        if let Ok(sha) = std::env::var("COGUMI_GIT_SHA") {
            let sha = sha.trim().to_owned();
            return (!sha.is_empty()).then_some(sha);
        }
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let sha = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (out.status.success() && !sha.is_empty()).then_some(sha)
    })
    .clone()
}

/// A reference to an input artifact by kind and id.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct InputRef {
    /// Kind of the input artifact.
    pub kind: String,
    /// Id of the input artifact.
    pub id: String,
}

/// One file of an artifact, relative to its directory with `/` separators.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path, `/`-separated, never absolute and never containing `..`.
    pub path: String,
    /// Lowercase hex sha256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// The contents of `manifest.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Always [`SCHEMA_VERSION`] for manifests this build writes.
    pub schema_version: u32,
    /// What the artifact is, e.g. `dataset`, `model`, `lora`.
    pub kind: String,
    /// Content-derived id; see [`compute_id`].
    pub id: String,
    /// Which program made it.
    pub producer: Producer,
    /// Artifacts it was made from.
    pub inputs: Vec<InputRef>,
    /// The fully resolved configuration (every default filled in).
    pub config: Value,
    /// Every file of the artifact except `manifest.json`, sorted by path.
    pub files: Vec<FileEntry>,
    /// Free-form measurements, e.g. row counts or losses.
    pub metrics: Map<String, Value>,
    /// Creation time, RFC 3339 in UTC.
    pub created_at: String,
}

impl Manifest {
    /// Reads and parses a manifest file and checks its schema version and names.
    pub fn read(path: &Path) -> Result<Manifest> {
        let bytes = std::fs::read(path).map_err(Error::io("reading manifest", path))?;
        Manifest::from_slice(&bytes, path)
    }

    /// Parses manifest bytes; `path` is only used in errors.
    pub fn from_slice(bytes: &[u8], path: &Path) -> Result<Manifest> {
        // Check the version first, so a future schema fails with a version error rather than
        // a confusing missing-field error.
        #[derive(Deserialize)]
        struct Version {
            schema_version: u32,
        }
        let version: Version =
            serde_json::from_slice(bytes).map_err(|source| Error::ManifestParse {
                path: path.to_owned(),
                source,
            })?;
        if version.schema_version != SCHEMA_VERSION {
            return Err(Error::SchemaVersion {
                path: path.to_owned(),
                found: version.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|source| Error::ManifestParse {
                path: path.to_owned(),
                source,
            })?;
        check_name("kind", &manifest.kind)?;
        check_id(&manifest.id)?;
        for file in &manifest.files {
            check_rel_path(&file.path)?;
        }
        Ok(manifest)
    }

    /// The manifest as pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> Result<String> {
        let mut s = serde_json::to_string_pretty(self).map_err(|source| Error::Serialize {
            what: "manifest".into(),
            source,
        })?;
        s.push('\n');
        Ok(s)
    }

    /// Deserialises the resolved config into a typed struct.
    pub fn config_as<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.config.clone()).map_err(|source| Error::Serialize {
            what: format!("config of {}/{}", self.kind, self.id),
            source,
        })
    }

    /// This artifact as an input reference.
    pub fn as_input(&self) -> InputRef {
        InputRef {
            kind: self.kind.clone(),
            id: self.id.clone(),
        }
    }
}

/// What a `--plan` run reports: where the artifact of a step lives and whether it is complete.
/// This is the JSON line the `xtask run` orchestrator reads.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Kind of the artifact the step makes.
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its final directory, absolute.
    pub path: PathBuf,
    /// Whether a committed artifact is already there (manifest present, file sizes match).
    pub complete: bool,
}

/// Serialises a JSON value with object keys sorted recursively and no whitespace, so equal
/// values give equal bytes whatever order their maps were built in.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    out.insert(key.clone(), sorted(&map[key]));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // `preserve_order` keeps insertion order, which after sorting is the canonical order.
    sorted(value).to_string()
}

/// The artifact id: the first 16 hex digits of sha256 over the canonical JSON of
/// `{kind, inputs, config, producer: {crate_name, version}}`. Neither the git sha nor the time
/// enters the id, so rebuilding the same step on the same inputs reuses the artifact.
pub fn compute_id(kind: &str, producer: &Producer, inputs: &[InputRef], config: &Value) -> String {
    let identity = serde_json::json!({
        "kind": kind,
        "inputs": inputs,
        "config": config,
        "producer": {"crate_name": producer.crate_name, "version": producer.version},
    });
    let mut hash = sha256_bytes(canonical_json(&identity).as_bytes());
    hash.truncate(ID_HEX_LEN);
    hash
}

/// Checks that a kind is a plain, visible path component: ASCII letters, digits, `-`, `_`, `.`,
/// not starting with `.`.
pub(crate) fn check_name(what: &'static str, value: &str) -> Result<()> {
    let reason = if value.is_empty() {
        Some("must not be empty")
    } else if value.starts_with('.') {
        Some("must not start with '.'")
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Some("only ASCII letters, digits, '-', '_' and '.' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidName {
            what,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks that an id is 16 lowercase hex digits.
pub(crate) fn check_id(value: &str) -> Result<()> {
    if value.len() == ID_HEX_LEN
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "id",
            value: value.to_owned(),
            reason: "must be 16 lowercase hex digits",
        })
    }
}

/// Checks that a manifest file path stays inside the artifact directory.
pub(crate) fn check_rel_path(value: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidName {
            what: "file path",
            value: value.to_owned(),
            reason,
        })
    };
    if value.is_empty() {
        return bad("must not be empty");
    }
    if value.starts_with('/') || value.contains('\\') || value.contains(':') {
        return bad("must be relative and '/'-separated");
    }
    if value
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return bad("must not contain empty, '.' or '..' components");
    }
    if value == MANIFEST_FILE {
        return bad("manifest.json is reserved");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn producer() -> Producer {
        Producer {
            crate_name: "phase0_dataset".into(),
            version: "0.1.0".into(),
            git_sha: Some("abc".into()),
            subcommand: "synth".into(),
        }
    }

    #[test]
    fn canonical_json_sorts_nested_keys() {
        let a = json!({"b": 1, "a": {"y": [ {"d": 1, "c": 2} ], "x": null}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"x":null,"y":[{"c":2,"d":1}]},"b":1}"#
        );
    }

    #[test]
    fn id_is_stable_and_sensitive_to_content_only() {
        let inputs = vec![InputRef {
            kind: "model".into(),
            id: "0123456789abcdef".into(),
        }];
        let id = compute_id(
            "dataset",
            &producer(),
            &inputs,
            &json!({"rows": 5, "seed": 0}),
        );
        assert_eq!(id.len(), 16);
        // Key order, git sha and subcommand do not matter.
        let mut other = producer();
        other.git_sha = None;
        other.subcommand = "other".into();
        assert_eq!(
            id,
            compute_id("dataset", &other, &inputs, &json!({"seed": 0, "rows": 5}))
        );
        // Config, kind, inputs and version do.
        assert_ne!(
            id,
            compute_id(
                "dataset",
                &producer(),
                &inputs,
                &json!({"rows": 6, "seed": 0})
            )
        );
        assert_ne!(
            id,
            compute_id(
                "model",
                &producer(),
                &inputs,
                &json!({"rows": 5, "seed": 0})
            )
        );
        assert_ne!(
            id,
            compute_id("dataset", &producer(), &[], &json!({"rows": 5, "seed": 0}))
        );
        let mut newer = producer();
        newer.version = "0.2.0".into();
        assert_ne!(
            id,
            compute_id("dataset", &newer, &inputs, &json!({"rows": 5, "seed": 0}))
        );
    }

    #[test]
    fn id_matches_hand_computed_hash() {
        // sha256 of the canonical identity string, computed independently of compute_id.
        let canonical = r#"{"config":{"a":1},"inputs":[],"kind":"k","producer":{"crate_name":"c","version":"1"}}"#;
        let expected = &sha256_bytes(canonical.as_bytes())[..16];
        let p = Producer {
            crate_name: "c".into(),
            version: "1".into(),
            git_sha: None,
            subcommand: "s".into(),
        };
        assert_eq!(compute_id("k", &p, &[], &json!({"a": 1})), expected);
    }

    #[test]
    fn rel_path_rules() {
        for ok in ["a.bin", "dir/a.bin", "a/b/c"] {
            check_rel_path(ok).unwrap();
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "manifest.json",
        ] {
            assert!(check_rel_path(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn names_and_ids() {
        check_name("kind", "gguf-model_v1.q4").unwrap();
        for bad in ["", ".hidden", "a/b", "a b"] {
            assert!(check_name("kind", bad).is_err(), "{bad} accepted");
        }
        check_id("0123456789abcdef").unwrap();
        for bad in ["0123456789ABCDEF", "0123", "0123456789abcdeg"] {
            assert!(check_id(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn future_schema_version_is_a_version_error() {
        let err = Manifest::from_slice(
            br#"{"schema_version": 99, "new_field": 1}"#,
            Path::new("m.json"),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::SchemaVersion {
                    found: 99,
                    expected: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}
