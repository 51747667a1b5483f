//! Runs the real `phase1_training` binary on the embedded SmolLM2 with a handful of rows: train
//! (LoRA) → adapter artifact with per-step metrics and a loss plot; merge → a model artifact whose
//! weights differ from the base exactly by the adapter's update; a malformed input line is
//! quarantined, not fatal; `--plan` does no work. Sizes are tiny so this stays a few seconds.

use std::path::Path;
use std::process::Command;

use cogumi_testkit::smollm2_model_dir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_phase1_training"))
}

const ROWS: &[(&str, &str)] = &[
    ("What is 2 + 3?", "Answer: 5"),
    ("What is 7 + 1?", "Answer: 8"),
    ("Name the capital of France.", "Answer: Paris"),
    ("What colour is the sky on a clear day?", "Answer: blue"),
    ("What is 4 + 4?", "Answer: 8"),
    ("Spell the word cat backwards.", "Answer: tac"),
];

fn write_data(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for (i, (q, a)) in ROWS.iter().enumerate() {
        let row = serde_json::json!({"id": format!("r{i}"), "source": "test", "instruction": q, "output": a});
        text.push_str(&row.to_string());
        text.push('\n');
    }
    text.push_str("{\"id\": \"broken\", \"instruction\": \n");
    let path = dir.join("data.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str], out: &Path) -> String {
    let o = bin()
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{:?} failed:\n{}",
        args,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

#[test]
fn train_then_merge_on_the_embedded_model() {
    let model = smollm2_model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let data = write_data(tmp.path());
    let out = tmp.path().join("artifacts");
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let common = [
        "train",
        "--model",
        m,
        "--data",
        d,
        "--method",
        "lora",
        "--rank",
        "4",
        "--max-steps",
        "2",
        "--seq-len",
        "48",
        "--micro-batch",
        "2",
        "--lr",
        "1e-3",
    ];
    // --plan: prints the artifact it would write, does nothing.
    let mut plan_args = common.to_vec();
    plan_args.push("--plan");
    let plan: serde_json::Value = serde_json::from_str(&run(&plan_args, &out)).unwrap();
    assert_eq!(plan["kind"], "adapter");
    assert_eq!(plan["complete"], false);
    assert!(
        !out.join("adapter").exists()
            || std::fs::read_dir(out.join("adapter")).unwrap().count() == 0
    );

    let adapter = std::path::PathBuf::from(run(&common, &out));
    assert_eq!(adapter.parent().unwrap().file_name().unwrap(), "adapter");
    assert_eq!(
        adapter.file_name().unwrap().to_str().unwrap(),
        plan["id"].as_str().unwrap()
    );
    for f in [
        "adapter_config.json",
        "adapter_model.safetensors",
        "metrics.jsonl",
        "loss.svg",
        "report.json",
        "manifest.json",
    ] {
        assert!(adapter.join(f).is_file(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(adapter.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "one line per optimiser step");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(adapter.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["data"]["quarantined"], 1,
        "the malformed line is quarantined"
    );
    // Running the same command again reuses the complete artifact.
    assert_eq!(run(&common, &out), adapter.display().to_string());

    let merged = std::path::PathBuf::from(run(
        &[
            "merge",
            "--model",
            m,
            "--adapter",
            adapter.to_str().unwrap(),
        ],
        &out,
    ));
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "manifest.json",
    ] {
        assert!(
            merged.join(f).is_file(),
            "{f} missing from the merged model"
        );
    }
    // The merged q_proj of layer 0 is W + s·BA: it differs from the base (B left zero after
    // two steps of lr 1e-3 would be a bug), by a small update.
    let w = |dir: &Path| {
        cogumi_testkit::read_tensor(
            &dir.join("model.safetensors"),
            "model.layers.0.self_attn.q_proj.weight",
        )
        .f32()
    };
    let (a, b) = (w(&model), w(&merged));
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(diff > 0.0 && diff < 0.1, "merged update magnitude {diff}");
}

#[test]
fn bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["train", "--model"])
        .arg(tmp.path())
        .args(["--data", "/nonexistent.jsonl", "-q"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("neither manifest.json nor config.json"),
        "{err}"
    );
}
