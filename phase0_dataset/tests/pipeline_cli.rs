//! The demo's phase 0 chain on the `synth-demo.toml` preset: synth → ingest → lang → dedup →
//! domains → stats → split. `lang` removes exactly the planted non-English rows, `dedup`
//! exactly the planted near-duplicates, and what is left has the configured distribution.

mod common;

use common::{Env, demo_config, jsonl, manifest};

#[test]
fn demo_chain_removes_exactly_what_was_planted() {
    let env = Env::new();
    let cfg = demo_config();
    let cfg = cfg.to_str().unwrap();
    let step = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--config", cfg]);
        env.run(&a)
    };
    let raw = step(&["synth"]);
    let ds = step(&["ingest", "--input", raw.to_str().unwrap()]);
    let lang = step(&["lang", "--input", ds.to_str().unwrap()]);
    let dedup = step(&["dedup", "--input", lang.to_str().unwrap()]);
    let dom = step(&["domains", "--input", dedup.to_str().unwrap()]);
    let stats = step(&["stats", "--input", dom.to_str().unwrap()]);
    let split = step(&["split", "--input", dom.to_str().unwrap()]);

    let rejected = jsonl(&lang.join("rejected.jsonl"));
    assert_eq!(rejected.len(), 12);
    assert!(
        rejected
            .iter()
            .all(|r| r["example"]["meta"]["planted"] == "non_english")
    );
    let kept = jsonl(&dom.join("data.jsonl"));
    assert_eq!(kept.len(), 1200);
    // Of every planted near-duplicate pair exactly one row survives (dedup keeps the longest
    // response, then the earliest row, so it may be either).
    let orig_ids: std::collections::BTreeSet<&str> = kept
        .iter()
        .map(|r| r["meta"]["orig_id"].as_str().unwrap())
        .collect();
    let before = jsonl(&lang.join("data.jsonl"));
    let planted: Vec<&serde_json::Value> = before
        .iter()
        .filter(|r| r["meta"]["planted"] == "near_dup")
        .collect();
    assert_eq!(planted.len(), 24);
    for p in planted {
        let copy = orig_ids.contains(p["meta"]["orig_id"].as_str().unwrap());
        let original = orig_ids.contains(p["meta"]["near_dup_of"].as_str().unwrap());
        assert!(copy ^ original, "{}", p["meta"]);
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stats.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["by_domain"]["code"], 200);
    assert_eq!(report["by_domain"]["summarisation"], 100);
    assert_eq!(report["by_difficulty"]["easy"], 480);
    assert_eq!(report["dedup_rate"], 0.0196);
    let steps: Vec<&str> = report["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["synth", "ingest", "lang", "dedup", "domains"]);
    assert_eq!(manifest(&split)["metrics"]["rows"], 1200);
}
