//! `phase2_compression gguf` end to end on the embedded SmolLM2 model artifact: a `gguf`
//! artifact whose manifest records the export, reused on a second run; `--out FILE.gguf`
//! writes a plain file with the same bytes; bad input is a clear error (exit 2).

use std::path::Path;
use std::process::Command;

use cogumi_gguf::GgufFile;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_phase2_compression"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "exit {:?}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn gguf_artifact_and_plain_file_agree_and_are_reused() {
    let model = cogumi_testkit::smollm2_model_dir();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("artifacts");
    let args = |out: &Path| {
        let mut c = bin();
        c.args(["-q", "gguf", "--type", "Q8_0", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(out);
        c
    };
    let first = run_ok(&mut args(&store));
    let dir = Path::new(first.trim());
    assert!(dir.starts_with(&store), "artifact under --out: {first}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["kind"], "gguf");
    assert_eq!(manifest["metrics"]["file_type"], "Q8_0");
    assert_eq!(manifest["inputs"][0]["kind"], "model");
    // 8.5 bits per Q8_0 weight plus the F32 norms: between 8.5 and 9 bits per parameter.
    let bpw = manifest["metrics"]["bits_per_weight"].as_f64().unwrap();
    assert!((8.5..9.0).contains(&bpw), "bits per weight {bpw}");

    let file = GgufFile::open(&dir.join("model.gguf")).unwrap();
    assert_eq!(file.metadata.u64("general.file_type").unwrap(), 7);
    let keys: Vec<&str> = file.metadata.iter().map(|(k, _)| k).collect();
    assert_eq!(
        &keys[keys.len() - 2..],
        ["general.quantization_version", "general.file_type"],
        "llama-quantize moves these two keys last"
    );
    assert_eq!(
        file.tensors[0].name, "output_norm.weight",
        "llama-quantize's sorted order"
    );

    // Same id on a second run: the complete artifact is reused, not rebuilt.
    let second = run_ok(&mut args(&store));
    assert_eq!(first, second);

    // A plain file: the same bytes as the artifact's (general.quantized_by names the source
    // artifact in both).
    let plain = tmp.path().join("m.gguf");
    let printed = run_ok(&mut args(&plain));
    assert_eq!(printed.trim(), plain.to_str().unwrap());
    assert_eq!(
        std::fs::read(&plain).unwrap(),
        std::fs::read(dir.join("model.gguf")).unwrap()
    );
}

#[test]
fn bad_type_and_bad_model_dir_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["gguf", "--type", "Q3_K_XL", "--model"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Q4_K_M") && err.contains("Q3_K_XL"), "{err}");

    let out = bin()
        .args(["gguf", "--type", "F16", "--model"])
        .arg(tmp.path())
        .arg("--out")
        .arg(tmp.path().join("x.gguf"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("neither manifest.json nor config.json"),
        "{err}"
    );
    assert!(!tmp.path().join("x.gguf").exists());
}
