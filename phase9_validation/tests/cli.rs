//! Runs the real `phase9_validation` binary on the tiny transformers-made checkpoint
//! (`fixtures/tiny_llama/gqa`, from `fixtures/gen/tiny_llama.py`) and checks its outputs against
//! what transformers 4.57.1 computed for the same inputs.

use std::process::Command;

use cogumi_testkit::{assert_close, fixture, read_tensor};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_phase9_validation"))
}

fn expected(name: &str) -> cogumi_testkit::FixtureTensor {
    read_tensor(&fixture("tiny_llama/gqa/expected.safetensors"), name)
}

fn ids_arg(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

#[test]
fn logits_file_matches_transformers() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("logits.safetensors");
    let ids = expected("single_ids").u32();
    let status = bin()
        .args(["logits", "--model"])
        .arg(fixture("tiny_llama/gqa"))
        .args(["--ids", &ids_arg(&ids), "--out"])
        .arg(&out)
        .args(["-q"])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&status.stdout).trim(),
        out.display().to_string()
    );
    let got = read_tensor(&out, "logits");
    assert_eq!(got.shape, vec![ids.len(), 256]);
    assert_close(
        &got.f32(),
        &expected("single_logits").f32(),
        1e-4,
        "logits file",
    );
}

#[test]
fn logits_refuses_a_non_safetensors_out() {
    let out = bin()
        .args(["logits", "--model"])
        .arg(fixture("tiny_llama/gqa"))
        .args(["--ids", "1,2", "--out", "somewhere", "-q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FILE.safetensors"));
}

#[test]
fn greedy_generation_from_ids_matches_transformers_without_a_tokenizer() {
    let prompt = expected("greedy_prompt").u32();
    let want = expected("greedy_ids").u32();
    let out = bin()
        .args(["generate", "--model"])
        .arg(fixture("tiny_llama/gqa"))
        .args([
            "--prompt-ids",
            &ids_arg(&prompt),
            "--greedy",
            "--ignore-eos",
            "--json",
            "-q",
        ])
        .args(["--max-new-tokens", &(want.len() - prompt.len()).to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<u32> = v["generated_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect();
    assert_eq!(got, want[prompt.len()..]);
    assert!(v["text"].is_null(), "no tokenizer, so no text");
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let out = bin()
        .args([
            "generate",
            "--model",
            "/nonexistent/model",
            "--prompt-ids",
            "1",
            "-q",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/model") && err.contains("fetch-model"),
        "{err}"
    );
}
