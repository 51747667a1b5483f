//! `phase0_dataset dedup` run as a user runs it: on a plain JSONL file (kept lines copied
//! unchanged, one `removed.jsonl` row per removed row pointing at a kept row), on a dataset
//! artifact (keep policy = longest response), with the spill path, and across thread counts.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Env, jsonl, manifest};
use serde_json::{Value, json};

/// Deterministic prose-like words (a linear congruential stream; no shared 5-grams between
/// different seeds in practice).
fn words(seed: u64, n: usize) -> Vec<String> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            format!("w{}", (x >> 33) % 20_000)
        })
        .collect()
}

/// Rows: 0 base A; 1 A shouted with punctuation (exact after normalisation); 2 A with one
/// word changed (near, J = 91/101); 3 unrelated B; 4 A with every fifth word changed (no
/// shared 5-gram); 5 B duplicated verbatim.
fn corpus() -> Vec<Value> {
    let a = words(1, 100);
    let b = words(2, 80);
    let mut near = a.clone();
    near[50] = "changed".into();
    let mut far = a.clone();
    for (i, w) in far.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
        *w = format!("x{i}");
    }
    vec![
        json!({"id": "a", "text": a.join(" "), "extra": [1, 2]}),
        json!({"id": "a-loud", "text": format!("{}!!!", a.join("  ").to_uppercase())}),
        json!({"id": "a-near", "text": near.join(" ")}),
        json!({"id": 7, "text": b.join(" ")}),
        json!({"id": "a-far", "text": far.join(" ")}),
        json!({"id": "b-copy", "text": b.join(" ")}),
    ]
}

fn write_jsonl(path: &Path, rows: &[Value]) -> Vec<String> {
    let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
    std::fs::write(path, lines.join("\n") + "\n\n").expect("write input");
    lines
}

#[test]
fn plain_jsonl_keeps_lines_and_reports_removals() {
    let env = Env::new();
    let input = env.dir.path().join("in.jsonl");
    let lines = write_jsonl(&input, &corpus());
    let dir = env.run(&[
        "dedup",
        "--input",
        input.to_str().unwrap(),
        "--text-field",
        "text",
        "--id-field",
        "id",
        "--keep",
        "first",
    ]);
    let m = manifest(&dir);
    assert_eq!(m["kind"], "dedup");
    assert_eq!(m["config"]["bands"], 21);
    assert_eq!(m["config"]["rows"], 6);
    assert_eq!(m["config"]["threshold"], 0.8);
    // Kept lines are byte-identical copies, in input order.
    let kept = std::fs::read_to_string(dir.join("kept.jsonl")).unwrap();
    let want: Vec<&str> = [0, 3, 4].iter().map(|&i| lines[i].as_str()).collect();
    assert_eq!(kept, want.join("\n") + "\n");
    let removed = jsonl(&dir.join("removed.jsonl"));
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert_eq!(
        removed[0],
        json!({"id": "a-loud", "duplicate_of": "a", "jaccard": 1.0, "kind": "exact"})
    );
    assert_eq!(removed[1]["id"], "a-near");
    assert_eq!(removed[1]["duplicate_of"], "a");
    assert_eq!(removed[1]["kind"], "near");
    // One changed word in 100 removes 5 of 96 shingles and adds 5: J = 91/101.
    assert_eq!(removed[1]["jaccard"], 0.901);
    assert_eq!(
        removed[2],
        json!({"id": "b-copy", "duplicate_of": 7, "jaccard": 1.0, "kind": "exact"})
    );
    let clusters = jsonl(&dir.join("clusters.jsonl"));
    assert_eq!(
        clusters,
        vec![
            json!({"cluster": "a", "size": 3, "ids": ["a", "a-loud", "a-near"]}),
            json!({"cluster": 7, "size": 2, "ids": [7, "b-copy"]}),
        ]
    );
    let metrics = &m["metrics"];
    assert_eq!(metrics["rows_in"], 6);
    assert_eq!(metrics["rows"], 3);
    assert_eq!(metrics["exact_removed"], 2);
    assert_eq!(metrics["near_removed"], 1);
    assert_eq!(metrics["cluster_sizes"], json!({"2": 1, "3": 1}));
    assert_eq!(
        metrics["largest_cluster"],
        json!({"first_id": "a", "size": 3})
    );
    // Same input and config: the complete artifact is reused.
    assert_eq!(
        env.run(&[
            "dedup",
            "--input",
            input.to_str().unwrap(),
            "--id-field",
            "id",
            "--keep",
            "first"
        ]),
        dir
    );
}

