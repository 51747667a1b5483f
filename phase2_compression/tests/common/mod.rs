//! Shared by the CLI tests: run a verb on the embedded model and read its artifact.
// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Runs `phase2_compression -q <args> --out <out>`, asserts success, returns the printed path.
pub fn run_verb(args: &[&std::ffi::OsStr], out: &Path) -> PathBuf {
    let output = Command::new(env!("CARGO_BIN_EXE_phase2_compression"))
        .arg("-q")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

/// An artifact's manifest.
pub fn manifest(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// `[verb, flags…, --model M, --data heldout.jsonl]` as OS strings.
pub fn with_model_and_data(
    verb_and_flags: &[&str],
    model: &Path,
    data: &Path,
) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = verb_and_flags.iter().map(Into::into).collect();
    v.extend([
        "--model".into(),
        model.as_os_str().into(),
        "--data".into(),
        data.as_os_str().into(),
    ]);
    v
}
