//! `phase2_compression report`: stage artifacts (made here with the artifact store, with the
//! metrics the phase-2 verbs record) become one table — size on disk from the manifests,
//! perplexity, agreement and ECE where a stage measured them — in JSON and Markdown.

use std::process::Command;

use cogumi_artifact::{Begin, Producer, Store};
use serde_json::{Value, json};

fn stage(
    store: &Store,
    kind: &str,
    verb: &str,
    bytes: usize,
    metrics: Value,
) -> std::path::PathBuf {
    let Begin::New(mut w) = store
        .begin(
            kind,
            Producer::new("phase2_compression", "0.1.0", verb),
            vec![],
            json!({ "verb": verb }),
        )
        .unwrap()
    else {
        panic!("fresh store");
    };
    w.write("data.bin", &vec![7u8; bytes]).unwrap();
    for (k, v) in metrics.as_object().unwrap() {
        w.set_metric(k, v.clone());
    }
    w.commit().unwrap().dir().to_path_buf()
}

#[test]
fn report_tabulates_the_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(tmp.path().join("a"));
    let prune = stage(
        &store,
        "model",
        "prune",
        3_000_000,
        json!({"perplexity_after": 5.07, "agreement": 0.802}),
    );
    let gguf = stage(
        &store,
        "gguf",
        "gguf",
        1_000_000,
        json!({"bytes": 1_000_000}),
    );
    let cal = stage(
        &store,
        "calibration",
        "calibrate",
        10,
        json!({"sequence_ece_after": 0.042}),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_phase2_compression"))
        .args(["-q", "report", "--title", "t", "--stage"])
        .arg(&prune)
        .arg("--stage")
        .arg(&gguf)
        .arg("--stage")
        .arg(&cal)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let s = r["stages"].as_array().unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0]["stage"], "prune");
    assert!(
        s[0]["bytes"].as_u64().unwrap() >= 3_000_000,
        "files counted from the manifest"
    );
    assert_eq!(s[0]["perplexity"], 5.07);
    assert_eq!(s[0]["agreement"], 0.802);
    assert_eq!(s[1]["perplexity"], Value::Null);
    assert_eq!(s[2]["ece"], 0.042);
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| prune | 3.0 MB | 5.07 | 80.2 % | — |"),
        "{md}"
    );
    assert!(
        std::fs::read_to_string(dir.join("sizes.svg"))
            .unwrap()
            .contains("<rect")
    );
}
