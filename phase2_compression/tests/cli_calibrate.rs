//! `phase2_compression calibrate` on the embedded SmolLM2 model and 24 held-out rows of the
//! demo curriculum (`fixtures/phase2/heldout.jsonl`, copied from a phase 0 split's
//! validation.jsonl): the artifact holds the fitted parameters, ECE before and after at both
//! levels and the reliability bins, consistent with each other.

mod common;

use serde_json::Value;

#[test]
fn calibrate_writes_parameters_ece_and_reliability() {
    let model = cogumi_testkit::smollm2_model_dir();
    let data = cogumi_testkit::fixture("phase2/heldout.jsonl");
    let tmp = tempfile::tempdir().unwrap();
    let args = common::with_model_and_data(
        &["calibrate", "--examples", "24", "--max-tokens", "256"],
        &model,
        &data,
    );
    let dir = common::run_verb(
        &args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>(),
        tmp.path(),
    );
    let cal: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("calibration.json")).unwrap())
            .unwrap();
    let t = cal["token"]["temperature"].as_f64().unwrap();
    assert!(t > 0.2 && t < 5.0, "temperature {t}");
    // The fitted temperature can only lower the NLL of the positions it was fitted on; on the
    // measured half it stays within a few percent of the untempered NLL.
    let (nb, na) = (
        cal["token"]["nll_before"].as_f64().unwrap(),
        cal["token"]["nll_after"].as_f64().unwrap(),
    );
    assert!(na < nb * 1.05, "nll {nb} -> {na}");
    for level in ["token", "sequence"] {
        for k in ["ece_before", "ece_after"] {
            let e = cal[level][k].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&e), "{level} {k} = {e}");
        }
    }
    let bins = cal["reliability"]["token_after"].as_array().unwrap();
    assert_eq!(bins.len(), 15);
    let counted: u64 = bins.iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(
        counted,
        cal["token"]["positions_measured"].as_u64().unwrap()
    );
    let p = &cal["sequence"]["platt"];
    assert!(p["a"].as_f64().unwrap().is_finite() && p["b"].as_f64().unwrap().is_finite());
    let svg = std::fs::read_to_string(dir.join("reliability_token.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<rect"));
}
