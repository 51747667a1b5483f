//! Crash safety: a writer process killed with SIGKILL at any point leaves nothing that opens as
//! a complete artifact, and a fresh writer then completes. The test re-executes its own binary
//! as the writer (`child_writer`), which touches a marker file when it reaches the kill point.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cogumi_artifact::{Artifact, Begin, MANIFEST_FILE, Producer, Store};
use serde_json::json;

const KIND: &str = "weights";
const ROOT_ENV: &str = "COGUMI_CRASH_ROOT";
const POINT_ENV: &str = "COGUMI_CRASH_POINT";
const MARKER_ENV: &str = "COGUMI_CRASH_MARKER";
/// Size of the large file; big enough that it is written in several chunks.
const BIG: usize = 3 << 20;
const CHUNK: usize = 256 << 10;

fn producer() -> Producer {
    Producer::new("crash_test", "0.0.1", "write")
}

fn config() -> serde_json::Value {
    json!({"layers": 2, "dtype": "f32"})
}

fn chunk(i: usize) -> Vec<u8> {
    (0..CHUNK).map(|j| ((i * 7 + j) % 253) as u8).collect()
}

/// Signals the parent that the kill point is reached, then waits to be killed.
fn reached(marker: &Path) {
    std::fs::write(marker, b"reached").unwrap();
    std::thread::sleep(Duration::from_secs(60));
    panic!("child was not killed within 60 s");
}

/// The writer: two files (one large, written in chunks), a metric, commit. With a kill point
/// it stops there and waits for SIGKILL.
fn write_artifact(store: &Store, point: Option<&str>, marker: Option<&Path>) -> Artifact {
    let Begin::New(mut w) = store.begin(KIND, producer(), vec![], config()).unwrap() else {
        panic!("artifact unexpectedly complete before writing");
    };
    w.write("config.json", b"{\"layers\": 2}\n").unwrap();
    let mut big = w.create("tensors/model.bin").unwrap();
    for i in 0..BIG / CHUNK {
        big.write_all(&chunk(i)).unwrap();
        if i == BIG / CHUNK / 2 && point == Some("mid-file") {
            big.sync_all().unwrap();
            reached(marker.unwrap());
        }
    }
    drop(big);
    if point == Some("files-written") {
        reached(marker.unwrap());
    }
    w.set_metric("params", BIG / 4);
    // The commit-time kill points are armed through COGUMI_ARTIFACT_FAILPOINT in our env.
    w.commit().unwrap()
}

fn assert_complete(a: &Artifact) {
    let reopened = Artifact::open(a.dir()).unwrap();
    let sizes: Vec<_> = reopened.manifest().files.iter().map(|f| f.bytes).collect();
    assert_eq!(sizes, [14, BIG as u64]);
    assert_eq!(reopened.metric("params"), Some(&json!(BIG / 4)));
}

/// Child entry point. Run directly by `cargo test`, it writes a complete artifact, which shows
/// the writer works when it is not killed.
#[test]
fn child_writer() {
    match std::env::var_os(ROOT_ENV) {
        Some(root) => {
            let point = std::env::var(POINT_ENV).unwrap();
            let marker = PathBuf::from(std::env::var_os(MARKER_ENV).unwrap());
            write_artifact(&Store::new(root), Some(&point), Some(&marker));
        }
        None => {
            let root = tempfile::tempdir().unwrap();
            assert_complete(&write_artifact(&Store::new(root.path()), None, None));
        }
    }
}

/// Temporary directories currently in `<root>/<kind>/`.
fn temp_dirs(root: &Path) -> Vec<PathBuf> {
    let kind_dir = root.join(KIND);
    let Ok(entries) = std::fs::read_dir(&kind_dir) else {
        return vec![];
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-"))
        .collect()
}

fn crash_at(point: &str) {
    let root = tempfile::tempdir().unwrap();
    let marker = root.path().join("marker");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
        .env(ROOT_ENV, root.path())
        .env(POINT_ENV, point)
        .env(MARKER_ENV, &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if point.starts_with("commit:") {
        cmd.env("COGUMI_ARTIFACT_FAILPOINT", point)
            .env("COGUMI_ARTIFACT_FAILPOINT_MARKER", &marker);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("writer exited with {status} before reaching {point}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "writer never reached {point}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL on unix: no destructors, no cleanup.
    child.wait().unwrap();

    let store = Store::new(root.path());
    let id = Store::compute_id(KIND, &producer(), &[], &config());
    // The killed writer really left partial state behind...
    let tmps = temp_dirs(root.path());
    assert_eq!(tmps.len(), 1, "{tmps:?}");
    let child_tag = format!(".tmp-{}-", child.id());
    assert!(tmps[0].to_string_lossy().contains(&child_tag), "{tmps:?}");
    let has_manifest = tmps[0].join(MANIFEST_FILE).exists();
    assert_eq!(has_manifest, point == "commit:after-manifest", "{point}");
    // ...but none of it counts as complete.
    assert!(store.find(KIND, &id).unwrap().is_none(), "{point}");
    assert!(!store.is_complete(KIND, &id).unwrap());
    assert!(
        !store
            .plan(KIND, &producer(), &[], &config())
            .unwrap()
            .complete
    );
    assert!(!store.artifact_dir(KIND, &id).exists());

    // A fresh writer starts over (cleaning the dead writer's directory) and completes.
    let a = write_artifact(&store, None, None);
    assert_eq!(a.id(), id);
    assert_complete(&a);
    assert!(
        temp_dirs(root.path()).is_empty(),
        "stale temporary directory not cleaned"
    );
    assert!(store.find(KIND, &id).unwrap().is_some());
    match store.begin(KIND, producer(), vec![], config()).unwrap() {
        Begin::Exists(e) => assert_eq!(e.id(), id),
        Begin::New(_) => panic!("completed artifact not reused"),
    }
}

#[test]
fn killed_mid_file_write() {
    crash_at("mid-file");
}

#[test]
fn killed_after_files_before_commit() {
    crash_at("files-written");
}

#[test]
fn killed_after_hashing_before_manifest() {
    crash_at("commit:before-manifest");
}

#[test]
fn killed_after_manifest_before_rename() {
    crash_at("commit:after-manifest");
}
