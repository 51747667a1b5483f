//! `phase2_compression prune` end to end on the embedded SmolLM2 model: Wanda at 50 % plus
//! structured removal of half the MLP channels gives a smaller standard Llama checkpoint that
//! loads, whose projections are half zeros, whose Q4_K_M GGUF is smaller than the unpruned
//! model's, and whose held-out perplexity is reported before and after.

mod common;

use serde_json::Value;

#[test]
fn wanda_plus_mlp_channels_gives_a_smaller_loadable_model() {
    let model = cogumi_testkit::smollm2_model_dir();
    let data = cogumi_testkit::fixture("phase2/heldout.jsonl");
    let tmp = tempfile::tempdir().unwrap();
    let args = common::with_model_and_data(
        &[
            "prune",
            "--method",
            "wanda",
            "--sparsity",
            "0.5",
            "--mlp-keep",
            "0.5",
            "--calib-rows",
            "4",
            "--calib-len",
            "64",
            "--heldout",
            "4",
        ],
        &model,
        &data,
    );
    let dir = common::run_verb(
        &args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>(),
        tmp.path(),
    );
    let m = common::manifest(&dir);
    let metrics = &m["metrics"];
    assert_eq!(metrics["intermediate_size"], 768);
    let per_tensor = metrics["tensor_sparsity"].as_object().unwrap();
    assert_eq!(per_tensor.len(), 30 * 7, "every projection of every layer");
    assert!(
        per_tensor
            .values()
            .all(|s| (s.as_f64().unwrap() - 0.5).abs() < 1e-6)
    );
    let (p0, p1) = (
        metrics["perplexity_before"].as_f64().unwrap(),
        metrics["perplexity_after"].as_f64().unwrap(),
    );
    assert!(
        p1 > p0 && p1.is_finite(),
        "pruning costs perplexity: {p0} -> {p1}"
    );
    // SmolLM2's Q4_K_M is 105,454,080 bytes (tests/cli_gguf.rs exports it); half the MLP must
    // shrink it by far more than a few tensors' worth.
    assert!(metrics["gguf_q4_k_m_bytes"].as_u64().unwrap() < 90_000_000);

    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["intermediate_size"], 768);
    let pruned = cogumi_model::load(&dir, &cogumi_model::LoadOptions::default()).unwrap();
    assert_eq!(pruned.config().intermediate_size, 768);
    let w = pruned.proj_weight(3, cogumi_model::Proj::Up).unwrap();
    assert_eq!(w.len(), 768 * 576);
}
