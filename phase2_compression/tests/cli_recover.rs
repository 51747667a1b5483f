//! `phase2_compression recover` on the embedded SmolLM2 model, as its own reference (so the
//! "before" figures are known exactly: agreement 1, the reference perplexity), on the demo
//! curriculum rows in `fixtures/phase2/heldout.jsonl`: the recovered model is a loadable
//! `model` artifact, and training on the hardest rows changed it.

mod common;

#[test]
fn recover_trains_on_the_hardest_rows_and_reports() {
    let model = cogumi_testkit::smollm2_model_dir();
    let data = cogumi_testkit::fixture("phase2/heldout.jsonl");
    let tmp = tempfile::tempdir().unwrap();
    let mut args = common::with_model_and_data(
        &[
            "recover",
            "--candidates",
            "8",
            "--hardest",
            "4",
            "--heldout",
            "4",
            "--max-len",
            "256",
            "--lr",
            "1e-3",
        ],
        &model,
        &data,
    );
    args.extend(["--reference".into(), model.as_os_str().into()]);
    let dir = common::run_verb(
        &args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>(),
        tmp.path(),
    );
    let m = common::manifest(&dir);
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
