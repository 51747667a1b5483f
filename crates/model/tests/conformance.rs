//! Whole-model conformance against transformers 4.57.1: tiny random Llama checkpoints in several
//! configurations (GQA, MQA, llama3 RoPE scaling, explicit head_dim, bf16, sharded, 5.x config)
//! made by `fixtures/gen/tiny_llama.py`. Logits must match to max |Δ| ≤ 1e-4 (f32) and greedy
//! continuations must be identical.

use std::path::{Path, PathBuf};

use cogumi_model::{
    DType, FinishReason, GenerateConfig, LoadOptions, SamplingConfig, TokenBatch, generate, load,
};
use cogumi_testkit::{FixtureTensor, assert_close, fixture, read_tensor};

const CONFIGS: &[&str] = &[
    "gqa",
    "mqa",
    "llama3_rope",
    "head_dim",
    "bf16",
    "sharded",
    "v5_config",
    "v5_config_llama3",
];
const ATOL: f64 = 1e-4;

fn dir(name: &str) -> PathBuf {
    fixture(&format!("tiny_llama/{name}"))
}

fn expected(name: &str, tensor: &str) -> FixtureTensor {
    read_tensor(&dir(name).join("expected.safetensors"), tensor)
}

fn f32_opts() -> LoadOptions {
    LoadOptions::default()
}

#[test]
fn single_sequence_logits_match_transformers() {
    for name in CONFIGS {
        let model = load(&dir(name), &f32_opts()).unwrap();
        let ids = expected(name, "single_ids").u32();
        let want = expected(name, "single_logits").f32();
        let got = model
            .forward_host(&TokenBatch::single(&ids).unwrap(), None)
            .unwrap();
        assert_close(&got.data, &want, ATOL, &format!("{name}: single logits"));
    }
}

#[test]
fn final_hidden_states_match_transformers() {
    for name in CONFIGS {
        let model = load(&dir(name), &f32_opts()).unwrap();
        let ids = expected(name, "single_ids").u32();
        let want = expected(name, "hidden_last").f32();
        let h = model
            .forward_hidden(&TokenBatch::single(&ids).unwrap(), None)
            .unwrap();
        let got = h.into_data().try_to_vec::<f32>().unwrap();
        assert_close(&got, &want, ATOL, &format!("{name}: final hidden"));
    }
}

#[test]
fn left_padded_batch_matches_transformers_on_real_tokens() {
    for name in CONFIGS {
        let model = load(&dir(name), &f32_opts()).unwrap();
        let ids = expected(name, "input_ids").u32();
        let mask: Vec<bool> = expected(name, "attention_mask")
            .values
            .iter()
            .map(|&m| m != 0.0)
            .collect();
        let want = expected(name, "logits").f32();
        let batch = TokenBatch::new(ids, mask.clone(), 2, 12).unwrap();
        let got = model.forward_host(&batch, None).unwrap();
        let v = got.vocab;
        for (pos, valid) in mask.iter().enumerate() {
            if *valid {
                let (b, t) = (pos / 12, pos % 12);
                assert_close(
                    got.row(b, t),
                    &want[pos * v..(pos + 1) * v],
                    ATOL,
                    &format!("{name}: batch row {b} position {t}"),
                );
            }
        }
    }
}

#[test]
fn greedy_continuations_are_identical() {
    for name in CONFIGS {
        let model = load(&dir(name), &f32_opts()).unwrap();
        let prompt = expected(name, "greedy_prompt").u32();
        let want = expected(name, "greedy_ids").u32();
        let config = GenerateConfig {
            max_new_tokens: want.len() - prompt.len(),
            sampling: SamplingConfig::default(),
            eos_ids: vec![],
        };
        let out = generate(&model, &prompt, &config, &mut |_| {
            cogumi_model::Control::Continue
        })
        .unwrap();
        assert_eq!(out.finish, FinishReason::Length);
        assert_eq!(
            out.tokens,
            want[prompt.len()..],
            "{name}: greedy continuation"
        );
    }
}

#[test]
fn incremental_decoding_equals_full_forward() {
    for name in ["gqa", "mqa", "llama3_rope"] {
        let model = load(&dir(name), &f32_opts()).unwrap();
        let ids = expected(name, "single_ids").u32();
        let full = model
            .forward_host(&TokenBatch::single(&ids).unwrap(), None)
            .unwrap();
        let mut cache = model.new_cache();
        let first = model
            .forward_host(&TokenBatch::single(&ids[..7]).unwrap(), Some(&mut cache))
            .unwrap();
        for t in 0..7 {
            assert_close(
                first.row(0, t),
                full.row(0, t),
                ATOL,
                &format!("{name}: prefill {t}"),
            );
        }
        for t in 7..ids.len() {
            let step = model
                .forward_host(
                    &TokenBatch::single(&ids[t..t + 1]).unwrap(),
                    Some(&mut cache),
                )
                .unwrap();
            assert_close(
                step.row(0, 0),
                full.row(0, t),
                ATOL,
                &format!("{name}: step {t}"),
            );
        }
        assert_eq!(cache.len(), ids.len());
    }
}

