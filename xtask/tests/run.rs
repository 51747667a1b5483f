//! End-to-end test of `cargo xtask run` resume logic with a fake phase binary: a shell script
//! that implements `--plan` and the artifact layout (temporary dir, manifest, rename), so a
//! failed run leaves a partial artifact and the next run resumes from the complete ones.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `fakephase make <kind> <payload> [--out DIR] [--input DIR|--model DIR]... [--plan]`.
/// Its id hashes kind, payload and input ids; every real run appends the payload to `$RUNS_LOG`.
/// `FAKE_FAIL=<payload>` dies after starting to write (leaving a temporary directory);
/// `FAKE_CHECK_FAIL=<payload>` exits 1 like a failed validation check.
const FAKE_PHASE: &str = r#"#!/bin/sh
set -eu
[ "$1" = make ] || { echo "unknown subcommand $1" >&2; exit 2; }
kind=$2; payload=$3; shift 3
out=artifacts; plan=0; ids=""; inputs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --input|--model)
      [ -f "$2/manifest.json" ] || { echo "input $2 is not complete" >&2; exit 2; }
      ids="$ids,$1=$(basename "$2")"; inputs="$inputs $2"; shift 2 ;;
    --plan) plan=1; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
id=$(printf '%s|%s|%s' "$kind" "$payload" "$ids" | sha256sum | cut -c1-16)
final="$out/$kind/$id"
if [ "$plan" = 1 ]; then
  complete=false; [ -f "$final/manifest.json" ] && complete=true
  printf '{"kind":"%s","id":"%s","path":"%s","complete":%s}\n' "$kind" "$id" "$final" "$complete"
  exit 0
fi
echo "$payload" >> "$RUNS_LOG"
tmp="$out/$kind/.$id.tmp-$$-1"
mkdir -p "$tmp"
printf '%s%s\n' "$payload" "$inputs" > "$tmp/data.txt"
[ "${FAKE_FAIL:-}" = "$payload" ] && { echo "simulated crash" >&2; exit 3; }
[ "${FAKE_CHECK_FAIL:-}" = "$payload" ] && { echo "check failed" >&2; exit 1; }
sha=$(sha256sum "$tmp/data.txt" | cut -c1-64)
bytes=$(( $(wc -c < "$tmp/data.txt") ))
cat > "$tmp/manifest.json" <<JSON
{"schema_version": 1, "kind": "$kind", "id": "$id",
 "producer": {"crate_name": "fakephase", "version": "0", "git_sha": null, "subcommand": "make"},
 "inputs": [], "config": {}, "files": [{"path": "data.txt", "sha256": "$sha", "bytes": $bytes}],
 "metrics": {}, "created_at": "2025-01-01T00:00:00Z"}
JSON
mv "$tmp" "$final"
echo "log line before the path"
echo "$final"
"#;

/// a -> b -> c (c takes b through `--model`); d is independent.
const PRESET: &str = r#"
[pipeline]
name = "fake"
artifacts = "unused"

[[step]]
name = "a"
phase = "p0"
bin = "fakephase"
args = ["make", "dataset", "a"]

[[step]]
name = "b"
phase = "p1"
bin = "fakephase"
args = ["make", "model", "b"]
inputs = ["a"]

[[step]]
name = "c"
phase = "p2"
bin = "fakephase"
args = ["make", "gguf", "c"]
inputs = [{ step = "b", flag = "--model" }]

