//! `phase2_compression recover` on the embedded SmolLM2 model, as its own reference (so the
//! "before" figures are known exactly: agreement 1, the reference perplexity), on the demo
//! curriculum rows in `fixtures/phase2/heldout.jsonl`: the recovered model is a loadable
//! `model` artifact, and training on the hardest rows changed it.

use std::process::Command;

use serde_json::Value;

#[test]
fn recover_trains_on_the_hardest_rows_and_reports() {
    let model = cogumi_testkit::smollm2_model_dir();
    let data = cogumi_testkit::fixture("phase2/heldout.jsonl");
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_phase2_compression"))
        .args([
            "-q",
            "recover",
            "--candidates",
            "8",
            "--hardest",
            "4",
            "--heldout",
            "4",
        ])
        .args(["--max-len", "256", "--lr", "1e-3", "--model"])
        .arg(&model)
        .arg("--reference")
        .arg(&model)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::path::PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let x = |k: &str| m["metrics"][k].as_f64().unwrap();
    assert_eq!(m["kind"], "model");
    assert_eq!(x("agreement_before"), 1.0, "the model agrees with itself");
    assert_eq!(x("perplexity_before"), x("perplexity_reference"));
    assert_eq!(
        x("perplexity_regained"),
        0.0,
        "nothing was lost, so nothing is regained"
    );
    assert_eq!(x("hardest_rows"), 4.0);
    assert!(x("train_steps") >= 1.0);
    assert_ne!(
        x("perplexity_after"),
        x("perplexity_before"),
        "training changed the model"
    );
    assert!(dir.join("model.safetensors").exists() && dir.join("tokenizer.json").exists());
}
