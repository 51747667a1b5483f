//! `export_hf` on the real SmolLM2-135M-Instruct HF checkpoint against llama.cpp's own
//! converter (`convert_hf_to_gguf.py` at llama.cpp 0c1e57098) run on the same directory:
//! `fixtures/gguf/smollm2_convert.json`, made by `fixtures/gen/gguf_export.py`, records every
//! key (value, or element digest for arrays) and every tensor (name, type, ne, sha256 of the
//! bytes) of its F16 and BF16 files. Ours must match tensor by tensor and key by key, in order,
//! except the model-card keys that name the directory.

use std::path::PathBuf;

use cogumi_gguf::{Array, ExportOptions, FileType, GgufFile, Value, export_hf};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The same element digest as the fixture script's `digest_array`.
fn digest(a: &Array) -> (String, usize, String) {
    let mut h = Sha256::new();
    let (elem, len) = match a {
        Array::String(v) => {
            for s in v {
                h.update((s.len() as u64).to_le_bytes());
                h.update(s.as_bytes());
            }
            ("STRING", v.len())
        }
        Array::I32(v) => {
            v.iter().for_each(|&x| h.update(i64::from(x).to_le_bytes()));
            ("INT32", v.len())
        }
        Array::U32(v) => {
            v.iter().for_each(|&x| h.update(i64::from(x).to_le_bytes()));
            ("UINT32", v.len())
        }
        Array::F32(v) => {
            v.iter().for_each(|&x| h.update(f64::from(x).to_le_bytes()));
            ("FLOAT32", v.len())
        }
        other => panic!("unexpected array {:?}", other.elem_type()),
    };
    (elem.to_string(), len, format!("{:x}", h.finalize()))
}

fn scalar(v: &Value) -> (&'static str, Json) {
    match v {
        Value::String(s) => ("STRING", Json::from(s.as_str())),
        Value::U32(x) => ("UINT32", Json::from(*x)),
        Value::I32(x) => ("INT32", Json::from(*x)),
        Value::F32(x) => ("FLOAT32", Json::from(f64::from(*x))),
        Value::Bool(b) => ("BOOL", Json::from(*b)),
        other => panic!("unexpected scalar {other}"),
    }
}

fn check(ft: FileType, key: &str) {
    let model = cogumi_testkit::smollm2_model_dir();
    let text = std::fs::read_to_string(root().join("fixtures/gguf/smollm2_convert.json")).unwrap();
    let fixture: Json = serde_json::from_str(&text).unwrap();
    let want = &fixture["files"][key];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.gguf");
    let report = export_hf(&model, &out, &ExportOptions::new(ft), |_, _| {}).unwrap();
    assert_eq!(report.bytes, std::fs::metadata(&out).unwrap().len());
    let file = GgufFile::open(&out).unwrap();

    let ours: Vec<(&str, &Value)> = file.metadata.iter().collect();
    let theirs = want["kvs"].as_array().unwrap();
    let keys = |v: Vec<&str>| v.join(", ");
    assert_eq!(
        keys(ours.iter().map(|(k, _)| *k).collect()),
        keys(theirs.iter().map(|k| k["key"].as_str().unwrap()).collect()),
        "{key}: metadata keys and their order"
    );
    for ((k, v), t) in ours.iter().zip(theirs) {
        if matches!(*k, "general.name" | "general.size_label") {
            continue;
        }
        match v {
            Value::Array(a) => {
                let (elem, len, sha) = digest(a);
                assert_eq!(t["elem"].as_str().unwrap(), elem, "{key}: {k} element type");
                assert_eq!(
                    t["len"].as_u64().unwrap() as usize,
                    len,
                    "{key}: {k} length"
                );
                assert_eq!(t["sha256"].as_str().unwrap(), sha, "{key}: {k} elements");
            }
            v => {
                let (ty, value) = scalar(v);
                assert_eq!(t["type"].as_str().unwrap(), ty, "{key}: {k} type");
                assert_eq!(t["value"], value, "{key}: {k} value");
            }
        }
    }

    let theirs = want["tensors"].as_array().unwrap();
    assert_eq!(file.tensors.len(), theirs.len(), "{key}: tensor count");
    for (i, (ours, t)) in file.tensors.iter().zip(theirs).enumerate() {
        assert_eq!(
            ours.name,
            t["name"].as_str().unwrap(),
            "{key}: tensor #{i} name"
        );
        assert_eq!(
            ours.ty.name(),
            t["type"].as_str().unwrap(),
            "{key}: {} type",
            ours.name
        );
        let ne: Vec<u64> = t["ne"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert_eq!(ours.ne, ne, "{key}: {} ne", ours.name);
        let sha = format!("{:x}", Sha256::digest(file.tensor_data(ours)));
        assert_eq!(
            sha,
            t["sha256"].as_str().unwrap(),
            "{key}: {} bytes",
            ours.name
        );
    }
}

#[test]
fn f16_export_equals_llama_cpp_converter() {
    check(FileType::F16, "f16");
}

#[test]
fn bf16_export_equals_llama_cpp_converter() {
    check(FileType::BF16, "bf16");
}