[[step]]
name = "d"
phase = "p0"
bin = "fakephase"
args = ["make", "stats", "d"]
"#;

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let script = dir.join("fakephase");
        std::fs::write(&script, FAKE_PHASE).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("fake.toml"), PRESET).unwrap();
        Env { _tmp: tmp, dir }
    }

    fn art(&self) -> PathBuf {
        self.dir.join("art")
    }

    fn xtask(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
        cmd.arg("run")
            .args(extra)
            .arg("--config")
            .arg(self.dir.join("fake.toml"))
            .arg("--artifacts")
            .arg(self.art())
            .arg("--bin-dir")
            .arg(&self.dir)
            .arg("--no-build")
            .env("RUNS_LOG", self.dir.join("runs.log"))
            .env_remove("FAKE_FAIL")
            .env_remove("FAKE_CHECK_FAIL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Payloads of every real (non-plan) run so far.
    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("runs.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn run_logs(&self) -> Vec<serde_json::Value> {
        let Ok(entries) = std::fs::read_dir(self.art().join("runs")) else {
            return vec![];
        };
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn statuses(log: &serde_json::Value) -> Vec<(String, String)> {
    log["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn temp_dirs(root: &Path, kind: &str) -> usize {
    std::fs::read_dir(root.join(kind)).map_or(0, |rd| {
        rd.filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".tmp-")
        })
        .count()
    })
}

#[test]
fn failed_run_resumes_from_complete_artifacts() {
    let env = Env::new();
    // First run: b crashes after starting to write.
    let out = env.xtask(&[], &[("FAKE_FAIL", "b")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("step `b` failed"), "{}", stderr(&out));
    assert_eq!(env.runs(), ["a", "b"]);
    assert_eq!(
        temp_dirs(&env.art(), "model"),
        1,
        "the crash left a partial artifact"
    );
    let logs = env.run_logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["status"], "failed");
    assert_eq!(statuses(&logs[0]), pairs(&[("a", "ran"), ("b", "failed")]));

    // Dry run now: a is complete, b would run, c waits for b; nothing runs, no log is written.
    let out = env.xtask(&["--dry-run"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let row = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name} in\n{table}"))
            .to_owned()
    };
    assert!(row("a").contains("skip (dataset/"), "{table}");
    assert!(row("b").contains("would run"), "{table}");
    assert!(
        row("c").contains("pending upstream") && row("c").contains("--model '<b>'"),
        "{table}"
    );
    assert!(row("d").contains("would run"), "{table}");
    assert!(row("b").contains(&format!(
        "fakephase make model b --out {}",
        env.art().display()
    )));
    assert_eq!(env.runs(), ["a", "b"]);
    assert_eq!(env.run_logs().len(), 1);

    // Second run: a is skipped, the rest runs.
    let out = env.xtask(&[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("skip a (dataset/"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.runs(), ["a", "b", "b", "c", "d"]);
    let last_line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        last_line.ends_with(".json") && Path::new(&last_line).exists(),
        "{last_line}"
    );
    let logs = env.run_logs();
    assert_eq!(logs.len(), 2);
    let log = logs.iter().find(|l| l["status"] == "ok").unwrap();
    assert_eq!(
        statuses(log),
        pairs(&[("a", "skipped"), ("b", "ran"), ("c", "ran"), ("d", "ran")])
    );
    // c received b's artifact directory through --model.
    let c_path = log["steps"][2]["path"].as_str().unwrap();
    let b_path = log["steps"][1]["path"].as_str().unwrap();
    let c_data = std::fs::read_to_string(Path::new(c_path).join("data.txt")).unwrap();
    assert_eq!(c_data.trim(), format!("c {b_path}"));

    // Third run: everything is complete.
    let out = env.xtask(&[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.runs().len(), 5);
}

#[test]
fn phase_filter_runs_missing_upstream_only() {
    let env = Env::new();
    let out = env.xtask(&["p1"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.runs(), ["a", "b"]);
    let out = env.xtask(&["p2"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.runs(), ["a", "b", "c"]);
    let out = env.xtask(&["nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`nope` is neither a phase nor a step"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn failed_check_stops_with_exit_code_one() {
    let env = Env::new();
    let out = env.xtask(&[], &[("FAKE_CHECK_FAIL", "a")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(env.runs(), ["a"]);
    let logs = env.run_logs();
    assert_eq!(logs[0]["status"], "check_failed");
    assert_eq!(statuses(&logs[0]), pairs(&[("a", "check_failed")]));
}
