//! Test harness for the `phase0_dataset` binary (ripgrep's `tests/util.rs` pattern): run the
//! real binary in a temporary artifacts root and read what it wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The fixtures of this crate.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/phase0")
}

/// The demo synth preset.
pub fn demo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/phase0/synth-demo.toml")
}

/// A temporary artifacts root and the commands run in it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("artifacts")
    }

    /// Runs `phase0_dataset <args> --out <root> -q` and returns the raw output.
    pub fn run_raw(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_phase0_dataset"))
            .args(args)
            .arg("--out")
            .arg(self.out())
            .arg("-q")
            .current_dir(self.dir.path())
            .output()
            .expect("running phase0_dataset")
    }

    /// Runs a verb that must succeed; returns the artifact directory it printed.
    pub fn run(&self, args: &[&str]) -> PathBuf {
        let out = self.run_raw(args);
        assert!(
            out.status.success(),
            "phase0_dataset {args:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
        let last = stdout.lines().last().expect("a path on stdout");
        PathBuf::from(last.trim())
    }
}

/// `manifest.json` of an artifact.
pub fn manifest(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest json")
}

/// Every row of a JSONL file.
pub fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// `fixtures/phase0/expected.json`.
pub fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected json")
}

/// A fixture path as a string.
pub fn fx(name: &str) -> String {
    fixtures().join(name).display().to_string()
}
