//! `phase0_dataset ingest` on the committed fixtures: every schema is detected, bad rows are
//! quarantined with file, line and reason (expectations in `fixtures/phase0/expected.json`,
//! checked by hand), ids are stable, and missing files or broken compression are errors.

mod common;

use common::{Env, expected, fx, jsonl, manifest};
use serde_json::Value;

#[test]
fn each_schema_is_detected_and_bad_rows_quarantined() {
    let exp = expected();
    let files = exp["files"].as_object().unwrap();
    for (name, want) in files {
        let env = Env::new();
        let dir = env.run(&["ingest", "--file", &fx(name)]);
        let m = manifest(&dir);
        assert_eq!(m["kind"], "dataset");
        let f = &m["metrics"]["files"][0];
        assert_eq!(f["format"], want["format"], "{name}");
        assert_eq!(m["metrics"]["rows"], want["rows"], "{name}");
        let rows = jsonl(&dir.join("data.jsonl"));
        assert_eq!(rows.len() as u64, want["rows"].as_u64().unwrap(), "{name}");
        let q = jsonl(&dir.join("quarantine.jsonl"));
        let want_q = want["quarantined"].as_array().unwrap();
        assert_eq!(q.len(), want_q.len(), "{name}: {q:?}");
        for (got, w) in q.iter().zip(want_q) {
            assert!(
                got["file"].as_str().unwrap().ends_with(name.as_str()),
                "{got}"
            );
            assert_eq!(got["line"], w["line"], "{name}: {got}");
            assert_eq!(got["kind"], w["kind"], "{name}: {got}");
            assert!(!got["reason"].as_str().unwrap().is_empty());
            assert!(!got["raw"].as_str().unwrap().is_empty(), "{got}");
        }
        assert_eq!(
            m["metrics"]["rows_quarantined"].as_u64().unwrap() as usize,
            want_q.len()
        );
        // Every kept row has an id, its source (the file stem) and text.
        for r in &rows {
            let stem = name.split('.').next().unwrap();
            assert_eq!(r["source"], stem);
            assert!(r["id"].as_str().unwrap().starts_with(&format!("{stem}-")));
            assert!(
                r.get("messages").is_some() || r.get("output").is_some(),
                "{r}"
            );
        }
    }
}

