//! Helpers shared by xtask commands: workspace paths, building and running workspace binaries as
//! a user would, and rewriting one section of `docs/BENCHMARKS.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// `cargo` as invoked by the alias (`$CARGO`), else from PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds every workspace binary in the dev profile. Always `--workspace`, so features unify
/// exactly as for `cargo test --workspace` and burn is built once.
pub fn build_bins() -> Result<()> {
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["build", "--workspace", "--bins"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --workspace --bins failed");
    }
    Ok(())
}

/// Path of a workspace binary built by [`build_bins`].
pub fn bin(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root().join(target)
    };
    target.join("debug").join(name)
}

/// Runs a command, returning its stdout; stderr passes through to the user.
pub fn run_capture(cmd: &mut Command) -> Result<String> {
    let line = format!("{cmd:?}");
    eprintln!("$ {}", line.replace('"', ""));
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("spawning {line}"))?;
    if !out.status.success() {
        bail!("{line} exited with {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Replaces (or appends) the section between `<!-- begin:{key} -->` and `<!-- end:{key} -->`
/// in `docs/BENCHMARKS.md`.
pub fn write_bench_section(key: &str, body: &str) -> Result<()> {
    let path = root().join("docs/BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    let begin = format!("<!-- begin:{key} -->");
    let end = format!("<!-- end:{key} -->");
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &old[..a], block, &old[b + end.len()..]),
        _ => format!("{}\n{}\n", old.trim_end(), block),
    };
    std::fs::write(&path, new).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// One line describing the machine, for benchmark tables.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{cpu}, {cores} cores")
}

/// Today's UTC date as `YYYY-MM-DD`.
pub fn today() -> String {
    let d = time::OffsetDateTime::now_utc().date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The last line of a command's stdout parsed as JSON (reports print one JSON line last,
/// after anything a library may have printed before it).
pub fn last_json_line(stdout: &str) -> serde_json::Result<serde_json::Value> {
    serde_json::from_str(stdout.trim().lines().last().unwrap_or("{}"))
}
