//! `phase0_dataset synth`: deterministic bytes for a seed, exact counts per domain and
//! difficulty, every reference answer passing its own check, no accidental near-duplicates
//! (all pairs compared with exact Jaccard, independently of the LSH pass in synth), and planted
//! near-duplicates and non-English rows where asked.

mod common;

use std::collections::BTreeMap;

use cogumi_dedup::{Shingling, jaccard, normalize};
use common::{Env, demo_config, jsonl, manifest};
use phase0_dataset::schema::Example;

fn corpus(dir: &std::path::Path) -> Vec<Example> {
    let mut rows = Vec::new();
    for f in ["corpus.jsonl", "corpus_chat.jsonl"] {
        for v in jsonl(&dir.join(f)) {
            rows.push(serde_json::from_value(v).expect("example"));
        }
    }
    rows
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = Env::new();
    let b = Env::new();
    let cfg = demo_config();
    let cfg = cfg.to_str().unwrap();
    let da = a.run(&["synth", "--config", cfg]);
    let db = b.run(&["synth", "--config", cfg]);
    for f in ["corpus.jsonl", "corpus_chat.jsonl"] {
        assert_eq!(
            std::fs::read(da.join(f)).unwrap(),
            std::fs::read(db.join(f)).unwrap(),
            "{f}"
        );
    }
    let dc = a.run(&["synth", "--config", cfg, "--seed", "7"]);
    assert_ne!(dc, da);
    assert_ne!(
        std::fs::read(da.join("corpus.jsonl")).unwrap(),
        std::fs::read(dc.join("corpus.jsonl")).unwrap()
    );
    assert_eq!(manifest(&dc)["config"]["seed"], 7);
}

#[test]
fn distribution_matches_the_config_and_answers_check() {
    let env = Env::new();
    let dir = env.run(&["synth", "--config", demo_config().to_str().unwrap()]);
    let rows = corpus(&dir);
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut near, mut foreign) = (0, 0);
    for r in &rows {
        match r.meta.get("planted").and_then(|v| v.as_str()) {
            Some("near_dup") => near += 1,
            Some("non_english") => foreign += 1,
            _ => {
                let key = (
                    r.domain.unwrap().as_str().to_owned(),
                    r.difficulty.unwrap().as_str().to_owned(),
                );
                *counts.entry(key).or_default() += 1;
            }
        }
        let answer = r
            .answer
            .as_ref()
            .expect("every synthetic row is verifiable");
        assert!(
            answer.verify(&r.response_text()),
            "{}: {}",
            r.id,
            r.response_text()
        );
    }
    // synth-demo.toml: 200 per big domain, 100 per small one, 40 % easy; 2 % / 1 % planted.
    for (domain, n) in [
        ("code", 200),
        ("math", 200),
        ("tool_use", 200),
        ("reasoning", 200),
        ("reading", 100),
        ("summarisation", 100),
        ("common_sense", 100),
        ("instruction_following", 100),
    ] {
        let easy = counts[&(domain.to_owned(), "easy".to_owned())];
        let hard = counts[&(domain.to_owned(), "hard".to_owned())];
        assert_eq!((easy, hard), (n * 2 / 5, n * 3 / 5), "{domain}");
    }
    assert_eq!((near, foreign), (24, 12));
    assert_eq!(rows.len(), 1236);
    let m = manifest(&dir);
    assert_eq!(m["metrics"]["planted_near_dups"], 24);
    assert_eq!(m["metrics"]["planted_non_english"]["fra"], 4);
}

#[test]
fn no_accidental_near_duplicates_and_planted_ones_are_near() {
    let env = Env::new();
    let dir = env.run(&["synth", "--config", demo_config().to_str().unwrap()]);
    let rows = corpus(&dir);
    let sh = Shingling::default();
    let sets: Vec<Vec<u64>> = rows
        .iter()
        .map(|r| sh.shingle_set(&normalize(&r.dedup_text())))
        .collect();
    let by_orig: BTreeMap<&str, usize> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let id = r.id.as_str();
            (!id.contains("neardup")).then_some((id, i))
        })
        .collect();
    let planted: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].meta.get("planted").and_then(|v| v.as_str()) == Some("near_dup"))
        .collect();
    // Every planted row is near its original (J in [0.85, 1)).
    let mut planted_pairs = std::collections::BTreeSet::new();
    for &i in &planted {
        let orig = rows[i].meta["near_dup_of"].as_str().unwrap();
        let j = by_orig[orig];
        let s = jaccard(&sets[i], &sets[j]);
        assert!((0.85..1.0).contains(&s), "{} vs {orig}: {s}", rows[i].id);
        planted_pairs.insert((i.min(j), i.max(j)));
    }
    // All pairs: no other pair reaches the default dedup threshold of 0.8.
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            if planted_pairs.contains(&(i, j)) {
                continue;
            }
            let s = jaccard(&sets[i], &sets[j]);
            assert!(
                s < 0.8,
                "accidental near-duplicates {} / {}: {s}",
                rows[i].id,
                rows[j].id
            );
        }
    }
}

#[test]
fn counts_and_rates_from_flags() {
    let env = Env::new();
    let dir = env.run(&[
        "synth", "--counts", "coding=10,math=10,tool_use=0,reasoning=0,reading=0,summarisation=0,common_sense=0,instruction_following=5",
        "--easy-share", "0.2", "--non-english-rate", "0.2",
    ]);
    let rows = corpus(&dir);
    assert_eq!(rows.len(), 25 + 5);
    let easy = rows
        .iter()
        .filter(|r| r.meta.get("planted").is_none() && r.difficulty.unwrap().as_str() == "easy")
        .count();
    assert_eq!(easy, 2 + 2 + 1);
    let out = env.run_raw(&["synth", "--counts", "poetry=3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("poetry"));
}