#[test]
fn compressed_files_are_read_and_mislabelled_compression_is_an_error() {
    let env = Env::new();
    let dir = env.run(&[
        "ingest",
        "--file",
        &fx("hh.jsonl.gz"),
        "--file",
        &fx("metamath.jsonl.zst"),
    ]);
    let files = &manifest(&dir)["metrics"]["files"];
    assert_eq!(files[0]["compression"], "gzip");
    assert_eq!(files[1]["compression"], "zstd");
    let rows = jsonl(&dir.join("data.jsonl"));
    // HH: chosen transcript → messages, rejected kept in meta.
    let hh = &rows[1];
    assert_eq!(hh["messages"].as_array().unwrap().len(), 4);
    assert_eq!(
        hh["messages"][3]["content"],
        "You could call it Archimedes."
    );
    assert!(
        hh["meta"]["rejected"]
            .as_str()
            .unwrap()
            .contains("Assistant: No.")
    );
    // A plain file named .gz is refused, as is a truncated gzip stream.
    let fake = env.dir.path().join("fake.jsonl.gz");
    std::fs::write(&fake, "{\"instruction\": \"a\", \"output\": \"b\"}\n").unwrap();
    let out = env.run_raw(&["ingest", "--file", fake.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fake.jsonl.gz"));
    let gz = std::fs::read(common::fixtures().join("hh.jsonl.gz")).unwrap();
    let cut = env.dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let out = env.run_raw(&["ingest", "--file", cut.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let env = Env::new();
    let out = env.run_raw(&["ingest", "--file", "no/such/file.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/file.jsonl"), "{err}");
    assert!(
        !env.out().join("dataset").exists()
            || std::fs::read_dir(env.out().join("dataset"))
                .unwrap()
                .count()
                == 0
    );
}

#[test]
fn normalised_fields_per_schema() {
    let env = Env::new();
    let dir = env.run(&[
        "ingest",
        "--file",
        &fx("dolly.jsonl"),
        "--file",
        &fx("openorca.json"),
        "--file",
        &fx("sharegpt.jsonl"),
    ]);
    let rows = jsonl(&dir.join("data.jsonl"));
    // Dolly: context → input, category kept.
    assert_eq!(
        rows[0]["input"].as_str().unwrap().split_whitespace().next(),
        Some("The")
    );
    assert_eq!(rows[0]["meta"]["category"], "summarization");
    // OpenOrca: system prompt only when non-empty; original id kept.
    assert_eq!(rows[3]["messages"][0]["role"], "system");
    assert_eq!(rows[3]["meta"]["orig_id"], "niv.242684");
    assert_eq!(rows[4]["messages"][0]["role"], "user");
    // ShareGPT: human/gpt mapped; the trailing human turn of sg-2 dropped and recorded.
    assert_eq!(rows[6]["messages"][1]["role"], "user");
    assert_eq!(rows[6]["messages"][2]["role"], "assistant");
    let sg2 = &rows[7];
    assert_eq!(sg2["messages"].as_array().unwrap().len(), 2);
    assert_eq!(sg2["meta"]["dropped_trailing_turns"], 1);
}

#[test]
fn field_map_for_other_schemas() {
    let env = Env::new();
    let dir = env.run(&[
        "ingest",
        "--file",
        &fx("prompt_completion.jsonl"),
        "--map",
        "instruction=prompt,output=completion",
    ]);
    let m = manifest(&dir);
    assert_eq!(m["metrics"]["files"][0]["format"], "mapped");
    let rows = jsonl(&dir.join("data.jsonl"));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["instruction"],
        "Name the largest planet in the solar system."
    );
    assert_eq!(rows[0]["output"], "Jupiter is the largest planet.");
    assert_eq!(rows[0]["meta"]["score"], 0.9);
    let q = jsonl(&dir.join("quarantine.jsonl"));
    assert_eq!(q[0]["line"], 3);
    assert_eq!(q[0]["reason"], "missing field `completion`");
    // Without a map the schema cannot be detected: an error that says what to do.
    let out = env.run_raw(&["ingest", "--file", &fx("prompt_completion.jsonl")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--map"));
}

#[test]
fn ids_are_stable_and_reruns_reuse_the_artifact() {
    let a = Env::new();
    let b = Env::new();
    let da = a.run(&["ingest", "--file", &fx("alpaca_gpt4.jsonl")]);
    let db = b.run(&["ingest", "--file", &fx("alpaca_gpt4.jsonl")]);
    assert_eq!(
        da.file_name(),
        db.file_name(),
        "artifact id depends only on content and options"
    );
    assert_eq!(
        std::fs::read(da.join("data.jsonl")).unwrap(),
        std::fs::read(db.join("data.jsonl")).unwrap()
    );
    let ids: Vec<Value> = jsonl(&da.join("data.jsonl"))
        .into_iter()
        .map(|r| r["id"].clone())
        .collect();
    let unique: std::collections::HashSet<String> = ids.iter().map(|v| v.to_string()).collect();
    assert_eq!(unique.len(), ids.len());
    // Same command again: same path, nothing rewritten.
    let again = a.run(&["ingest", "--file", &fx("alpaca_gpt4.jsonl")]);
    assert_eq!(again, da);
    // Different format options → different artifact.
    let other = a.run(&[
        "ingest",
        "--file",
        &fx("alpaca_gpt4.jsonl"),
        "--source",
        "alpaca",
    ]);
    assert_ne!(other, da);
    assert!(
        jsonl(&other.join("data.jsonl"))
            .iter()
            .all(|r| r["source"] == "alpaca")
    );
}

#[test]
fn plan_prints_the_artifact_and_does_no_work() {
    let env = Env::new();
    let out = env.run_raw(&["ingest", "--file", &fx("alpaca_gpt4.jsonl"), "--plan"]);
    assert!(out.status.success());
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan json");
    assert_eq!(plan["kind"], "dataset");
    assert_eq!(plan["complete"], false);
    assert!(!std::path::Path::new(plan["path"].as_str().unwrap()).exists());
    let dir = env.run(&["ingest", "--file", &fx("alpaca_gpt4.jsonl")]);
    assert_eq!(
        dir.file_name().unwrap().to_str().unwrap(),
        plan["id"].as_str().unwrap()
    );
    let out = env.run_raw(&["ingest", "--file", &fx("alpaca_gpt4.jsonl"), "--plan"]);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["complete"], true);
}
