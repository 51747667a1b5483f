//! `phase0_dataset lang` on the mixed-language fixture: the French, German and Spanish rows go to
//! `rejected.jsonl` with their language in the reason, English rows are kept with a score, and
//! the too-short row is kept as `und`.

mod common;

use common::{Env, fx, jsonl, manifest};

#[test]
fn non_english_rows_are_rejected_with_reasons() {
    let env = Env::new();
    let ds = env.run(&["ingest", "--file", &fx("mixed_lang.jsonl")]);
    let dir = env.run(&["lang", "--input", ds.to_str().unwrap()]);
    let m = manifest(&dir);
    assert_eq!(m["inputs"][0]["id"], manifest(&ds)["id"]);
    let kept = jsonl(&dir.join("data.jsonl"));
    let rejected = jsonl(&dir.join("rejected.jsonl"));
    let mut reasons: Vec<String> = rejected
        .iter()
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    for (reason, lang) in reasons.iter().zip(["deu", "fra", "spa"]) {
        assert!(
            reason.starts_with(&format!("non-english: {lang} (")),
            "{reason}"
        );
    }
    for r in &rejected {
        assert_eq!(r["example"]["lang"], r["reason"].as_str().unwrap()[13..16]);
    }
    let langs: Vec<&str> = kept.iter().map(|r| r["lang"].as_str().unwrap()).collect();
    assert_eq!(langs, ["eng", "eng", "und"]);
    assert!(kept[0]["lang_score"].as_f64().unwrap() >= 0.5);
    assert!(kept[2].get("lang_score").is_none());
    let metrics = &m["metrics"];
    assert_eq!(metrics["rows_in"], 6);
    assert_eq!(metrics["rows"], 3);
    assert_eq!(metrics["rows_rejected"], 3);
    assert_eq!(metrics["rows_short_undetermined"], 1);
    // 2 English rows of 6; of the 5 rows long enough to judge, 2 are English.
    assert_eq!(metrics["english_share"], 0.3333);
    assert_eq!(metrics["english_share_of_judged"], 0.4);
}

#[test]
fn threshold_and_short_rows_are_configurable() {
    let env = Env::new();
    let ds = env.run(&["ingest", "--file", &fx("mixed_lang.jsonl")]);
    let dir = env.run(&[
        "lang",
        "--input",
        ds.to_str().unwrap(),
        "--reject-short",
        "--keep",
        "eng,fra",
    ]);
    let kept = jsonl(&dir.join("data.jsonl"));
    let langs: Vec<&str> = kept.iter().map(|r| r["lang"].as_str().unwrap()).collect();
    assert_eq!(langs, ["eng", "fra", "eng"]);
    let rejected = jsonl(&dir.join("rejected.jsonl"));
    assert!(
        rejected
            .iter()
            .any(|r| r["reason"].as_str().unwrap().starts_with("too-short:"))
    );
    // A wrong input kind is refused before any work.
    let raw = env.run(&["synth", "--counts", "coding=2,math=0,tool_use=0,reasoning=0,reading=0,summarisation=0,common_sense=0,instruction_following=0"]);
    let out = env.run_raw(&["lang", "--input", raw.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("raw"));
}
