//! Differential test against bfcl_eval 2026.3.23 itself: `tests/data/bfcl_golden.jsonl.gz` holds
//! real BFCL rows with synthetic outputs (ground truth rendered as calls, plus perturbations) and
//! the verdict bfcl_eval's decoder and `ast_checker` gave each (made by
//! `tests/data/gen_bfcl_golden.py`). Every verdict and error type must agree.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use cogumi_checkers::bfcl::{Entry, Verdict};

#[test]
fn verdicts_match_bfcl_eval() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bfcl_golden.jsonl.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    let (mut cases, mut mismatches) = (0, Vec::new());
    for line in reader.lines() {
        let row: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        let answer = serde_json::json!({ "id": row["id"], "ground_truth": row["ground_truth"] });
        let answer = (!row["ground_truth"].is_null()).then_some(&answer);
        let entry = Entry::from_rows(&row, answer).unwrap_or_else(|e| panic!("{e}"));
        for case in row["cases"].as_array().unwrap() {
            cases += 1;
            let output = case["output"].as_str().unwrap();
            let want = case["error_type"].as_str();
            let verdict = entry.check(output).unwrap_or_else(|e| panic!("{e}"));
            let got = match &verdict {
                Verdict::Pass => None,
                Verdict::Fail(f) => Some(f.error_type),
            };
            if got != want {
                mismatches.push(format!(
                    "{}: {output}\n  bfcl: {want:?}\n  ours: {verdict:?}",
                    entry.id
                ));
            }
        }
    }
    eprintln!("{cases} cases checked against bfcl_eval verdicts");
    assert!(cases > 3000, "only {cases} cases");
    assert!(
        mismatches.is_empty(),
        "{} of {cases} verdicts differ from bfcl_eval:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
