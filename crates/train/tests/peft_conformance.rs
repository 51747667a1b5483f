//! LoRA against PEFT 0.21.2 (fixtures/gen/lora_peft.py): forward logits, loss and the gradients
//! of every A and B on a tiny GQA Llama; rsLoRA scaling; merge; and the exported adapter files
//! against the ones PEFT wrote.

use std::path::Path;

use burn::tensor::Tensor;
use cogumi_model::linear::Linear;
use cogumi_model::params::PROJECTIONS;
use cogumi_model::{LoadOptions, TokenBatch};
use cogumi_testkit::{assert_rel_close, fixture, read_tensor};
use cogumi_train::BaseFormat;
use cogumi_train::loss::{Targets, cross_entropy};
use cogumi_train::peft::{
    ADAPTER_CONFIG, ADAPTER_WEIGHTS, export_adapter, load_adapter, merge_adapters,
};

fn base(dir: &str) -> cogumi_model::Llama {
    cogumi_model::load(&fixture(dir), &LoadOptions::default()).expect("tiny base loads")
}

/// The fixture batch: left-padded rows, labels -100 on pads and prompts.
fn batch(expected: &Path) -> (TokenBatch, Targets, Vec<bool>) {
    let ids = read_tensor(expected, "input_ids");
    let mask = read_tensor(expected, "attention_mask");
    let labels = read_tensor(expected, "labels");
    let (b, t) = (ids.shape[0], ids.shape[1]);
    let valid: Vec<bool> = mask.values.iter().map(|&m| m != 0.0).collect();
    let batch = TokenBatch::new(ids.u32(), valid.clone(), b, t).unwrap();
    // HF shifts labels: position t predicts labels[t+1].
    let lab: Vec<bool> = labels.values.iter().map(|&l| l >= 0.0).collect();
    let lab_ids: Vec<u32> = labels.values.iter().map(|&l| l.max(0.0) as u32).collect();
    let targets = Targets::shifted(&lab_ids, &lab, b, t);
    (batch, targets, valid)
}

fn masked_rows(logits: &[f32], valid: &[bool], vocab: usize) -> Vec<f32> {
    logits
        .chunks(vocab)
        .zip(valid)
        .filter(|(_, v)| **v)
        .flat_map(|(r, _)| r.iter().copied())
        .collect()
}

fn check_forward_and_grads(case: &str) {
    let expected = fixture(&format!("train/{case}/expected.safetensors"));
    let model = cogumi_train::for_training(base("train/lora/base"));
    let (model, _) = load_adapter(
        model,
        &fixture(&format!("train/{case}/adapter")),
        BaseFormat::Dense,
    )
    .unwrap();
    let (batch, targets, valid) = batch(&expected);
    let vocab = model.config().vocab_size;
    let logits = model.forward(&batch, None).unwrap();
    let got = logits
        .clone()
        .inner()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let want = read_tensor(&expected, "logits").f32();
    assert_rel_close(
        &masked_rows(&got, &valid, vocab),
        &masked_rows(&want, &valid, vocab),
        1e-4,
        "logits",
    );
    let loss = cross_entropy(logits, &targets);
    let l: f32 = loss.clone().inner().into_scalar();
    let want_loss = read_tensor(&expected, "loss").values[0] as f32;
    assert!(
        (l - want_loss).abs() <= 1e-4 * want_loss.abs(),
        "loss {l} vs PEFT {want_loss}"
    );
    let grads = loss.backward();
    let mut checked = 0;
    for i in 0..model.layers.len() {
        for (group, proj) in PROJECTIONS {
            let Some(Linear::Lora(l)) = model.projection(i, proj) else {
                continue;
            };
            let key = format!("base_model.model.model.layers.{i}.{group}.{proj}");
            for (tag, p) in [("lora_A", &l.lora_a), ("lora_B", &l.lora_b)] {
                let g: Tensor<2> = p.val().grad(&grads).expect("adapter factor has a gradient");
                // Ours is the transpose of PEFT's layout.
                let g = g.transpose().into_data().try_into_vec::<f32>().unwrap();
                let want = read_tensor(&expected, &format!("grad.{key}.{tag}.weight")).f32();
                assert_rel_close(&g, &want, 1e-4, &format!("grad {key}.{tag}"));
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} gradients compared");
}

#[test]
fn lora_logits_loss_and_gradients_match_peft() {
    check_forward_and_grads("lora");
}

#[test]
fn rslora_logits_loss_and_gradients_match_peft() {
    check_forward_and_grads("lora_rslora");
}

#[test]
fn merge_matches_peft_merge_and_unload() {
    let expected = fixture("train/lora/expected.safetensors");
    let (model, _) = load_adapter(
        base("train/lora/base"),
        &fixture("train/lora/adapter"),
        BaseFormat::Dense,
    )
    .unwrap();
    let merged = merge_adapters(model).unwrap();
    for (group, proj) in PROJECTIONS {
        let w = merged
            .projection(0, proj)
            .unwrap()
            .hf_weight()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let want = read_tensor(
            &expected,
            &format!("merged.model.layers.0.{group}.{proj}.weight"),
        )
        .f32();
        assert_rel_close(&w, &want, 1e-5, &format!("merged layer 0 {proj}"));
    }
    let (batch, _, valid) = batch(&expected);
    let vocab = merged.config().vocab_size;
    let got = merged
        .forward(&batch, None)
        .unwrap()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    let want = read_tensor(&expected, "merged_logits").f32();
    assert_rel_close(
        &masked_rows(&got, &valid, vocab),
        &masked_rows(&want, &valid, vocab),
        1e-4,
        "merged logits",
    );
}

#[test]
fn exported_adapter_has_pefts_names_layout_values_and_config_keys() {
    let src = fixture("train/lora/adapter");
    let (model, cfg) = load_adapter(base("train/lora/base"), &src, BaseFormat::Dense).unwrap();
    let out = tempfile::tempdir().unwrap();
    export_adapter(&model, &cfg, "fixtures/train/lora/base", out.path()).unwrap();
    let ours = std::fs::read(out.path().join(ADAPTER_WEIGHTS)).unwrap();
    let theirs = std::fs::read(src.join(ADAPTER_WEIGHTS)).unwrap();
    let ours = safetensors::SafeTensors::deserialize(&ours).unwrap();
    let theirs = safetensors::SafeTensors::deserialize(&theirs).unwrap();
    let mut a = ours.names();
    let mut b = theirs.names();
    a.sort();
    b.sort();
    assert_eq!(a, b, "tensor names");
    for name in b {
        let (x, y) = (ours.tensor(name).unwrap(), theirs.tensor(name).unwrap());
        assert_eq!(x.shape(), y.shape(), "{name}");
        assert_eq!(x.dtype(), y.dtype(), "{name}");
        assert_eq!(
            x.data(),
            y.data(),
            "{name}: values must round-trip bit-exactly"
        );
    }
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p.join(ADAPTER_CONFIG)).unwrap()).unwrap()
    };
    let (ours, theirs) = (read(out.path()), read(&src));
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&ours), keys(&theirs), "adapter_config.json keys");
    for k in [
        "r",
        "lora_alpha",
        "target_modules",
        "use_rslora",
        "peft_type",
        "task_type",
        "lora_dropout",
        "bias",
    ] {
        assert_eq!(ours[k], theirs[k], "adapter_config.json `{k}`");
    }
}