/// Runs with an explicit rayon thread count and optional extra flags; returns the files.
fn run_with(threads: &str, extra: &[&str], input: &Path) -> (String, String, Value) {
    let env = Env::new();
    let out = Command::new(env!("CARGO_BIN_EXE_phase0_dataset"))
        .args(["dedup", "--input"])
        .arg(input)
        .args(["--id-field", "id", "-q", "--out"])
        .arg(env.out())
        .args(extra)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let dir = Path::new(&dir);
    (
        std::fs::read_to_string(dir.join("kept.jsonl")).unwrap(),
        std::fs::read_to_string(dir.join("removed.jsonl")).unwrap(),
        manifest(dir)["metrics"].clone(),
    )
}

#[test]
fn threads_and_spilling_do_not_change_the_output() {
    let env = Env::new();
    let input = env.dir.path().join("in.jsonl");
    let mut rows = corpus();
    for i in 0..300 {
        rows.push(json!({"id": format!("r{i}"), "text": words(100 + i % 150, 60).join(" ")}));
    }
    write_jsonl(&input, &rows);
    let one = run_with("1", &[], &input);
    let two = run_with("2", &[], &input);
    let spill = run_with("2", &["--max-memory", "0"], &input);
    assert_eq!(one, two);
    assert_eq!((&one.0, &one.1), (&spill.0, &spill.1));
    assert_eq!(spill.2["spilled"], true);
    assert_eq!(one.2["spilled"], false);
    // The 150 texts repeated twice are 150 exact removals.
    assert_eq!(one.2["exact_removed"], 152);
}

#[test]
fn dataset_artifact_keeps_longest_response() {
    let env = Env::new();
    let input = env.dir.path().join("alpaca.jsonl");
    let q = words(5, 100).join(" ");
    let rows = [
        json!({"instruction": q, "input": "", "output": "short answer here"}),
        json!({"instruction": q.to_uppercase(), "input": "", "output": "Short answer, here!"}),
        json!({"instruction": format!("{q} and"), "input": "", "output": "short answer here with many more words"}),
        json!({"instruction": words(6, 100).join(" "), "input": "", "output": "another answer entirely"}),
    ];
    write_jsonl(&input, &rows);
    let ds = env.run(&["ingest", "--file", input.to_str().unwrap()]);
    let data = jsonl(&ds.join("data.jsonl"));
    assert_eq!(data.len(), 4);
    let dir = env.run(&["dedup", "--input", ds.to_str().unwrap()]);
    let m = manifest(&dir);
    assert_eq!(m["kind"], "dataset");
    assert_eq!(m["inputs"][0]["id"], manifest(&ds)["id"]);
    let kept = jsonl(&dir.join("data.jsonl"));
    // Rows 0 and 1 are exact duplicates; row 2 (longest response) is near both and kept.
    assert_eq!(kept, vec![data[2].clone(), data[3].clone()]);
    let removed = jsonl(&dir.join("removed.jsonl"));
    let got: Vec<(&Value, &Value, &str)> = removed
        .iter()
        .map(|r| (&r["id"], &r["duplicate_of"], r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (&data[0]["id"], &data[2]["id"], "near"),
            (&data[1]["id"], &data[2]["id"], "near")
        ]
    );
    assert_eq!(removed[0]["jaccard"], removed[1]["jaccard"]);
}

#[test]
fn bad_input_is_an_error_naming_the_line() {
    let env = Env::new();
    let input = env.dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"text\": \"fine\"}\n{\"body\": \"no text\"}\n").unwrap();
    let out = env.run_raw(&["dedup", "--input", input.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("`text`"), "{err}");
    let out = env.run_raw(&["dedup", "--input", "missing.jsonl"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.run_raw(&[
        "dedup",
        "--input",
        input.to_str().unwrap(),
        "--bands",
        "30",
        "--rows",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("num_perm"));
}
