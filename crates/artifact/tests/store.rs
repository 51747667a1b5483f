//! Store behaviour through the public API: reuse by id, tamper detection, manifest round trip,
//! force mode, concurrent commits and cleanup of abandoned writers.

use std::path::Path;

use cogumi_artifact::{
    Artifact, Begin, Error, InputRef, MANIFEST_FILE, Manifest, Producer, SCHEMA_VERSION, Store,
    Verify, input_refs,
};
use serde_json::json;

fn producer() -> Producer {
    Producer {
        crate_name: "test_phase".into(),
        version: "1.2.3".into(),
        git_sha: Some("deadbeef".into()),
        subcommand: "make".into(),
    }
}

fn new_writer(store: &Store, config: serde_json::Value) -> cogumi_artifact::ArtifactWriter {
    match store.begin("dataset", producer(), vec![], config).unwrap() {
        Begin::New(w) => w,
        Begin::Exists(a) => panic!("unexpected existing artifact {}", a.dir().display()),
    }
}

/// Writes and commits a small two-file artifact.
fn make(store: &Store, config: serde_json::Value) -> Artifact {
    let mut w = new_writer(store, config);
    w.write("data.jsonl", b"{\"a\":1}\n{\"a\":2}\n").unwrap();
    w.write("sub/dir/extra.bin", &[0u8, 1, 2, 3, 255]).unwrap();
    w.set_metric("rows", 2);
    w.commit().unwrap()
}

#[test]
fn manifest_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let a = make(
        &store,
        json!({"rows": 2, "nested": {"b": 1, "a": [1.5, "x"]}}),
    );
    assert_eq!(a.dir(), store.artifact_dir("dataset", a.id()));

    let on_disk = Manifest::read(&a.path(MANIFEST_FILE)).unwrap();
    assert_eq!(&on_disk, a.manifest());
    let m = &on_disk;
    assert_eq!(m.schema_version, SCHEMA_VERSION);
    assert_eq!((m.kind.as_str(), m.id.len()), ("dataset", 16));
    assert_eq!(m.producer, producer());
    assert_eq!(
        m.config,
        json!({"rows": 2, "nested": {"b": 1, "a": [1.5, "x"]}})
    );
    assert_eq!(m.metrics["rows"], json!(2));
    // Files sorted by path, with hand-computed sha256 of the known contents.
    let paths: Vec<_> = m.files.iter().map(|f| (f.path.as_str(), f.bytes)).collect();
    assert_eq!(paths, [("data.jsonl", 16), ("sub/dir/extra.bin", 5)]);
    // Expected hashes computed with Python's hashlib.
    assert_eq!(
        m.files[0].sha256,
        "e91bd3062f38c3f1df2165d987872b022fb39a08c642a6fbc3b862dd2a2aaf24"
    );
    assert_eq!(
        m.files[1].sha256,
        "ff5d8507b6a72bee2debce2c0054798deaccdc5d8a1b945b6280ce8aa9cba52e"
    );
    // RFC 3339 UTC timestamp.
    assert!(
        m.created_at.ends_with('Z') && m.created_at.contains('T'),
        "{}",
        m.created_at
    );
    // Re-opening verifies and yields the same manifest.
    let reopened = Artifact::open(a.dir()).unwrap();
    assert_eq!(reopened.manifest(), a.manifest());
    assert_eq!(
        reopened.as_input(),
        InputRef {
            kind: "dataset".into(),
            id: a.id().into()
        }
    );
    assert_eq!(input_refs([&reopened, &a]).len(), 2);
    assert_eq!(
        reopened.file("data.jsonl").unwrap(),
        a.dir().join("data.jsonl")
    );
    assert!(matches!(
        reopened.file("nope"),
        Err(Error::MissingFile { .. })
    ));
}