#[test]
fn incremental_decoding_of_a_left_padded_batch_equals_full_forward() {
    let model = load(&dir("gqa"), &f32_opts()).unwrap();
    let rows = vec![
        (3..15).collect::<Vec<u32>>(),
        (40..49).collect::<Vec<u32>>(),
    ];
    let full = model
        .forward_host(&TokenBatch::left_padded(&rows, 0).unwrap(), None)
        .unwrap();
    // Prefill the first 8 columns, then feed the last 4 one column at a time.
    let padded = TokenBatch::left_padded(&rows, 0).unwrap();
    let (ids, valid) = (padded.ids(), padded.valid());
    let take = |cols: std::ops::Range<usize>| {
        let mut i = Vec::new();
        let mut v = Vec::new();
        for r in 0..2 {
            i.extend_from_slice(&ids[r * 12 + cols.start..r * 12 + cols.end]);
            v.extend_from_slice(&valid[r * 12 + cols.start..r * 12 + cols.end]);
        }
        TokenBatch::new(i, v, 2, cols.len()).unwrap()
    };
    let mut cache = model.new_cache();
    model.forward_host(&take(0..8), Some(&mut cache)).unwrap();
    for col in 8..12 {
        let step = model
            .forward_host(&take(col..col + 1), Some(&mut cache))
            .unwrap();
        for r in 0..2 {
            assert_close(
                step.row(r, 0),
                full.row(r, col),
                ATOL,
                &format!("row {r} column {col}"),
            );
        }
    }
}

#[test]
fn cache_truncation_rolls_back_exactly() {
    let model = load(&dir("gqa"), &f32_opts()).unwrap();
    let ids: Vec<u32> = (5..17).collect();
    let mut cache = model.new_cache();
    model
        .forward_host(&TokenBatch::single(&ids[..8]).unwrap(), Some(&mut cache))
        .unwrap();
    let a = model
        .forward_host(&TokenBatch::single(&ids[8..10]).unwrap(), Some(&mut cache))
        .unwrap();
    cache.truncate(8);
    let b = model
        .forward_host(&TokenBatch::single(&ids[8..10]).unwrap(), Some(&mut cache))
        .unwrap();
    assert_eq!(a.data, b.data);
}

#[test]
fn save_round_trips_bit_exactly_and_keeps_hf_names() {
    for name in ["gqa", "mqa"] {
        let model = load(&dir(name), &f32_opts()).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        cogumi_model::save(&model, tmp.path()).unwrap();
        // Every tensor written equals the original checkpoint's, under the same name.
        let orig = std::fs::read(dir(name).join("model.safetensors")).unwrap();
        let orig = safetensors::SafeTensors::deserialize(&orig).unwrap();
        let saved = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
        let saved = safetensors::SafeTensors::deserialize(&saved).unwrap();
        let mut a = orig.names();
        let mut b = saved.names();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{name}: tensor names");
        for n in a {
            let (x, y) = (orig.tensor(n).unwrap(), saved.tensor(n).unwrap());
            assert_eq!(x.shape(), y.shape(), "{name}: {n} shape");
            assert_eq!(x.data(), y.data(), "{name}: {n} bytes");
        }
        let again = load(tmp.path(), &f32_opts()).unwrap();
        assert_eq!(again.config(), model.config());
    }
}

#[test]
fn bf16_compute_stays_close_to_f32() {
    let opts = LoadOptions {
        dtype: Some(DType::BF16),
        ..LoadOptions::default()
    };
    let model = load(&dir("bf16"), &opts).unwrap();
    let ids = expected("bf16", "single_ids").u32();
    let want = expected("bf16", "single_logits").f32();
    let got = model
        .forward_host(&TokenBatch::single(&ids).unwrap(), None)
        .unwrap();
    // bf16 activations carry 8 mantissa bits, so logits drift from the f32 reference (which
    // runs the same bf16 weights in f32) by a few tenths; the ranking must still hold.
    cogumi_testkit::assert_close(&got.data, &want, 0.5, "bf16 logits");
    let v = got.vocab;
    let agree = (0..ids.len())
        .filter(|&t| {
            cogumi_model::sampling::argmax(got.row(0, t))
                == cogumi_model::sampling::argmax(&want[t * v..(t + 1) * v])
        })
        .count();
    assert!(
        agree * 10 >= ids.len() * 8,
        "bf16 argmax agrees on only {agree}/{} positions",
        ids.len()
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn shape_mismatch_is_an_error_naming_file_and_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&dir("gqa"), tmp.path());
    let cfg_path = tmp.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["intermediate_size"] = 96.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let err = load(tmp.path(), &f32_opts()).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains("mlp.gate_proj.weight"), "{err}");
    assert!(
        err.contains("[96, 64]") && err.contains("[128, 64]"),
        "{err}"
    );
}

#[test]
fn missing_and_foreign_tensors_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&dir("gqa"), tmp.path());
    let cfg_path = tmp.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["num_hidden_layers"] = 3.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let err = load(tmp.path(), &f32_opts()).unwrap_err().to_string();
    assert!(err.contains("missing tensor `model.layers.2."), "{err}");
    cfg["num_hidden_layers"] = 1.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let err = load(tmp.path(), &f32_opts()).unwrap_err().to_string();
    assert!(err.contains("model.layers.1."), "{err}");
}

#[test]
fn out_of_vocabulary_ids_are_rejected() {
    let model = load(&dir("gqa"), &f32_opts()).unwrap();
    let err = model
        .forward_host(&TokenBatch::single(&[1, 999]).unwrap(), None)
        .unwrap_err();
    assert!(err.to_string().contains("999"), "{err}");
}
