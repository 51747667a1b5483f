//! `phase0_dataset stats` on a fixture: counts, word and token lengths equal the values in
//! `fixtures/phase0/expected.json` (computed by the Python generator with `str.split` and HF
//! tokenizers on `fixtures/tokenizer/tiny_bpe`), and the funnel reads the upstream manifests.

mod common;

use std::path::Path;

use common::{Env, expected, fx, manifest};
use serde_json::Value;

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn check_lengths(got: &Value, want: &[u64]) {
    let total: u64 = want.iter().sum();
    assert_eq!(got["total"], total);
    assert_eq!(got["max"], *want.iter().max().unwrap());
    let mut sorted = want.to_vec();
    sorted.sort_unstable();
    assert_eq!(got["p50"], sorted[1], "nearest-rank median of 3");
    let bins = got["histogram"].as_array().unwrap();
    for w in want {
        let bin = bins
            .iter()
            .find(|b| b["lo"].as_u64().unwrap() <= *w && b["hi"].as_u64().is_none_or(|h| *w < h))
            .unwrap();
        assert!(bin["count"].as_u64().unwrap() >= 1);
    }
    assert_eq!(
        bins.iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>(),
        want.len() as u64
    );
}

#[test]
fn counts_and_word_lengths_match_the_fixture() {
    let exp = expected();
    let lengths = &exp["alpaca_gpt4_lengths"];
    let words = |k: &str| -> Vec<u64> {
        lengths[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    let env = Env::new();
    let ds = env.run(&[
        "ingest",
        "--file",
        &fx("alpaca_gpt4.jsonl"),
        "--file",
        &fx("dolly.jsonl"),
    ]);
    let dom = env.run(&["domains", "--input", ds.to_str().unwrap()]);
    let dir = env.run(&["stats", "--input", dom.to_str().unwrap()]);
    let r = report(&dir);
    assert_eq!(r["rows"], 6);
    assert_eq!(r["by_source"]["alpaca_gpt4"], 3);
    assert_eq!(r["by_source"]["dolly"], 3);
    assert_eq!(r["by_domain"]["general"], 3);
    assert_eq!(r["by_domain"]["summarisation"], 1);
    assert_eq!(r["by_difficulty"]["unknown"], 6);
    assert_eq!(r["by_lang"]["unknown"], 6);
    assert_eq!(r["quarantined"], 2);
    assert_eq!(r["length_unit"], "whitespace words");
    // Funnel: ingest (6 rows) then domains (6 rows, none removed).
    let steps: Vec<&str> = r["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ingest", "domains"]);
    assert_eq!(r["funnel"][1]["removed"], 0);
    // Lengths over the Alpaca rows alone.
    let alpaca = env.run(&["ingest", "--file", &fx("alpaca_gpt4.jsonl")]);
    let r = report(&env.run(&["stats", "--input", alpaca.to_str().unwrap()]));
    check_lengths(&r["prompt_length"], &words("prompt_words"));
    check_lengths(&r["response_length"], &words("response_words"));
    for f in [
        "report.md",
        "report.html",
        "plots/domain.svg",
        "plots/prompt_length.svg",
    ] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 6);
    assert!(
        std::fs::read_to_string(dir.join("report.md"))
            .unwrap()
            .contains("| alpaca_gpt4 | 3 |")
    );
}

#[test]
fn token_lengths_with_the_project_tokenizer() {
    let exp = expected();
    let lengths = &exp["alpaca_gpt4_lengths"];
    let toks = |k: &str| -> Vec<u64> {
        lengths[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect()
    };
    let env = Env::new();
    let tok = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tokenizer/tiny_bpe");
    let ds = env.run(&["ingest", "--file", &fx("alpaca_gpt4.jsonl")]);
    let dir = env.run(&[
        "stats",
        "--input",
        ds.to_str().unwrap(),
        "--tokenizer",
        tok.to_str().unwrap(),
    ]);
    let r = report(&dir);
    assert!(r["length_unit"].as_str().unwrap().starts_with("tokens"));
    check_lengths(&r["prompt_length"], &toks("prompt_tokens"));
    check_lengths(&r["response_length"], &toks("response_tokens"));
    // The tokenizer is part of the id: words and tokens reports are different artifacts.
    let words = env.run(&["stats", "--input", ds.to_str().unwrap()]);
    assert_ne!(words, dir);
    assert!(manifest(&dir)["config"]["tokenizer_sha256"].is_string());
}