#[test]
fn same_step_reuses_complete_artifact() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let first = make(&store, json!({"rows": 2}));
    // Same kind, inputs, config and producer version: reused, even with another git sha.
    let mut p = producer();
    p.git_sha = None;
    match store
        .begin("dataset", p, vec![], json!({"rows": 2}))
        .unwrap()
    {
        Begin::Exists(a) => {
            assert_eq!(a.id(), first.id());
            assert_eq!(a.manifest(), first.manifest());
        }
        Begin::New(_) => panic!("complete artifact was not reused"),
    }
    // Another config is another artifact.
    let other = make(&store, json!({"rows": 3}));
    assert_ne!(other.id(), first.id());
    assert!(store.find("dataset", first.id()).unwrap().is_some());
    assert_eq!(
        Store::compute_id("dataset", &producer(), &[], &json!({"rows": 2})),
        first.id()
    );
    let plan = store
        .plan("dataset", &producer(), &[], &json!({"rows": 2}))
        .unwrap();
    assert!(plan.complete);
    assert_eq!(plan.path, std::path::absolute(first.dir()).unwrap());
    let plan = store
        .plan("dataset", &producer(), &[], &json!({"rows": 9}))
        .unwrap();
    assert!(!plan.complete);
}

#[test]
fn tampered_byte_fails_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let a = make(&store, json!({}));
    let file = a.path("sub/dir/extra.bin");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[2] ^= 1;
    std::fs::write(&file, &bytes).unwrap();

    let err = Artifact::open(a.dir()).unwrap_err();
    assert!(
        matches!(&err, Error::HashMismatch { file, .. } if file == "sub/dir/extra.bin"),
        "{err}"
    );
    assert!(err.to_string().contains("sub/dir/extra.bin"), "{err}");
    // Same size, so the cheap check still passes; the full check in find/begin does not.
    Artifact::open_with(a.dir(), Verify::Sizes).unwrap();
    assert!(store.find("dataset", a.id()).is_err());
    assert!(
        store
            .begin("dataset", producer(), vec![], json!({}))
            .is_err()
    );

    // Truncation and deletion are caught by size / presence.
    std::fs::write(&file, b"x").unwrap();
    let err = Artifact::open_with(a.dir(), Verify::Sizes).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::SizeMismatch {
                expected: 5,
                actual: 1,
                ..
            }
        ),
        "{err}"
    );
    std::fs::remove_file(a.path("data.jsonl")).unwrap();
    let err = Artifact::open(a.dir()).unwrap_err();
    assert!(
        matches!(&err, Error::MissingFile { file, .. } if file == "data.jsonl"),
        "{err}"
    );
}

#[test]
fn force_replaces_existing_artifact() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let first = make(&store, json!({"k": 1}));
    let forced = store.clone().force(true);
    let Begin::New(mut w) = forced
        .begin("dataset", producer(), vec![], json!({"k": 1}))
        .unwrap()
    else {
        panic!("force must return a writer");
    };
    assert_eq!(w.id(), first.id());
    assert!(
        !forced
            .plan("dataset", &producer(), &[], &json!({"k": 1}))
            .unwrap()
            .complete
    );
    w.write("only.txt", b"new").unwrap();
    w.set_metric("generation", 2);
    let second = w.commit().unwrap();
    assert_eq!(second.dir(), first.dir());
    let reopened = store.find("dataset", first.id()).unwrap().unwrap();
    assert_eq!(reopened.manifest().files.len(), 1);
    assert_eq!(reopened.metric("generation"), Some(&json!(2)));
    // No leftovers next to the artifact.
    let kind_dir = root.path().join("dataset");
    let names: Vec<_> = std::fs::read_dir(&kind_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [first.id().to_owned()]);
}

