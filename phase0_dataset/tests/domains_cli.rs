//! `phase0_dataset domains`: the first firing rule is stored per row; source categories
//! (Dolly, MetaMathQA) and structure (code, multi-turn) decide where they exist; synthetic rows
//! keep their given domain with rule `synth:given`.

mod common;

use common::{Env, fx, jsonl, manifest};

#[test]
fn rules_are_stored_per_row() {
    let env = Env::new();
    let ds = env.run(&[
        "ingest",
        "--file",
        &fx("dolly.jsonl"),
        "--file",
        &fx("code_alpaca.jsonl"),
        "--file",
        &fx("metamath.jsonl.zst"),
        "--file",
        &fx("sharegpt.jsonl"),
    ]);
    let dir = env.run(&["domains", "--input", ds.to_str().unwrap()]);
    let rows = jsonl(&dir.join("data.jsonl"));
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["domain"].as_str().unwrap(),
                r["domain_rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("summarisation", "summarisation:dolly_category"),
            ("creative", "creative:dolly_category"),
            ("reading", "reading:dolly_category"),
            ("code", "code:syntax"),
            ("code", "code:syntax"),
            ("code", "code:syntax"),
            ("math", "math:metamath_type"),
            ("math", "math:metamath_type"),
            ("conversation", "conversation:multi_turn"),
            ("general", "general:fallback"),
        ]
    );
    let m = manifest(&dir);
    assert_eq!(m["metrics"]["domains"]["code"], 3);
    assert_eq!(m["metrics"]["rules"]["code:syntax"], 3);
    assert!(m["config"]["rules"].as_array().unwrap().len() > 10);
}

#[test]
fn synthetic_domains_are_kept_and_compared_with_the_rules() {
    let env = Env::new();
    let raw = env.run(&["synth", "--scale", "0.002"]);
    let ds = env.run(&["ingest", "--input", raw.to_str().unwrap()]);
    let dir = env.run(&["domains", "--input", ds.to_str().unwrap()]);
    let rows = jsonl(&dir.join("data.jsonl"));
    assert!(rows.iter().all(|r| r["domain_rule"] == "synth:given"));
    let m = manifest(&dir);
    assert_eq!(
        m["metrics"]["rows_with_given_domain"].as_u64().unwrap() as usize,
        rows.len()
    );
    // The rules alone agree with most synthetic tags (a sanity check of the rule table).
    assert!(
        m["metrics"]["rule_agreement_with_given"].as_f64().unwrap() > 0.85,
        "{}",
        m["metrics"]
    );
    let retag = env.run(&["domains", "--input", ds.to_str().unwrap(), "--retag"]);
    assert!(
        jsonl(&retag.join("data.jsonl"))
            .iter()
            .all(|r| r["domain_rule"] != "synth:given")
    );
}
