//! `phase0_dataset split`: stratified by domain (every domain split at the rounded ratios),
//! deterministic for a seed, and a partition of the input.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Env, jsonl, manifest};

fn tagged(env: &Env) -> std::path::PathBuf {
    let raw = env.run(&["synth", "--scale", "0.005"]);
    let ds = env.run(&["ingest", "--input", raw.to_str().unwrap()]);
    env.run(&["domains", "--input", ds.to_str().unwrap()])
}

#[test]
fn stratified_deterministic_partition() {
    let env = Env::new();
    let ds = tagged(&env);
    let input = jsonl(&ds.join("data.jsonl"));
    let dir = env.run(&[
        "split",
        "--input",
        ds.to_str().unwrap(),
        "--ratios",
        "0.8,0.1,0.1",
    ]);
    let mut seen = BTreeSet::new();
    let mut per: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for name in ["train", "validation", "test"] {
        for r in jsonl(&dir.join(format!("{name}.jsonl"))) {
            assert!(
                seen.insert(r["id"].as_str().unwrap().to_owned()),
                "row in two splits"
            );
            *per.entry((r["domain"].as_str().unwrap().to_owned(), name))
                .or_default() += 1;
        }
    }
    assert_eq!(seen.len(), input.len());
    // scale 0.005: 50 rows in each big domain, 25 in each small one.
    for (domain, n) in [
        ("code", 50usize),
        ("math", 50),
        ("reading", 25),
        ("common_sense", 25),
    ] {
        let test = (n as f64 * 0.1).round() as usize;
        let val = (n as f64 * 0.1).round() as usize;
        let got = |s| per.get(&(domain.to_owned(), s)).copied().unwrap_or(0);
        assert_eq!(
            (got("train"), got("validation"), got("test")),
            (n - test - val, val, test),
            "{domain}"
        );
    }
    let m = manifest(&dir);
    assert_eq!(m["kind"], "split");
    assert_eq!(m["metrics"]["domains"]["code"]["test"], 5);
    // Same seed, fresh store: identical bytes. Another seed: another assignment.
    let env2 = Env::new();
    let ds2 = tagged(&env2);
    let again = env2.run(&[
        "split",
        "--input",
        ds2.to_str().unwrap(),
        "--ratios",
        "0.8,0.1,0.1",
    ]);
    for f in ["train.jsonl", "validation.jsonl", "test.jsonl"] {
        assert_eq!(
            std::fs::read(dir.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap()
        );
    }
    let other = env.run(&[
        "split",
        "--input",
        ds.to_str().unwrap(),
        "--ratios",
        "0.8,0.1,0.1",
        "--seed",
        "3",
    ]);
    assert_ne!(
        std::fs::read(dir.join("test.jsonl")).unwrap(),
        std::fs::read(other.join("test.jsonl")).unwrap()
    );
    let out = env.run_raw(&[
        "split",
        "--input",
        ds.to_str().unwrap(),
        "--ratios",
        "0.8,0.3,0.1",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
