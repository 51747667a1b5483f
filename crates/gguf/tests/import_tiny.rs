//! `import_hf` on the tiny random Llama GGUF (`fixtures/gguf/tiny_llama.gguf`) against what
//! transformers 4.57.1 reconstructs from the same file (`tiny_expected.safetensors`,
//! `tiny_expected_config.json`, both from `fixtures/gen/gguf_import.py`), plus the Llama-3
//! tokenizer path, the dtype options, rope_freqs -> rope_scaling and shape errors.

use std::path::{Path, PathBuf};

use cogumi_gguf::{Dtype, Error, GgmlType, GgufFile, GgufWriter, ImportOptions, import_hf};
use safetensors::SafeTensors;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/gguf")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn import(dtype: Dtype) -> (tempfile::TempDir, cogumi_gguf::ImportReport) {
    let dir = tempfile::tempdir().unwrap();
    let report = import_hf(
        &fixtures().join("tiny_llama.gguf"),
        dir.path(),
        &ImportOptions { dtype },
    )
    .unwrap();
    (dir, report)
}

#[test]
fn tensors_match_transformers_bit_for_bit() {
    let (dir, report) = import(Dtype::F32);
    let expected_bytes = std::fs::read(fixtures().join("tiny_expected.safetensors")).unwrap();
    let expected = SafeTensors::deserialize(&expected_bytes).unwrap();
    let got_bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
    let got = SafeTensors::deserialize(&got_bytes).unwrap();
    let mut want_names: Vec<String> = expected.names().into_iter().map(str::to_string).collect();
    let mut got_names: Vec<String> = got.names().into_iter().map(str::to_string).collect();
    want_names.sort();
    got_names.sort();
    assert_eq!(got_names, want_names);
    for name in &want_names {
        let (e, g) = (expected.tensor(name).unwrap(), got.tensor(name).unwrap());
        assert_eq!(g.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(g.shape(), e.shape(), "{name}");
        let (ev, gv) = (f32s(e.data()), f32s(g.data()));
        let bad = ev
            .iter()
            .zip(&gv)
            .position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(
            bad,
            None,
            "{name}: first differing element (want {:?}, got {:?})",
            bad.map(|i| ev[i]),
            bad.map(|i| gv[i])
        );
    }
    assert_eq!(report.n_tensors, want_names.len());
    assert_eq!(report.source_types["Q6_K"], 1);
    assert_eq!(report.source_types.values().sum::<usize>(), 39);
    assert!(!report.tie_word_embeddings);
}

#[test]
fn config_matches_transformers() {
    let (dir, _) = import(Dtype::F32);
    let ours = read_json(&dir.path().join("config.json"));
    let want = read_json(&fixtures().join("tiny_expected_config.json"));
    for (k, v) in want.as_object().unwrap() {
        // transformers leaves pad_token_id null when the GGUF has none; we omit the key.
        assert_eq!(ours.get(k).unwrap_or(&Value::Null), v, "config field {k}");
    }
    assert_eq!(
        ours["architectures"],
        serde_json::json!(["LlamaForCausalLM"])
    );
    assert_eq!(
        (ours["torch_dtype"].as_str(), ours["dtype"].as_str()),
        (Some("float32"), Some("float32"))
    );
    // eot (2) joins eos (1) in the generation config, as Llama-3 instruct checkpoints list it.
    let gen_cfg = read_json(&dir.path().join("generation_config.json"));
    assert_eq!(
        (
            gen_cfg["bos_token_id"].clone(),
            gen_cfg["eos_token_id"].clone()
        ),
        (serde_json::json!(0), serde_json::json!([1, 2]))
    );
}

#[test]
fn half_dtypes_round_the_f32_weights() {
    let (f32_dir, _) = import(Dtype::F32);
    let (bf_dir, bf) = import(Dtype::BF16);
    let (h_dir, _) = import(Dtype::F16);
    assert_eq!(bf.dtype, Dtype::BF16);
    assert_eq!(
        read_json(&bf_dir.path().join("config.json"))["torch_dtype"],
        "bfloat16"
    );
    let full_bytes = std::fs::read(f32_dir.path().join("model.safetensors")).unwrap();
    let full = SafeTensors::deserialize(&full_bytes).unwrap();
    for (dir, dtype) in [
        (&bf_dir, safetensors::Dtype::BF16),
        (&h_dir, safetensors::Dtype::F16),
    ] {
        let bytes = std::fs::read(dir.path().join("model.safetensors")).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let name = "model.layers.1.self_attn.q_proj.weight";
        let (t, f) = (st.tensor(name).unwrap(), full.tensor(name).unwrap());
        assert_eq!((t.dtype(), t.shape()), (dtype, f.shape()));
        for (h, v) in t.data().chunks_exact(2).zip(f32s(f.data())) {
            let h = u16::from_le_bytes([h[0], h[1]]);
            let want = match dtype {
                safetensors::Dtype::BF16 => half::bf16::from_f32(v).to_bits(),
                _ => half::f16::from_f32(v).to_bits(),
            };
            assert_eq!(h, want);
        }
    }
}

#[test]
fn tokenizer_follows_llama3_pre_tokenizer() {
    let (dir, report) = import(Dtype::F32);
    assert_eq!(report.tokenizer_pre, "llama-bpe");
    let tok = tokenizers::Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
    let pieces = |s: &str| tok.encode(s, true).unwrap().get_tokens().to_vec();
    // add_bos_token is absent: llama.cpp's llama-bpe default adds BOS.
    // Llama-3 splits digits in groups of three: "123" "4". (GPT-2's regex would keep "1234"
    // together and merge "3 4" first, giving "12" "34".)
    assert_eq!(pieces("1234"), ["<|begin_of_text|>", "123", "4"]);
    // ignore_merges: "Ġtoken" is in the vocabulary but no merge builds it.
    assert_eq!(pieces(" token"), ["<|begin_of_text|>", "Ġtoken"]);
    assert_eq!(
        pieces("hello world"),
        ["<|begin_of_text|>", "hello", "Ġworld"]
    );
    // Control and user-defined tokens are matched in raw text.
    assert_eq!(
        pieces("a<tool>b<|eot_id|>"),
        ["<|begin_of_text|>", "a", "<tool>", "b", "<|eot_id|>"]
    );
    let enc = tok.encode("héllo\n\n  world 😀", true).unwrap();
    assert_eq!(
        tok.decode(enc.get_ids(), true).unwrap(),
        "héllo\n\n  world 😀"
    );

    let cfg = read_json(&dir.path().join("tokenizer_config.json"));
    assert_eq!(cfg["bos_token"], "<|begin_of_text|>");
    assert_eq!(cfg["eos_token"], "<|end_of_text|>");
    assert_eq!(cfg["add_bos_token"], true);
    assert_eq!(cfg["model_max_length"], 256);
    assert!(
        cfg["chat_template"]
            .as_str()
            .unwrap()
            .starts_with("{% for m in messages %}")
    );
    assert_eq!(cfg["added_tokens_decoder"]["2"]["special"], true);
    let tool_id = tok.token_to_id("<tool>").unwrap().to_string();
    assert_eq!(
        cfg["added_tokens_decoder"][tool_id.as_str()]["special"],
        false
    );
}

/// Rewrites the tiny file with `edit` applied to its KVs and tensors.
fn rewrite(
    dir: &Path,
    edit: impl Fn(&str, &mut Vec<u64>, &mut Vec<u8>, &mut GgmlType) -> bool,
    extra: &[(&str, Vec<f32>)],
) -> PathBuf {
    let f =
        GgufFile::from_bytes(std::fs::read(fixtures().join("tiny_llama.gguf")).unwrap()).unwrap();
    let mut w = GgufWriter::new();
    for (k, v) in f.metadata.iter() {
        w.add_kv(k, v.clone()).unwrap();
    }
    for t in &f.tensors {
        let (mut ne, mut data, mut ty) = (t.ne.clone(), f.tensor_data(t).to_vec(), t.ty);
        if edit(&t.name, &mut ne, &mut data, &mut ty) {
            w.add_tensor(t.name.clone(), ty, &ne, data).unwrap();
        }
    }
    for (name, values) in extra {
        w.add_tensor(
            *name,
            GgmlType::F32,
            &[values.len() as u64],
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        )
        .unwrap();
    }
    let path = dir.join("edited.gguf");
    w.write_file(&path).unwrap();
    path
}

#[test]
fn rope_freqs_become_llama3_rope_scaling() {
    let tmp = tempfile::tempdir().unwrap();
    // Llama-3.1-style factors for this model's theta (50000) and head_dim (16: wavelengths 6, 24,
    // 94, 364, 1411, 5455, ...); L = 8192 and high_freq_factor 8 put two of them in the smooth band.
    let want = cogumi_gguf::rope::Llama3Scaling {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 8.0,
        original_max_position_embeddings: 8192,
    };
    let factors: Vec<f32> = want
        .factors(50000.0, 16)
        .into_iter()
        .map(|x| x as f32)
        .collect();
    assert!(
        factors.iter().filter(|&&x| x > 1.0 && x < 8.0).count() >= 2,
        "{factors:?}"
    );
    let path = rewrite(
        tmp.path(),
        |_, _, _, _| true,
        &[("rope_freqs.weight", factors)],
    );
    let out = tmp.path().join("hf");
    let report = import_hf(&path, &out, &ImportOptions::default()).unwrap();
    assert_eq!(report.rope_scaling, Some(want.to_json()));
    assert_eq!(
        read_json(&out.join("config.json"))["rope_scaling"]["rope_type"],
        "llama3"
    );
    assert_eq!(report.n_tensors, 39, "rope_freqs is not an HF tensor");
}

#[test]
fn tied_embeddings_when_output_is_absent() {
    let tmp = tempfile::tempdir().unwrap();
    let path = rewrite(tmp.path(), |name, _, _, _| name != "output.weight", &[]);
    let out = tmp.path().join("hf");
    let report = import_hf(&path, &out, &ImportOptions::default()).unwrap();
    assert!(report.tie_word_embeddings);
    assert_eq!(
        read_json(&out.join("config.json"))["tie_word_embeddings"],
        true
    );
    let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
    assert!(
        SafeTensors::deserialize(&bytes)
            .unwrap()
            .tensor("lm_head.weight")
            .is_err()
    );
}

#[test]
fn shape_and_tensor_errors_name_the_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("hf");
    // k_proj with 3 heads' worth of rows instead of 2.
    let path = rewrite(
        tmp.path(),
        |name, ne, data, ty| {
            if name == "blk.1.attn_k.weight" {
                *ne = vec![64, 48];
                *ty = GgmlType::F32;
                *data = vec![0; 64 * 48 * 4];
            }
            true
        },
        &[],
    );
    let err = import_hf(&path, &out, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Shape { expected, actual, .. } if expected == &[32, 64] && actual == &[48, 64]),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("blk.1.attn_k.weight (model.layers.1.self_attn.k_proj.weight)"),
        "{err}"
    );

    let path = rewrite(
        tmp.path(),
        |name, _, _, _| name != "blk.3.ffn_up.weight",
        &[],
    );
    let err = import_hf(&path, &out, &ImportOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "missing tensor blk.3.ffn_up.weight");

    let path = rewrite(
        tmp.path(),
        |_, _, _, _| true,
        &[("blk.0.attn_q.bias", vec![0.0; 64])],
    );
    let err = import_hf(&path, &out, &ImportOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unexpected tensor blk.0.attn_q.bias"),
        "{err}"
    );
}