#[test]
fn concurrent_writer_of_same_id_keeps_the_first_commit() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let w1 = new_writer(&store, json!({"same": true}));
    let w2 = new_writer(&store, json!({"same": true}));
    assert_eq!(w1.id(), w2.id());
    assert_ne!(w1.dir(), w2.dir());
    w1.write("f", b"first").unwrap();
    w2.write("f", b"second").unwrap();
    let tmp2 = w2.dir().to_owned();
    let a1 = w1.commit().unwrap();
    let a2 = w2.commit().unwrap();
    assert_eq!(a1.dir(), a2.dir());
    assert_eq!(std::fs::read(a2.path("f")).unwrap(), b"first");
    assert!(
        !tmp2.exists(),
        "losing writer's temporary directory was left behind"
    );
}

#[test]
fn dropped_writer_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let w = new_writer(&store, json!({}));
    w.write("f", b"abc").unwrap();
    let (tmp, id) = (w.dir().to_owned(), w.id().to_owned());
    assert!(tmp.exists());
    drop(w);
    assert!(!tmp.exists());
    assert!(store.find("dataset", &id).unwrap().is_none());
}

#[test]
fn add_input_changes_the_id() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let base = make(&store, json!({"base": 1}));
    let mut w = new_writer(&store, json!({"derived": 1}));
    let before = w.id().to_owned();
    w.add_input(base.as_input());
    assert_ne!(w.id(), before);
    assert_eq!(
        w.id(),
        Store::compute_id(
            "dataset",
            &producer(),
            &[base.as_input()],
            &json!({"derived": 1})
        )
    );
    w.write("f", b"x").unwrap();
    let a = w.commit().unwrap();
    assert_eq!(a.manifest().inputs, vec![base.as_input()]);
    assert_eq!(a.dir(), store.artifact_dir("dataset", a.id()));
}

#[test]
fn rejects_reserved_and_unsafe_entries() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let w = new_writer(&store, json!({}));
    assert!(w.write("../escape", b"x").is_err());
    assert!(w.write("/abs", b"x").is_err());
    assert!(w.write(MANIFEST_FILE, b"x").is_err());
    std::fs::write(w.path(MANIFEST_FILE), b"{}").unwrap();
    let err = w.commit().unwrap_err();
    assert!(
        matches!(&err, Error::BadEntry { file, .. } if file == MANIFEST_FILE),
        "{err}"
    );

    let w = new_writer(&store, json!({}));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/hostname", w.path("link")).unwrap();
        let err = w.commit().unwrap_err();
        assert!(
            matches!(&err, Error::BadEntry { file, .. } if file == "link"),
            "{err}"
        );
    }
    assert!(store.begin("../x", producer(), vec![], json!({})).is_err());
    assert!(store.find("dataset", "not-an-id").is_err());
}

#[test]
fn kind_and_schema_checks() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let a = make(&store, json!({}));
    Artifact::open_expect(a.dir(), "dataset").unwrap();
    let err = Artifact::open_expect(a.dir(), "model").unwrap_err();
    assert!(matches!(err, Error::KindMismatch { .. }), "{err}");
    assert!(a.expect_kind("model").is_err());

    // A manifest from a future schema is refused with a version error.
    let path = a.path(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"schema_version\": 1", "\"schema_version\": 2"),
    )
    .unwrap();
    let err = Artifact::open(a.dir()).unwrap_err();
    assert!(
        matches!(err, Error::SchemaVersion { found: 2, .. }),
        "{err}"
    );

    // A directory without a manifest is not an artifact.
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(
        Artifact::open(&empty),
        Err(Error::NoManifest { .. })
    ));
    assert!(!Path::new(&empty).join(MANIFEST_FILE).exists());
}

#[test]
fn unserialisable_metric_fails_commit() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::new(root.path());
    let mut w = new_writer(&store, json!({}));
    let mut bad = std::collections::HashMap::new();
    bad.insert((1, 2), 3); // Tuple keys cannot be JSON object keys.
    w.set_metric("bad", bad);
    let err = w.commit().unwrap_err();
    assert!(err.to_string().contains("metric bad"), "{err}");
}
